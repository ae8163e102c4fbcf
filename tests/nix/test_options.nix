# nixosModules.guest's own option declarations (nix/guest/options.nix), evaluated with
# lib.evalModules: defaults, accepted values, and values the types refuse.
let
  lib = import ./vendor/nixpkgs-lib/lib;
  standins = import ./standins.nix { inherit lib; };
  eval = config: (lib.evalModules {
    modules = [ ../../nix/guest/options.nix { nixbox.guest = config; } ];
  }).config.nixbox.guest;
  refused = config: !(builtins.tryEval (builtins.deepSeq (eval config) true)).success;
in
{
  testDefaults = {
    expr = eval { };
    expected = {
      packages = [ ];
      ldLibraries = [ ];
      plugins = [ ];
      store = { tag = "nixstore"; source = "/nix/store"; writable = true; };
      kernel.slim = false;
      console = "ttyS0";
      imageName = "nixbox-guest";
    };
  };
  testPackagesAreDerivations = {
    expr = map (p: p.name) (eval { packages = [ standins.pkgs.git standins.pkgs.awscli2 ]; }).packages;
    expected = [ "git" "awscli2" ];
  };
  testPackagesFromTwoModulesConcatenate = {
    expr = map (p: p.name) ((lib.evalModules {
      modules = [
        ../../nix/guest/options.nix
        { nixbox.guest.packages = [ standins.pkgs.git ]; }
        { nixbox.guest.packages = [ standins.pkgs.zlib ]; }
      ];
    }).config.nixbox.guest.packages);
    expected = [ "zlib" "git" ];
  };
  testStringIsNotAPackage = { expr = refused { packages = [ "git" ]; }; expected = true; };
  testTagWithSpaceRefused = { expr = refused { store.tag = "nix store"; }; expected = true; };
  testTagTooLongRefused = { expr = refused { store.tag = "a234567890123456789012345"; }; expected = true; };
  testTagWithCommaRefused = { expr = refused { store.tag = "a,b"; }; expected = true; };
  testRelativeSourceRefused = { expr = refused { store.source = "nix/store"; }; expected = true; };
  testSourceWithCommaRefused = { expr = refused { store.source = "/nix/st,ore"; }; expected = true; };
  testConsoleWithSpaceRefused = { expr = refused { console = "ttyS0 init=/bin/sh"; }; expected = true; };
  testImageNameWithSlashRefused = { expr = refused { imageName = "../x"; }; expected = true; };
  testOtherTagAccepted = {
    expr = (eval { store.tag = "hoststore"; store.writable = false; }).store;
    expected = { tag = "hoststore"; source = "/nix/store"; writable = false; };
  };
}
