# The guest of one project: NixOS from nixpkgs with nixbox's guest module (nix/guest/) and the
# project's settings (guest.json, see nix/settings.nix).  `nixbox build` reaches it through the
# flake it stages (nix/build/flake.nix); flake users through `nixbox.lib.guestSystem`.
#
# Returns the evaluated NixOS system; the image folder is `.config.system.build.nixboxImage`.
{
  nixpkgs,
  system,
  guest ? { version = 1; },
  modules ? [ ],
}:
let
  settings = import ./settings.nix { inherit (nixpkgs) lib; };
in
nixpkgs.lib.nixosSystem {
  inherit system;
  modules = [
    ./guest
    ({ pkgs, ... }: {
      nixbox.guest = settings.fromGuestJson pkgs guest;
      # The image holds exactly the packages the project names, some of them unfree (claude-code):
      # naming one is the user's consent.
      nixpkgs.config.allowUnfree = true;
    })
  ] ++ modules;
}
