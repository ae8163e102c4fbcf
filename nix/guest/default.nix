# nixbox's NixOS guest (nixosModules.guest): a NixOS system that honours docs/guest-contract.md
# and is booted directly from the kernel and initrd of `system.build.nixboxImage`.  Importing the
# module is what turns a system into a nixbox guest; `nixbox.guest.*` (./options.nix) tunes it.
{
  imports = [
    ./options.nix
    ./contract.nix
    ./store.nix
    ./kernel.nix
    ./image.nix
  ];
}
