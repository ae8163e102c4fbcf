# nix/settings.nix: guest.json (as vm/build.c writes it: ./fixtures/guest.json, which the C unit
# test compares its own output with) → nixbox.guest settings, with an attribute set standing in
# for pkgs.  The test checks the mapping, not the packages.
let
  lib = import ./vendor/nixpkgs-lib/lib;
  standins = import ./standins.nix { inherit lib; };
  settings = import ../../nix/settings.nix { inherit lib; };
  fixture = builtins.fromJSON (builtins.readFile ./fixtures/guest.json);
  from = settings.fromGuestJson standins.pkgs;
  names = map (p: p.name);
  refused = guest: !(builtins.tryEval (builtins.deepSeq (from guest) true)).success;
in
{
  testFixtureMapsEveryField = {
    expr = let s = from fixture; in {
      packages = names s.packages;
      ldLibraries = names s.ldLibraries;
      inherit (s) plugins;
    };
    expected = {
      packages = [ "awscli2" "claude-code" "python3-requests" ];
      ldLibraries = [ "zlib" ];
      plugins = [ "aws" "claude-code" ];
    };
  };
  testEmptyListsAndMissingFields = {
    expr = from { version = 1; };
    expected = { packages = [ ]; ldLibraries = [ ]; plugins = [ ]; };
  };
  testNestedAttributePath = {
    expr = (settings.lookup standins.pkgs "nix.packages" "python3Packages.requests").name;
    expected = "python3-requests";
  };
  testUnknownPackageRefused = { expr = refused (fixture // { packages = [ "no-such-package" ]; }); expected = true; };
  testUnknownLibraryRefused = { expr = refused (fixture // { ldLibraries = [ "libnope" ]; }); expected = true; };
  testPackageSetRefused = { expr = refused (fixture // { packages = [ "python3Packages" ]; }); expected = true; };
  testTooDeepPathRefused = { expr = refused (fixture // { packages = [ "git.nope" ]; }); expected = true; };
  testOtherVersionRefused = { expr = refused (fixture // { version = 2; }); expected = true; };
  testMissingVersionRefused = { expr = refused (removeAttrs fixture [ "version" ]); expected = true; };
  testNonListRefused = { expr = refused (fixture // { packages = "git"; }); expected = true; };
  testNonStringRefused = { expr = refused (fixture // { plugins = [ 1 ]; }); expected = true; };
}
