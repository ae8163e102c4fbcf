# The guest side of docs/guest-contract.md: the init and ready lines, the credentials disk (user,
# keys, environment, host name, boot mounts), sshd with the injected host key, DHCP on the first
# NIC, sudo for the user, nix-ld, the project's packages.  The work is done by nixbox-guest
# (./nixbox-guest.sh, also tested on its own: tests/nix/test_nixbox_guest); this module wires it
# into systemd.
{ config, lib, options, pkgs, ... }:
let
  cfg = config.nixbox.guest;

  helper = pkgs.writeShellApplication {
    name = "nixbox-guest";
    runtimeInputs = with pkgs; [
      coreutils
      findutils
      gnugrep
      gnutar
      getent
      iproute2
      shadow
      util-linux
    ];
    text = builtins.readFile ./nixbox-guest.sh;
  };

  # udhcpc runs its script with the event as the only argument.
  dhcpHook = pkgs.writeShellScript "nixbox-dhcp-hook" ''
    exec ${helper}/bin/nixbox-guest dhcp-hook "$@"
  '';
in
{
  # 1. "nixbox-guest: init" from stage 1, as early as systemd starts units: the host's boot
  #    watchdog takes it as proof that the accelerator runs the guest.
  boot.initrd.systemd.services.nixbox-init-line = {
    description = "nixbox: tell the host the guest runs";
    wantedBy = [ "sysinit.target" ];
    before = [ "sysinit.target" ];
    unitConfig.DefaultDependencies = false;
    serviceConfig.Type = "oneshot";
    script = "echo 'nixbox-guest: init' > /dev/console";
  };

  # 3. The credentials disk, read once: user, keys, environment, host name, then the boot mounts.
  systemd.services.nixbox-setup = {
    description = "nixbox: credentials disk, user, keys, environment, boot mounts";
    wantedBy = [ "multi-user.target" ];
    after = [ "local-fs.target" "systemd-modules-load.service" ];
    before = [ "sshd.service" "systemd-user-sessions.service" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${helper}/bin/nixbox-guest setup";
    };
  };

  # 4. sshd: port 22, exactly the host key from the credentials disk, keys only, the one
  #    authorized_keys file for the user and for root.
  services.openssh = {
    enable = true;
    ports = [ 22 ];
    openFirewall = false;
    hostKeys = [ { path = "/run/nixbox/ssh/ssh_host_ed25519_key"; type = "ed25519"; } ];
    authorizedKeysFiles = [ "/run/nixbox/ssh/authorized_keys" ];
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
    };
  };
  # Without the credentials there is no host key: sshd must not start (and invent one).
  systemd.services.sshd = {
    requires = [ "nixbox-setup.service" ];
    after = [ "nixbox-setup.service" ];
  };

  # 2. DHCP on the first NIC (eth0: no udev renaming), with the same small client and hook logic as
  #    the test guest; the hook writes the address, the default route and /etc/resolv.conf.
  networking = {
    hostName = "nixbox"; # replaced at boot by the credentials' hostname
    usePredictableInterfaceNames = false;
    useDHCP = false;
    dhcpcd.enable = false;
    resolvconf.enable = false;
  };
  systemd.services.nixbox-dhcp = {
    description = "nixbox: DHCP on the first NIC";
    wantedBy = [ "multi-user.target" ];
    wants = [ "sys-subsystem-net-devices-eth0.device" ];
    after = [ "sys-subsystem-net-devices-eth0.device" ];
    serviceConfig = {
      ExecStart = "${pkgs.busybox}/bin/udhcpc -f -i eth0 -s ${dhcpHook}";
      Restart = "always";
      RestartSec = "1s";
    };
  };

  # 1. "nixbox-guest: ready" once sshd listens, eth0 has its address and the boot mounts are done.
  systemd.services.nixbox-ready = {
    description = "nixbox: tell the host the guest is reachable";
    wantedBy = [ "multi-user.target" ];
    after = [ "nixbox-setup.service" "sshd.service" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${helper}/bin/nixbox-guest ready";
    };
  };

  # 4. Accounts: the user is created at boot from the credentials (one image serves every host
  #    user), in wheel, which may use sudo without a password.  "*" locks passwords but not keys
  #    (sshd refuses key logins to accounts locked with "!").
  users.mutableUsers = true;
  users.users.root.hashedPassword = "*";
  security.sudo.enable = true;
  security.sudo.wheelNeedsPassword = false;

  # 3. The environment (RAM only) in every login shell, root's included.
  environment.loginShellInit = ''
    if [ -r /run/nixbox/environment ]; then . /run/nixbox/environment; fi
  '';

  # What only a Nix guest gives: the project's packages, and binaries built elsewhere that run
  # through nix-ld with the project's libraries next to nix-ld's defaults.
  environment.systemPackages = cfg.packages ++ [ helper ];
  programs.nix-ld.enable = true;
  programs.nix-ld.libraries = options.programs.nix-ld.libraries.default ++ cfg.ldLibraries;
  environment.etc."nixbox/plugins".text = lib.concatMapStrings (p: p + "\n") cfg.plugins;

  system.stateVersion = lib.mkDefault "26.05";
}
