# The flake `nixbox build` stages (nix/build/flake.nix as flake.nix, guest.json, a copy of nix/),
# evaluated by tests/nix/run in RESTRICTED mode: only the staged folder (<stage>) and these tests
# (<tests>) can be read.  Everything the build evaluates therefore lies in the folder whose content
# vm/build.c hashes into the cache key; nothing else can change an image behind the cache's back.
# nixpkgs is the stand-in of ./standins.nix.
let
  lib = import <tests/vendor/nixpkgs-lib/lib>;
  standins = import <tests/standins.nix> { inherit lib; };
  flake = import <stage/flake.nix>;
  outputs = flake.outputs { self = { }; inherit (standins) nixpkgs; };
  image = outputs.packages.x86_64-linux.nixbox-guest;
  manifest = builtins.fromJSON image.standinArgs.env.manifest;
in
{
  testOneInputNixpkgs = {
    expr = builtins.attrNames flake.inputs;
    expected = [ "nixpkgs" ];
  };
  testOutputIsTheImageOfGuestJsonsSystem = {
    expr = builtins.attrNames outputs.packages;
    expected = [ "x86_64-linux" ];
  };
  testImageManifestReadable = {
    expr = { inherit (manifest) version kernel initrd; };
    expected = { version = 1; kernel = "kernel"; initrd = "initrd"; };
  };
  testWholeSystemEvaluatesInsideTheStage = {
    expr =
      let
        cfg = outputs.nixosConfigurations.nixbox-guest.config;
        packages = map (p: p.name) cfg.environment.systemPackages;
      in
      builtins.deepSeq (removeAttrs cfg [ "_module" ]) packages;
    expected = [ "awscli2" "claude-code" "python3-requests" "nixbox-guest" ];
  };
}
