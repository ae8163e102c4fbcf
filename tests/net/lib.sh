# Shared by the network-tier tests (sourced).  Each test runs in its own sandboxed world
# (tests/world/world: host / inet / lan namespaces) plus, per guest, a "wire" and a "guest"
# namespace; everything is removed on exit, also on failure.  Never touches the machine's own
# network namespace.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
B=${NIXBOX_BUILD:-$root/build}
NETCTL=$B/tests/net/netctl
TAPWIRE=$B/tests/net/tapwire
WORLD=$root/tests/world/world
UDHCPC_SCRIPT=$root/tests/net/udhcpc.script
tname=$(basename "$0")
WID=n$$-$(echo "$tname" | sed 's/^test_//' | cut -c1-12)
GUESTS=""

fail() { echo "FAIL [$tname]: $*" >&2; exit 1; }
ok() { echo "ok [$tname]: $*"; }

for bin in "$NETCTL" "$TAPWIRE"; do
        [ -x "$bin" ] || fail "$bin missing: run make net-bins"
done
for prog in dnsmasq busybox nft ip; do
        command -v "$prog" >/dev/null || fail "$prog is not installed"
done

cleanup() {
        set +e
        for g in $GUESTS; do
                [ -f "$WDIR/tapwire$g.pid" ] && kill "$(cat "$WDIR/tapwire$g.pid")" 2>/dev/null
                ip netns del "nbxt-$$-g$g" 2>/dev/null
                ip netns del "nbxt-$$-w$g" 2>/dev/null
                rm -rf "/etc/netns/nbxt-$$-g$g"
        done
        "$WORLD" down "$WID" >/dev/null 2>&1
}

world_up() {
        trap cleanup EXIT
        trap 'exit 1' INT TERM
        "$WORLD" up "$WID" >/dev/null || fail "world up"
        eval "$("$WORLD" env "$WID")"
        WDIR=$NBXW_DIR
        RT=$WDIR/runtime
        mkdir -p "$RT"
}

H() { ip netns exec "$NBXW_HOST_NS" "$@"; }
netctl() { H "$NETCTL" "$RT" "$@"; }
G() { local g=$1; shift; ip netns exec "nbxt-$$-g$g" "$@"; }

# wait_for CMD...: retry (backoff from 10 ms) until CMD succeeds, at most ~18 s of pauses (times
# NBXW_WAIT_SCALE on a slower machine: tests/kernels).
wait_for() {
        local t=0 d=0.01
        until "$@"; do
                t=$((t + 1))
                [ "$t" -gt $((40 * ${NBXW_WAIT_SCALE:-1})) ] && return 1
                sleep "$d"
                d=$(awk -v d="$d" 'BEGIN { d *= 2; if (d > 0.5) d = 0.5; print d }')
        done
}

# guest_attach SLOT MAC: a guest namespace behind slot SLOT's TAP, via tapwire; DHCP from the
# slot's dnsmasq; /etc/resolv.conf of the guest = the DNS server DHCP handed out.
guest_attach() {
        local s=$1 mac=$2 g="nbxt-$$-g$1" w="nbxt-$$-w$1"
        GUESTS="$GUESTS $s"
        ip netns add "$w"
        ip netns add "$g"
        ip -n "$w" link add wire type veth peer name eth0 netns "$g"
        ip -n "$w" link set wire up
        ip -n "$g" link set lo up
        ip -n "$g" link set eth0 address "$mac" up
        H "$TAPWIRE" "nbx$s" "$w" wire >"$WDIR/tapwire$s.out" 2>&1 &
        echo $! >"$WDIR/tapwire$s.pid"
        wait_for grep -q ready "$WDIR/tapwire$s.out" || fail "tapwire nbx$s: $(cat "$WDIR/tapwire$s.out")"
        UDHCPC_OUT=$WDIR/lease$s G "$s" busybox udhcpc -i eth0 -n -q -f -t 6 -T 1 \
                -s "$UDHCPC_SCRIPT" >/dev/null 2>&1 || fail "guest $s got no DHCP lease"
        local ip mask router dns
        . "$WDIR/lease$s"
        LEASE_IP=$ip LEASE_ROUTER=$router LEASE_DNS=${dns:-}
        mkdir -p "/etc/netns/$g"
        if [ -n "$LEASE_DNS" ]; then
                echo "nameserver $LEASE_DNS" >"/etc/netns/$g/resolv.conf"
        else
                echo "nameserver 127.0.0.1" >"/etc/netns/$g/resolv.conf"
        fi
}

slot_mac() { printf '02:6e:62:78:00:%02x' "$1"; }

# http SLOT URL: body on stdout; fails fast when refused
http() { G "$1" curl -sS --max-time 5 "$2" 2>&1; }
resolve() { G "$1" busybox nslookup "$2" "$3" 2>&1; }
