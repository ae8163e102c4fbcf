# nixbox, built from this repository, with the programs it runs on its PATH (flake.nix:
# packages.default and overlays.default).  The Nix files and built-in plugins are installed next
# to it (share/nixbox), where the binary finds them.
{
  lib,
  stdenv,
  makeWrapper,
  pkg-config,
  libnftnl,
  libmnl,
  jansson,
  libidn2,
  libpsl,
  # run by nixbox
  dnsmasq,
  virtiofsd,
  cloud-hypervisor,
  qemu_kvm,
  openssh,
  e2fsprogs,
  nix,
}:
let
  # First on PATH: nixbox is tested with these.
  tools = [ dnsmasq virtiofsd cloud-hypervisor qemu_kvm openssh e2fsprogs ];
in
stdenv.mkDerivation {
  pname = "nixbox";
  version = lib.fileContents ../VERSION;
  src = lib.cleanSource ../.;

  nativeBuildInputs = [ pkg-config makeWrapper ];
  buildInputs = [ libnftnl libmnl jansson libidn2 libpsl ];
  makeFlags = [ "PREFIX=$(out)" ];
  enableParallelBuilding = true;

  # Nix goes last: the user's own Nix client (matching their daemon) wins when there is one.
  postInstall = ''
    wrapProgram $out/bin/nixbox \
      --prefix PATH : ${lib.makeBinPath tools} \
      --suffix PATH : ${lib.makeBinPath [ nix ]}
  '';

  # the unit tier is checks.<system>.unit (flake.nix); the other tiers need root and namespaces
  doCheck = false;

  passthru = { inherit tools; };

  meta = {
    description = "Fleet manager for AI coding agents in microVMs";
    platforms = lib.platforms.linux;
    mainProgram = "nixbox";
  };
}
