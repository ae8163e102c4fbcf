# nix/builder.nix and the whole guest module (nix/guest/), evaluated against STAND-IN NixOS option
# declarations and packages (./standins.nix): the values the module gives NixOS — the manifest
# vm/image.c reads, the systemd units and their order, sshd's keys, the store share, the packages.
# Whether NixOS has these options with these types is checked only where nixpkgs exists
# (`nix flake check`, docs/nix.md).
let
  lib = import ./vendor/nixpkgs-lib/lib;
  standins = import ./standins.nix { inherit lib; };
  fixture = builtins.fromJSON (builtins.readFile ./fixtures/guest.json);
  build = guest: modules: import ../../nix/builder.nix {
    inherit (standins) nixpkgs;
    system = "x86_64-linux";
    inherit guest modules;
  };
  system = build fixture [ ];
  cfg = system.config;
  image = cfg.system.build.nixboxImage;
  manifest = builtins.fromJSON image.standinArgs.env.manifest;
  cmdline = lib.splitString " " manifest.cmdline;
  has = x: list: builtins.elem x list;
  names = map (p: p.name);
  helper = builtins.head (builtins.filter (p: p.name == "nixbox-guest") cfg.environment.systemPackages);
  script = builtins.readFile ../../nix/guest/nixbox-guest.sh;
  unit = name: cfg.systemd.services.${name};
  slim = (build fixture [ { nixbox.guest.kernel.slim = true; } ]).config;
  readonlyStore = (build fixture [ { nixbox.guest.store.writable = false; } ]).config;
in
{
  testBuilderPassesSystemAndGuestModule = {
    expr = {
      inherit (system.standinArgs) system;
      firstModule = builtins.head system.standinArgs.modules;
    };
    expected = { system = "x86_64-linux"; firstModule = ../../nix/guest; };
  };
  testPackagesFromGuestJsonPlusHelper = {
    expr = names cfg.environment.systemPackages;
    expected = [ "awscli2" "claude-code" "python3-requests" "nixbox-guest" ];
  };
  testUnfreeAllowedForNamedPackages = { expr = cfg.nixpkgs.config.allowUnfree; expected = true; };
  testNixLdKeepsDefaultsAndAddsLibraries = {
    expr = { inherit (cfg.programs.nix-ld) enable; libraries = names cfg.programs.nix-ld.libraries; };
    expected = { enable = true; libraries = [ "nix-ld-default-lib" "zlib" ]; };
  };
  testPluginsListed = { expr = cfg.environment.etc."nixbox/plugins".text; expected = "aws\nclaude-code\n"; };

  # image.json as vm/image.h describes it
  testManifestFields = {
    expr = removeAttrs manifest [ "cmdline" ];
    expected = {
      version = 1;
      name = "nixbox-guest";
      kernel = "kernel";
      initrd = "initrd";
      shares = [ { tag = "nixstore"; source = "/nix/store"; } ];
    };
  };
  testCmdlineHasConsoleInitAndRegistration = {
    expr = map (x: has x cmdline) [
      "console=ttyS0"
      "init=/nix/store/00000000000000000000000000000000-nixos-system/init"
      "nixbox.regInfo=/nix/store/00000000000000000000000000000000-closure-info/registration"
    ];
    expected = [ true true true ];
  };
  testCmdlineFitsTheHostsLimit = { expr = lib.stringLength manifest.cmdline < 4096; expected = true; };
  testImageLinksVmlinuxAndInitrd = {
    expr = map (x: lib.hasInfix x image.standinArgs.script) [
      "ln -s /nix/store/00000000000000000000000000000000-linux-dev/vmlinux \"$out/kernel\""
      "ln -s /nix/store/00000000000000000000000000000000-initrd/initrd \"$out/initrd\""
      "cp \"$manifestPath\" \"$out/image.json\""
    ];
    expected = [ true true true ];
  };

  # the store: root in RAM, the host's store over virtiofs, an overlay
  testStoreShareAndOverlay = {
    expr = {
      root = cfg.fileSystems."/".fsType;
      ro = { inherit (cfg.fileSystems."/nix/.ro-store") device fsType neededForBoot; };
      overlay = cfg.fileSystems."/nix/store".overlay.lowerdir;
      initrd = map (m: has m cfg.boot.initrd.kernelModules) [ "virtio_pci" "virtiofs" "overlay" ];
    };
    expected = {
      root = "tmpfs";
      ro = { device = "nixstore"; fsType = "virtiofs"; neededForBoot = true; };
      overlay = [ "/nix/.ro-store" ];
      initrd = [ true true true ];
    };
  };
  testReadOnlyStoreIsABindMount = {
    expr = {
      store = readonlyStore.fileSystems."/nix/store";
      rw = (builtins.tryEval readonlyStore.fileSystems."/nix/.rw-store").success;
      nix = readonlyStore.nix.enable;
    };
    expected = { store = { device = "/nix/.ro-store"; options = [ "bind" ]; }; rw = false; nix = false; };
  };

  # the contract's boot order
  testInitLineFromStage1 = {
    expr = {
      initrd = cfg.boot.initrd.systemd.enable;
      script = cfg.boot.initrd.systemd.services.nixbox-init-line.script;
      early = cfg.boot.initrd.systemd.services.nixbox-init-line.unitConfig.DefaultDependencies;
    };
    expected = { initrd = true; script = "echo 'nixbox-guest: init' > /dev/console"; early = false; };
  };
  testSetupBeforeSshdWhichNeedsIt = {
    expr = {
      setup = has "sshd.service" (unit "nixbox-setup").before;
      requires = (unit "sshd").requires;
      after = (unit "sshd").after;
    };
    expected = { setup = true; requires = [ "nixbox-setup.service" ]; after = [ "nixbox-setup.service" ]; };
  };
  testReadyAfterSetupAndSshd = {
    expr = (unit "nixbox-ready").after;
    expected = [ "nixbox-setup.service" "sshd.service" ];
  };
  testUnitsRunTheHelper = {
    expr = map (n: (unit n).serviceConfig.ExecStart) [ "nixbox-setup" "nixbox-ready" ];
    expected = [
      "/nix/store/00000000000000000000000000000000-nixbox-guest/bin/nixbox-guest setup"
      "/nix/store/00000000000000000000000000000000-nixbox-guest/bin/nixbox-guest ready"
    ];
  };
  testDhcpOnEth0WithTheHelpersHook = {
    expr = {
      exec = (unit "nixbox-dhcp").serviceConfig.ExecStart;
      eth0 = cfg.networking.usePredictableInterfaceNames;
      dhcpcd = cfg.networking.dhcpcd.enable;
    };
    expected = {
      exec = "/nix/store/00000000000000000000000000000000-busybox/bin/udhcpc -f -i eth0 -s /nix/store/00000000000000000000000000000000-nixbox-dhcp-hook";
      eth0 = false;
      dhcpcd = false;
    };
  };
  testHelperIsTheScriptWithItsTools = {
    expr = {
      text = helper.standinArgs.text == script;
      tools = names helper.standinArgs.runtimeInputs;
    };
    expected = {
      text = true;
      tools = [ "coreutils" "findutils" "gnugrep" "gnutar" "getent" "iproute2" "shadow" "util-linux" ];
    };
  };

  # sshd and accounts: the paths the helper writes are the paths sshd reads
  testSshdUsesTheInjectedKeyOnly = {
    expr = {
      keys = cfg.services.openssh.hostKeys;
      authorized = cfg.services.openssh.authorizedKeysFiles;
      inherit (cfg.services.openssh.settings) PasswordAuthentication KbdInteractiveAuthentication PermitRootLogin;
      helperWritesThere = map (x: lib.hasInfix x script) [
        "RUN=\${NBX_GUEST_RUN:-/run/nixbox}"
        "\"$RUN/ssh/ssh_host_ed25519_key\""
        "\"$RUN/ssh/authorized_keys\""
        "\"$RUN/environment\""
      ];
    };
    expected = {
      keys = [ { path = "/run/nixbox/ssh/ssh_host_ed25519_key"; type = "ed25519"; } ];
      authorized = [ "/run/nixbox/ssh/authorized_keys" ];
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "prohibit-password";
      helperWritesThere = [ true true true true ];
    };
  };
  testSudoForWheelAndLoginShellsSourceTheEnvironment = {
    expr = {
      sudo = cfg.security.sudo.wheelNeedsPassword;
      wheel = lib.hasInfix "-G wheel" script;
      env = lib.hasInfix ". /run/nixbox/environment" cfg.environment.loginShellInit;
      rootKeysOnly = cfg.users.users.root.hashedPassword;
    };
    expected = { sudo = false; wheel = true; env = true; rootKeysOnly = "*"; };
  };

  # kernel
  testStockKernelByDefault = { expr = cfg.boot.kernelPackages.kernel.name; expected = "linux"; };
  testSlimKernelOverridesNixpkgsConfig = {
    expr = let args = slim.boot.kernelPackages.kernel.standinArgs; in {
      inherit (args) ignoreConfigErrors;
      virtiofs = args.structuredExtraConfig.VIRTIO_FS;
      sound = args.structuredExtraConfig.SOUND;
    };
    expected = {
      ignoreConfigErrors = true;
      virtiofs = lib.mkForce lib.kernel.yes;
      sound = lib.mkForce lib.kernel.no;
    };
  };
  testBalloonAndPowerButtonDrivers = {
    expr = map (m: has m cfg.boot.kernelModules) [ "virtio_balloon" "virtio_net" "virtio_blk" "button" "evdev" ];
    expected = [ true true true true true ];
  };
}
