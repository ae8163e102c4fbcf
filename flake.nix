{
  description = "nixbox: run AI coding agents in throwaway microVMs with a firewall of your choice";

  # The same branch as the guest build's flake (nix/build/flake.nix; tests/nix checks it).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # the guest contract is x86_64 (docs/guest-contract.md)
      guestSystem = "x86_64-linux";
    in
    {
      overlays.default = final: _prev: { nixbox = final.callPackage ./nix/package.nix { }; };

      packages = forAll (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      } // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == guestSystem) {
        # a guest without project packages; `nixbox build` builds the same with guest.json
        nixbox-guest = self.lib.guestImage { system = guestSystem; };
      });

      apps = forAll (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/nixbox";
        };
      });

      # Everything `make check` runs; the e2e tier also needs a Debian kernel for the test guest
      # (tests/guest/build, NBX_GUEST_KERNEL) and root.
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = with pkgs; [
            cmocka valgrind clang clang-tools shellcheck nix
            dnsmasq nftables iproute2 qemu virtiofsd openssh e2fsprogs
            busybox dropbear cpio kmod curl iperf3 hyperfine tmux
            (python3.withPackages (ps: [ ps.pyyaml ]))
          ];
        };
      });

      checks = forAll (pkgs:
        let
          nixbox = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          tier = name: target: extra: nixbox.overrideAttrs (old: {
            pname = "nixbox-${name}";
            nativeBuildInputs = old.nativeBuildInputs ++ extra;
            buildInputs = old.buildInputs ++ [ pkgs.cmocka ];
            buildPhase = ''
              export HOME=$TMPDIR
              make ${target}
            '';
            installPhase = "touch $out";
          });
        in
        {
          # the unit tier: cmocka tests under ASan+UBSan and valgrind (QEMU under TCG, no root)
          unit = tier "unit" "check-unit" (with pkgs; [
            clang valgrind qemu nix (python3.withPackages (ps: [ ps.pyyaml ]))
          ]);
          # the Nix tier: parse, lib-only evaluations, the guest helper with stand-ins
          nix = tier "nix" "check-nix" (with pkgs; [ nix shellcheck ]);
        } // lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == guestSystem) {
          # the real guest: its module against NixOS's own options, the image built
          guest = self.packages.${guestSystem}.nixbox-guest;
        });

      nixosModules = {
        host = { pkgs, ... }: {
          imports = [ ./nix/host.nix ];
          services.nixbox.package =
            lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
        guest = ./nix/guest;
        default = self.nixosModules.host;
      };

      nixosConfigurations.nixbox-guest = self.lib.guestSystem { system = guestSystem; };

      # The guest builder `nixbox build` uses (through the flake it stages, nix/build/flake.nix):
      #   guestSystem { system; guest ? guest.json's value; modules ? [ ]; } → a NixOS system
      #   guestImage  { ... } → its image folder (kernel, initrd, image.json)
      lib = {
        guestSystem = args: import ./nix/builder.nix ({ inherit nixpkgs; } // args);
        guestImage = args: (self.lib.guestSystem args).config.system.build.nixboxImage;
      };
    };
}
