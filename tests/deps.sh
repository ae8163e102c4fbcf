#!/bin/sh
# Install every Debian package nixbox's build, tests, demo and benchmarks need.  Idempotent and
# quick when everything is present (one dpkg-query, no apt-get update).
set -eu
PACKAGES="build-essential pkg-config libnftnl-dev libmnl-dev libjansson-dev
libcmocka-dev libidn2-dev libpsl-dev publicsuffix valgrind nix-bin dnsmasq-base nftables iproute2
qemu-system-x86 qemu-utils dropbear-bin busybox-static sudo linux-image-amd64 cpio kmod e2fsprogs
openssh-client tmux iperf3 hyperfine python3 python3-yaml curl clang clang-format
libclang-rt-14-dev shellcheck"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; install the tools yourself (\`nix develop\` has them all)" >&2
    exit 0
fi
missing=""
for p in $PACKAGES; do
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$s" in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "error: missing Debian packages:$missing" >&2
    echo "Run \`sudo make deps\` (or: sudo apt-get install$missing)." >&2
    exit 6
fi
echo "==> Installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
