# Kernel, initrd and boot settings for a VM that boots in a few seconds: systemd in stage 1, only
# the virtio drivers the contract needs, no boot loader, a quiet console, and optionally a trimmed
# kernel (nixbox.guest.kernel.slim).
{ config, lib, pkgs, ... }:
let
  cfg = config.nixbox.guest;

  # Built in rather than loaded; forced over nixpkgs' defaults.
  slimConfig = with lib.kernel; lib.mapAttrs (_: lib.mkForce) {
    VIRTIO_PCI = yes;
    VIRTIO_BLK = yes;
    VIRTIO_NET = yes;
    VIRTIO_BALLOON = yes;
    PAGE_REPORTING = yes;
    HW_RANDOM_VIRTIO = yes;
    FUSE_FS = yes;
    VIRTIO_FS = yes;
    OVERLAY_FS = yes;
    HOTPLUG_PCI_PCIE = yes;
    ACPI_BUTTON = yes;
    SERIAL_8250_CONSOLE = yes;
    # never present in a nixbox VM
    DRM = no;
    SOUND = no;
    USB_SUPPORT = no;
    WLAN = no;
    WIRELESS = no;
    CFG80211 = no;
    BT = no;
    NFC = no;
    MEDIA_SUPPORT = no;
    INFINIBAND = no;
    INPUT_JOYSTICK = no;
    INPUT_TABLET = no;
    INPUT_TOUCHSCREEN = no;
  };
in
{
  boot.initrd.systemd.enable = true;
  boot.loader.grub.enable = false;
  boot.initrd.verbose = false;
  boot.consoleLogLevel = 3;

  boot.kernelParams = [
    "console=${cfg.console}"
    "quiet"
    "udev.log_level=3"
    "systemd.show_status=error"
    # one serial port to probe, no PS/2 mouse or keyboard controller games
    "8250.nr_uarts=1"
    "i8042.noaux"
    "i8042.nomux"
    "i8042.nopnp"
  ];

  # virtio_blk reads the credentials disk, virtio_net carries the slot, virtio_balloon gives
  # unused pages back to the host (free page reporting), button + evdev let logind power off on
  # the ACPI power button.  virtiofs (stage 1, store.nix) also serves the shares.
  boot.initrd.availableKernelModules = [ "virtio_blk" ];
  boot.kernelModules = [ "virtio_blk" "virtio_net" "virtio_balloon" "virtio_rng" "button" "evdev" ];

  boot.kernelPackages = lib.mkIf cfg.kernel.slim (pkgs.linuxPackagesFor (pkgs.linux.override {
    structuredExtraConfig = slimConfig;
    ignoreConfigErrors = true;
  }));

  documentation.enable = false;
  # The contract: the guest needs no NTP (KVM's clock) and no firewall of its own (the host's
  # per-slot firewall is the boundary).
  services.timesyncd.enable = false;
  networking.firewall.enable = false;
  systemd.services.mount-pstore.enable = false;
}
