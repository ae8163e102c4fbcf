{
  description = "nixbox: run AI coding agents in throwaway microVMs with a firewall of your choice";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      packages = forAll (pkgs: {
        default = pkgs.stdenv.mkDerivation {
          pname = "nixbox";
          version = pkgs.lib.fileContents ./VERSION;
          src = ./.;
          nativeBuildInputs = [ pkgs.pkg-config ];
          buildInputs = [ pkgs.libnftnl pkgs.libmnl pkgs.curl pkgs.jansson pkgs.libidn2 pkgs.libpsl ];
          makeFlags = [ "PREFIX=$(out)" ];
          # the unit tier needs cmocka and valgrind; the other tiers need root and namespaces
          doCheck = false;
          meta = {
            description = "Fleet manager for AI coding agents in microVMs";
            platforms = pkgs.lib.platforms.linux;
            mainProgram = "nixbox";
          };
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.system}.default ];
          packages = [ pkgs.cmocka pkgs.valgrind pkgs.dnsmasq pkgs.nftables pkgs.qemu ];
        };
      });
    };
}
