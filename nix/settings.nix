# guest.json → the settings of nixbox's guest module.
#
# `nixbox build` writes guest.json from the resolved config (vm/build.c, the part of the config
# that changes the image and nothing else):
#   { "version": 1, "system": "x86_64-linux", "plugins": [ "aws" ],
#     "packages": [ "awscli2" ], "ldLibraries": [ "zlib" ] }
# Package names are nixpkgs attribute paths, already checked by nixbox's config validation
# ([A-Za-z0-9_.+-]); here they become packages, or an error that names the field and the name.
# Needs only lib: `make check-nix` evaluates it with an attribute set standing in for pkgs.
{ lib }:
let
  inherit (builtins) isAttrs isList isString typeOf;

  fail = msg: throw "nixbox: ${msg}";

  check = field: pred: what: v:
    if pred v then v else fail "guest.json: ${field}: expected ${what}, got ${typeOf v}";

  strings = field: v:
    map (check "${field}[]" isString "a string") (check field isList "a list" v);

  # The package at a dotted attribute path of pkgs.
  lookup = pkgs: field: name:
    let
      found = lib.attrByPath (lib.splitString "." name) null pkgs;
    in
    if found == null then
      fail "${field}: nixpkgs has no package `${name}` (see https://search.nixos.org/packages)"
    else if !(lib.isDerivation found) then
      fail "${field}: `${name}` is a set of packages, not a package; name one inside it"
    else
      found;
in
{
  inherit lookup;

  # guest.json's value (builtins.fromJSON) → { packages; ldLibraries; plugins; } for nixbox.guest.
  fromGuestJson = pkgs: guest:
    let
      g = check "guest.json" isAttrs "an object" guest;
    in
    if (g.version or null) != 1 then
      fail "guest.json: version ${toString (g.version or "missing")}: this nixbox reads version 1 (rebuild with `nixbox build -f`)"
    else {
      packages = map (lookup pkgs "nix.packages") (strings "packages" (g.packages or [ ]));
      ldLibraries = map (lookup pkgs "nix.ldLibraries") (strings "ldLibraries" (g.ldLibraries or [ ]));
      plugins = strings "plugins" (g.plugins or [ ]);
    };
}
