# Root in RAM, the host's Nix store shared read-only over virtiofs with a RAM overlay on top:
# packages built once on the host serve every VM, and nothing the guest writes reaches the host.
{ config, lib, ... }:
let
  cfg = config.nixbox.guest.store;
in
{
  fileSystems = {
    "/" = {
      device = "rootfs";
      fsType = "tmpfs";
      options = [ "mode=0755" ];
    };
    "/nix/.ro-store" = {
      device = cfg.tag;
      fsType = "virtiofs";
      # the tag exists once virtio_pci and virtiofs are loaded (stage 1 loads them explicitly)
      options = [ "ro" "x-systemd.requires=systemd-modules-load.service" ];
      neededForBoot = true;
    };
    "/nix/.rw-store" = lib.mkIf cfg.writable {
      device = "tmpfs";
      fsType = "tmpfs";
      options = [ "mode=0755" ];
      neededForBoot = true;
    };
    "/nix/store" =
      if cfg.writable then {
        overlay = {
          lowerdir = [ "/nix/.ro-store" ];
          upperdir = "/nix/.rw-store/upper";
          workdir = "/nix/.rw-store/work";
        };
      } else {
        device = "/nix/.ro-store";
        options = [ "bind" ];
      };
  };

  boot.initrd.availableKernelModules = [ "virtio_pci" "virtiofs" ];
  boot.initrd.kernelModules = [ "virtio_pci" "virtiofs" ] ++ lib.optional cfg.writable "overlay";

  # The guest's own Nix needs a writable store and a database that knows the image's paths.  The
  # registration travels on the kernel command line (image.nix): a reference from the system
  # itself would be circular.
  nix.enable = lib.mkDefault cfg.writable;
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  boot.postBootCommands = lib.mkIf (config.nix.enable && cfg.writable) ''
    if [[ "$(cat /proc/cmdline)" =~ nixbox.regInfo=([^ ]*) ]]; then
      ${config.nix.package.out}/bin/nix-store --load-db < "''${BASH_REMATCH[1]}"
    fi
  '';
}
