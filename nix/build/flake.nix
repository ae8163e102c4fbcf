# The flake `nixbox build` stages in a fresh folder of its cache (vm/build.c), next to:
#   guest.json   the project's guest-relevant settings (nix/settings.nix)
#   nix/         a copy of nixbox's own Nix files
#   flake.lock   the project's pinned nixpkgs (created on the first build, refreshed by update)
# Everything the build reads is in that folder or in the locked nixpkgs, and all of it goes into
# the cache key, so an unchanged project never builds twice.
{
  description = "nixbox guest image (staged by nixbox build)";

  # The same branch as nixbox's own flake.nix (tests/nix checks that they agree).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      guest = builtins.fromJSON (builtins.readFile ./guest.json);
      system = guest.system;
      nixos = import ./nix/builder.nix { inherit nixpkgs system guest; };
    in
    {
      packages.${system}.nixbox-guest = nixos.config.system.build.nixboxImage;
      # the evaluated system, for looking into a build:
      #   nix eval path:FOLDER#nixosConfigurations.nixbox-guest.config.environment.systemPackages
      nixosConfigurations.nixbox-guest = nixos;
    };
}
