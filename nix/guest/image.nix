# system.build.nixboxImage: the image folder nixbox boots (vm/image.h) — kernel, initrd and
# image.json.  The kernel is booted directly (the uncompressed vmlinux through its PVH entry on
# x86_64, which both QEMU and cloud-hypervisor accept); the command line carries init= and the
# registration of the image's store paths for the guest's Nix database (store.nix).
{ config, lib, pkgs, ... }:
let
  cfg = config.nixbox.guest;
  build = config.system.build;
  kernel = config.boot.kernelPackages.kernel;
  kernelFile =
    if pkgs.stdenv.hostPlatform.isx86_64 then "${kernel.dev}/vmlinux"
    else "${kernel}/${config.system.boot.loader.kernelFile}";
  regInfo = pkgs.closureInfo { rootPaths = [ build.toplevel ]; };

  manifest = {
    version = 1;
    name = cfg.imageName;
    kernel = "kernel";
    initrd = "initrd";
    cmdline = lib.concatStringsSep " " (config.boot.kernelParams ++ [
      "init=${build.toplevel}/init"
      "nixbox.regInfo=${regInfo}/registration"
    ]);
    # host folders the image needs shared read-only under these tags before it can boot
    shares = [ { inherit (cfg.store) tag source; } ];
  };
in
{
  system.build.nixboxImage = pkgs.runCommand "${cfg.imageName}-image"
    {
      manifest = builtins.toJSON manifest;
      passAsFile = [ "manifest" ];
      passthru = { inherit manifest; };
    }
    ''
      mkdir -p "$out"
      ln -s ${kernelFile} "$out/kernel"
      ln -s ${build.initialRamdisk}/${config.system.boot.loader.initrdFile} "$out/initrd"
      cp "$manifestPath" "$out/image.json"
    '';
}
