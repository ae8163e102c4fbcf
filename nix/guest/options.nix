# The options of nixbox's NixOS guest module (nixosModules.guest).  Declarations only: they need
# nothing but lib, so `make check-nix` evaluates them with lib.evalModules (tests/nix/).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  # A virtiofs tag as the host's hypervisor command lines accept it (vm/hv.c).
  tag = types.strMatching "[A-Za-z][A-Za-z0-9_-]{0,22}";
in
{
  options.nixbox.guest = {
    packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
      description = "Packages on the guest's PATH: the resolved `nix.packages` (plugins' and yours).";
    };

    ldLibraries = mkOption {
      type = types.listOf types.package;
      default = [ ];
      description = ''
        Libraries nix-ld offers to binaries that were not built for NixOS (the resolved
        `nix.ldLibraries`), on top of nix-ld's own defaults.
      '';
    };

    plugins = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "Names of the plugins the image was built for; listed in /etc/nixbox/plugins.";
    };

    store = {
      tag = mkOption {
        type = tag;
        default = "nixstore";
        description = ''
          virtiofs tag of the host's Nix store.  The image manifest names it (`shares`), the host
          exports the folder read-only under this tag, the initrd mounts it.
        '';
      };
      source = mkOption {
        type = types.strMatching "/[^,=\"\n]*";
        default = "/nix/store";
        description = "The host folder behind the tag (the host's Nix store).";
      };
      writable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Put a RAM overlay on the shared store so that the guest can add store paths (its own
          `nix` works).  Without it /nix/store is the host's, read-only.
        '';
      };
    };

    kernel.slim = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Build a trimmed kernel: nixpkgs' configuration with the drivers a nixbox guest needs built
        in and whole subsystems it never uses (sound, graphics, USB, wireless, ...) left out.
        Boots faster, but is compiled on the building machine (the stock kernel comes from the
        binary cache).
      '';
    };

    console = mkOption {
      type = types.strMatching "[A-Za-z0-9]+";
      default = "ttyS0";
      description = "The serial console the host records (docs/guest-contract.md, section 1).";
    };

    imageName = mkOption {
      type = types.strMatching "[A-Za-z0-9][A-Za-z0-9._-]*";
      default = "nixbox-guest";
      description = "The `name` field of image.json (informational).";
    };
  };
}
