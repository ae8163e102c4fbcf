# STAND-INS for what `make check-nix` cannot have here: nixpkgs (its packages and NixOS) cannot be
# fetched on our machines; only nixpkgs' lib is vendored (./vendor/nixpkgs-lib).
#
# - `drv NAME`: a stand-in derivation (an attribute set lib.isDerivation accepts).
# - `pkgs`: the packages and builders nixbox's Nix files use, each a stand-in that records its
#   arguments so tests can look at what the module asked for (a script's text, image.json).
# - `nixosModule`: stand-in NixOS option declarations.  Options nixbox's guest module READS are
#   declared with stand-in values (kernel, toplevel, nix-ld's defaults); everything it SETS is
#   accepted by a freeform type that merges like NixOS does (attribute sets recursively, lists
#   concatenated, lines joined).  So these tests check the values the module produces — NOT that
#   the options exist in NixOS or have these types: that needs real nixpkgs (`nix flake check`,
#   docs/nix.md).
# - `nixpkgs`: what a flake input `nixpkgs` offers the builder: lib, and a nixosSystem that
#   evaluates the given modules with lib.evalModules on top of `nixosModule`.
{ lib }:
let
  inherit (lib) mkOption types;

  drv = name:
    let
      d = {
        type = "derivation";
        inherit name;
        outPath = "/nix/store/00000000000000000000000000000000-${name}";
        drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
      };
    in
    d // { out = d; };

  withArgs = name: args: drv name // { standinArgs = args; };

  pkgs = {
    stdenv.hostPlatform = {
      isx86_64 = true;
      system = "x86_64-linux";
    };
    # builders: record what they were given
    writeShellApplication = args: withArgs args.name args;
    writeShellScript = name: text: withArgs name { inherit text; };
    runCommand = name: env: script: withArgs name { inherit env script; } // (env.passthru or { });
    closureInfo = args: withArgs "closure-info" args;
    linuxPackagesFor = kernel: { inherit kernel; };
    linux = drv "linux" // {
      dev = drv "linux-dev";
      override = args: withArgs "linux-slim" args // { dev = drv "linux-slim-dev"; };
    };
  } // lib.genAttrs [
    # packages nixbox's guest module puts into the image or its scripts
    "busybox" "coreutils" "findutils" "getent" "gnugrep" "gnutar" "iproute2" "shadow" "util-linux"
    # packages the tests name in nix.packages / nix.ldLibraries
    "awscli2" "claude-code" "git" "zlib" "openssl"
  ] drv // {
    python3Packages = { requests = drv "python3-requests"; };
  };

  # nixpkgs.legacyPackages.SYSTEM for flake.nix: the packages above plus what nixbox's package,
  # dev shell and checks name.  mkDerivation and mkShell record their arguments.
  packagesFor = system:
    let
      self = pkgs // lib.genAttrs [
        "makeWrapper" "pkg-config" "libnftnl" "libmnl" "curl" "jansson" "libidn2" "libpsl" "dnsmasq"
        "virtiofsd" "cloud-hypervisor" "qemu_kvm" "qemu" "openssh" "e2fsprogs" "nix" "cmocka"
        "valgrind" "clang" "clang-tools" "shellcheck" "nftables" "dropbear" "cpio" "kmod" "iperf3"
        "hyperfine" "tmux"
      ] drv // {
        callPackage = lib.callPackageWith self;
        inherit lib;
        stdenv = {
          hostPlatform = { inherit system; isx86_64 = system == "x86_64-linux"; };
          mkDerivation = args: mkDerivation args;
        };
        mkShell = args: withArgs "shell" args;
        python3 = drv "python3" // { withPackages = f: withArgs "python3-env" { packages = f { pyyaml = drv "pyyaml"; }; }; };
      };
      mkDerivation = args: withArgs "${args.pname}-${args.version}" args // {
        overrideAttrs = f: mkDerivation (args // f args);
      };
    in
    self;

  # Freeform values merged like NixOS merges its options.
  nixosValue = types.mkOptionType {
    name = "nixos-option-stand-in";
    merge = loc: defs:
      let
        values = map (d: d.value) defs;
        all = pred: lib.all pred values;
      in
      # lazy: a definition under mkIf may depend on a sibling value (NixOS declares those
      # options, so it has no such cycles)
      if all (v: lib.isAttrs v && !lib.isDerivation v) then (types.lazyAttrsOf nixosValue).merge loc defs
      else if all lib.isList then lib.concatLists values
      else if all lib.isString && lib.length values > 1 then lib.concatStringsSep "\n" values
      else lib.mergeEqualOption loc defs;
  };

  nixosModule = { ... }: {
    freeformType = types.lazyAttrsOf nixosValue;
    options.programs.nix-ld = {
      enable = mkOption { type = types.bool; default = false; };
      libraries = mkOption {
        type = types.listOf types.package;
        default = [ (drv "nix-ld-default-lib") ];
      };
    };
    config = {
      _module.args.pkgs = pkgs;
      nix.enable = lib.mkOptionDefault true; # an option default in NixOS
      nix.package = drv "nix";
      boot.kernelPackages = lib.mkOptionDefault { kernel = pkgs.linux; };
      networking.nftables.enable = lib.mkOptionDefault false;
      system.build.toplevel = drv "nixos-system";
      system.build.initialRamdisk = drv "initrd";
      system.boot.loader.kernelFile = "bzImage";
      system.boot.loader.initrdFile = "initrd";
    };
  };

  nixpkgs = {
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] packagesFor;
    lib = lib // {
      nixosSystem = args:
        lib.evalModules { modules = args.modules ++ [ nixosModule ]; } // { standinArgs = args; };
    };
  };
in
{
  inherit drv pkgs packagesFor nixosModule nixpkgs;
}
