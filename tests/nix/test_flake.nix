# flake.nix's outputs with the STAND-IN nixpkgs of ./standins.nix: which outputs exist, what the
# package wraps, what the dev shell and checks hold, and what nixosModules.host does to a
# (stand-in) NixOS.  Building any of it needs nixpkgs: `nix flake check` (docs/nix.md).
let
  lib = import ./vendor/nixpkgs-lib/lib;
  standins = import ./standins.nix { inherit lib; };
  flake = import ../../flake.nix;
  buildFlake = import ../../nix/build/flake.nix;
  out = flake.outputs { self = out; inherit (standins) nixpkgs; };
  x86 = "x86_64-linux";
  pkg = out.packages.${x86}.default;
  names = map (p: p.name);
  has = x: list: builtins.elem x list;

  host = config: (lib.evalModules {
    modules = [ out.nixosModules.host standins.nixosModule { services.nixbox = config; } ];
  }).config;
  hostWith = config: extra: (lib.evalModules {
    modules = [ out.nixosModules.host standins.nixosModule { services.nixbox = config; } extra ];
  }).config;
  refused = config: !(builtins.tryEval (builtins.deepSeq (host config).systemd true)).success;
  alice = { enable = true; users = [ "alice" ]; pool = "10.20.0.0"; };
  iptables = host alice;
  nftables = hostWith alice { networking.nftables.enable = true; };
in
{
  testSameNixpkgsBranchAsTheGuestBuild = {
    expr = flake.inputs.nixpkgs.url == buildFlake.inputs.nixpkgs.url;
    expected = true;
  };
  testOutputs = {
    expr = builtins.attrNames out;
    expected = [ "apps" "checks" "devShells" "lib" "nixosConfigurations" "nixosModules" "overlays" "packages" ];
  };
  testPackagesPerSystem = {
    expr = lib.mapAttrs (_: builtins.attrNames) out.packages;
    expected = { aarch64-linux = [ "default" ]; x86_64-linux = [ "default" "nixbox-guest" ]; };
  };
  testPackageWrapsTheRuntimeTools = {
    expr = map (t: lib.hasInfix t pkg.standinArgs.postInstall) [
      "wrapProgram $out/bin/nixbox"
      "--prefix PATH : /nix/store/00000000000000000000000000000000-dnsmasq/bin:/nix/store/00000000000000000000000000000000-virtiofsd/bin:/nix/store/00000000000000000000000000000000-cloud-hypervisor/bin:/nix/store/00000000000000000000000000000000-qemu_kvm/bin:/nix/store/00000000000000000000000000000000-openssh/bin:/nix/store/00000000000000000000000000000000-e2fsprogs/bin"
      "--suffix PATH : /nix/store/00000000000000000000000000000000-nix/bin"
    ];
    expected = [ true true true ];
  };
  testPackageInstallsWithPrefix = {
    expr = { inherit (pkg.standinArgs) pname makeFlags; buildInputs = names pkg.standinArgs.buildInputs; };
    expected = {
      pname = "nixbox";
      makeFlags = [ "PREFIX=$(out)" ];
      buildInputs = [ "libnftnl" "libmnl" "jansson" "libidn2" "libpsl" ];
    };
  };
  testAppRunsTheWrappedBinary = {
    expr = out.apps.${x86}.default;
    expected = { type = "app"; program = "${pkg.outPath}/bin/nixbox"; };
  };
  testDevShellHasWhatMakeCheckRuns = {
    expr = let p = names out.devShells.${x86}.default.standinArgs.packages; in
      map (x: has x p) [ "cmocka" "valgrind" "clang" "clang-tools" "shellcheck" "nix" "dnsmasq" "nftables" "qemu" "busybox" "dropbear" "python3-env" ];
    expected = [ true true true true true true true true true true true true ];
  };
  testChecks = {
    expr = lib.mapAttrs (_: c: builtins.attrNames c) out.checks;
    expected = { aarch64-linux = [ "nix" "unit" ]; x86_64-linux = [ "guest" "nix" "unit" ]; };
  };
  testCheckTiersRunMake = {
    expr = map (c: lib.hasInfix c.target out.checks.${x86}.${c.name}.standinArgs.buildPhase) [
      { name = "unit"; target = "make check-unit"; }
      { name = "nix"; target = "make check-nix"; }
    ];
    expected = [ true true ];
  };
  testOverlayAddsNixbox = {
    expr = ((out.overlays.default (standins.packagesFor x86) { }).nixbox).standinArgs.pname;
    expected = "nixbox";
  };
  testGuestOutputsUseTheBuilder = {
    expr = {
      image = (builtins.fromJSON out.packages.${x86}.nixbox-guest.standinArgs.env.manifest).kernel;
      noPackages = out.nixosConfigurations.nixbox-guest.config.nixbox.guest.packages;
      module = out.nixosModules.guest;
    };
    expected = { image = "kernel"; noPackages = [ ]; module = ../../nix/guest; };
  };

  # nixosModules.host on a stand-in NixOS
  testHostPackageAndModules = {
    expr = {
      package = names iptables.environment.systemPackages;
      modules = iptables.boot.kernelModules;
      kvm = iptables.users.users.alice.extraGroups;
    };
    expected = {
      package = [ "nixbox-0.1.0" ];
      modules = [ "nf_tables" "tun" "vhost_net" "vhost_vsock" ];
      kvm = [ "kvm" ];
    };
  };
  testHostTrustsTapsInTheBackendsSyntax = {
    expr = {
      iptables = iptables.networking.firewall.trustedInterfaces;
      nftables = nftables.networking.firewall.trustedInterfaces;
      forward = lib.hasInfix "iifname \"nbx*\" accept" nftables.networking.firewall.extraForwardRules;
      flush = nftables.networking.nftables.flushRuleset;
      iptablesNoFlushSetting = (builtins.tryEval iptables.networking.nftables.flushRuleset).success;
    };
    expected = { iptables = [ "nbx+" ]; nftables = [ "nbx*" ]; forward = true; flush = false; iptablesNoFlushSetting = false; };
  };
  testHostRunsSetupWithThePool = {
    expr = iptables.systemd.services.nixbox-setup.serviceConfig.ExecStart;
    expected = "${pkg.outPath}/bin/nixbox setup --pool 10.20.0.0";
  };
  testHostDefaultPool = {
    expr = (host { enable = true; }).systemd.services.nixbox-setup.serviceConfig.ExecStart;
    expected = "${pkg.outPath}/bin/nixbox setup";
  };
  testHostBadPoolRefused = { expr = refused { enable = true; pool = "10.20.1.0"; }; expected = true; };
  testHostDisabledDoesNothing = {
    expr =
      let
        cfg = host { enable = false; };
        defined = path: let r = builtins.tryEval (lib.attrByPath path null cfg); in r.success && r.value != null;
      in
      map defined [
        [ "systemd" "services" "nixbox-setup" ]
        [ "environment" "systemPackages" ]
        [ "networking" "firewall" "trustedInterfaces" ]
      ];
    expected = [ false false false ];
  };
}
