# Helpers for tests/e2e/test_lifecycle (sourced).  Expects: repo, T (temp folder), RT (runtime
# folder), H (the world's host namespace), img (guest image folder), PROJECTS (array), and the
# test user of tests/lib/testuser.sh (TU, TU_UID, TU_GID, TU_HOME).
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
step() { echo "== $*"; }
check() { # NAME EXPECTED ACTUAL
        if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
check_rc() { # NAME EXPECTED_RC RC OUTPUT
        if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: exit $3 (expected $2): $4"; fi
}
contains() { # NAME NEEDLE HAYSTACK
        if grep -qF -- "$2" <<<"$3"; then ok "$1"; else fail "$1: '$2' not in: $3"; fi
}
summary() {
        echo "$passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}

# nixbox in the world's host namespace, on project folder $1, as `sudo nixbox` run by the test
# user (root, with the variables sudo sets).
nbx() {
        local p=$1
        shift
        # shellcheck disable=SC2046
        ip netns exec "$H" env NIXBOX_RUNTIME_DIR="$RT" $(nbx_sudo_env) "$NBX_BIN" -C "$p" "$@"
}

# nixbox as the test user itself, without sudo (run, shell, status, logs, init).
nbxu() {
        local p=$1
        shift
        ip netns exec "$H" setpriv --reuid="$TU_UID" --regid="$TU_GID" --init-groups \
                env -i PATH="$PATH" HOME="$TU_HOME" USER="$TU" LOGNAME="$TU" \
                NIXBOX_RUNTIME_DIR="$RT" "$NBX_BIN" -C "$p" "$@"
}

# The folder of a project's VM record: <runtime>/vms/<first 16 hex of sha256(project folder)>.
vm_dir() {
        echo "$RT/vms/$(printf %s "$1" | sha256sum | cut -c1-16)"
}

# new_project NAME MODE DOMAINS → prints the folder.  Project "a" gets hooks and a setup script.
new_project() {
        local name=$1 mode=$2 domains=$3 dir=$T/$1
        mkdir -p "$dir"
        chown "$TU_UID:$TU_GID" "$dir"
        nbxu "$dir" init "$dir" >/dev/null || return 1
        local hooks="" scripts=""
        if [ "$name" = a ]; then
                local fmt='|$NIXBOX_NAME|$NIXBOX_SLOT|$NIXBOX_GUEST_IP|$NIXBOX_PROJECT_DIR|$PWD'
                local log=$TU_HOME/hooks-a.log
                hooks="hooks.pre-up = [ \"echo \\\"pre-up-1$fmt\\\" >> $log\" \"echo failing-hook; exit 3\"
                    \"echo \\\"pre-up-2$fmt\\\" >> $log\" ];
  hooks.post-up = [ \"echo \\\"post-up$fmt\\\" >> $log\" ];
  hooks.pre-down = [ \"echo \\\"pre-down$fmt\\\" >> $log\" ];
  hooks.post-down = [ \"echo \\\"post-down$fmt\\\" >> $log\" ];"
                scripts="scripts = [ ./setup.sh ];"
        fi
        local dom=""
        [ -n "$domains" ] && dom="network.domains = [ $domains ];"
        cat >"$dir/.nixbox/config.nix" <<EOF
{
  name = "lc$name";
  resources.vcpus = 1;
  resources.memoryMB = 512;
  network.mode = "$mode";
  $dom
  network.upstreamDns = [ "$NBXW_DNS_IP" ];
  env = { NBX_SECRET = builtins.getEnv "NBX_E2E_SECRET"; NBX_QUOTED = "it's \$x \`y\`"; };
  $scripts
  $hooks
  vm.hypervisor = "qemu";
  vm.accel = "tcg";
  vm.image = "$img";
}
EOF
        chown -R "$TU_UID:$TU_GID" "$dir"
        nbxu "$dir" allow >/dev/null || return 1
        PROJECTS+=("$dir")
        echo "$dir"
}

# http PROJECT HOST → the HTTP body from HOST:80 (fetched in the guest with nc), or FAIL
http() {
        local out
        # shellcheck disable=SC2016
        out=$(nbxu "$1" run sh -c 'printf "GET / HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" | nc -w 5 "$1" 80' \
                sh "$2" 2>/dev/null | tr -d '\r' | awk 'body { print } /^$/ { body = 1 }')
        [ -n "$out" ] || { echo FAIL; return; }
        echo "$out"
}

# JSON helpers on `status --json`
py_field() { # JSON PROJECT FIELD
        python3 -c '
import json, sys
for v in json.loads(sys.argv[1]):
    if v.get("project") == sys.argv[2]:
        x = v.get(sys.argv[3])
        print("" if x is None else x)
        break
' "$1" "$2" "$3" 2>/dev/null
}
py_count_running() {
        python3 -c 'import json,sys; print(sum(1 for v in json.loads(sys.argv[1]) if v["state"] == "running"))' "$1" 2>/dev/null
}
py_status_check() { # JSON PROJECT STATE MODE → "ok" or what is wrong
        python3 -c '
import json, sys, ipaddress
rows = [v for v in json.loads(sys.argv[1]) if v.get("project") == sys.argv[2]]
if len(rows) != 1: print("rows: %r" % rows); sys.exit()
v = rows[0]
bad = []
if v["state"] != sys.argv[3]: bad.append("state %r" % v["state"])
if v["mode"] != sys.argv[4]: bad.append("mode %r" % v["mode"])
if not isinstance(v["slot"], int): bad.append("slot %r" % v["slot"])
if not isinstance(v["pid"], int) or v["pid"] <= 0: bad.append("pid %r" % v["pid"])
if not isinstance(v["uptime"], int) or v["uptime"] < 0: bad.append("uptime %r" % v["uptime"])
try: ipaddress.ip_address(v["guest_ip"])
except Exception: bad.append("guest_ip %r" % v.get("guest_ip"))
if not v["mounts"] or v["mounts"][0]["source"] != sys.argv[2] or v["mounts"][0]["readonly"]: bad.append("mounts %r" % v["mounts"])
if v["name"] != "lca": bad.append("name %r" % v["name"])
print("ok" if not bad else "; ".join(bad))
' "$1" "$2" "$3" "$4" 2>&1
}

# The host namespace's nftables state, without counters (for comparisons with a baseline).
nft_state() {
        ip netns exec "$H" nft list ruleset 2>/dev/null |
                sed -E 's/packets [0-9]+ bytes [0-9]+/packets N bytes N/g; s/expires [0-9a-z]+//g'
}

wait_gone() {
        local i
        for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
}

# The test user's subordinate uid range, "FIRST LAST" (processes of guest ids run there).
sub_range() {
        awk -F: -v u="$TU" '$1 == u { print $2, $2 + $3 - 1; exit }' /etc/subuid
}

# check_clean LABEL PROJECT... : no TAP, no per-slot nftables chain/set, no process started for
# these projects (QEMU, virtiofsd, dnsmasq, ssh — by the runtime folder in their arguments, by the
# test user and by its subordinate ids), no slot record, no VM record or socket, nothing of
# nixbox's in the project folder but the configuration.
# The detached finishers of the last `down` (net/finish.h: they wait for the kernel to free the TAP
# and the old ruleset, ~20-40 ms) still carry down's command line, which names the project: wait
# until they are gone (at most 10 s).
finishers_of_test() {
        local pid
        for pid in $(pgrep -x nixbox-finish); do
                tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$T" && return 0
        done
        return 1
}
wait_finishers() {
        local i
        for i in $(seq 1 200); do
                finishers_of_test || return 0
                sleep 0.05
        done
}

check_clean() {
        local label=$1 p bad=""
        shift
        wait_finishers
        local taps
        taps=$(ip -n "$H" -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep '^nbx[0-9]' | tr '\n' ' ')
        [ -z "$taps" ] || bad="$bad TAPs:$taps"
        local sets
        sets=$(ip netns exec "$H" nft list ruleset 2>/dev/null | grep -E '^\s*(set|chain) [a-z_-]*[0-9]+ ' | tr -s ' \n' ' ')
        [ -z "$sets" ] || bad="$bad nft:$sets"
        local procs range
        # (zombies are gone already: this machine's init reaps re-parented children late)
        range=$(sub_range)
        procs=$(ps -eo stat=,uid=,pid=,args= | awk -v t="$T" -v u="$TU_UID" \
                -v lo="${range% *}" -v hi="${range#* }" '
                $1 ~ /^Z/ || /test_lifecycle|awk -v t=/ { next }
                index($0, t) || $2 == u || (lo != "" && $2 >= lo && $2 <= hi) { print }' | tr '\n' ';')
        [ -z "$procs" ] || bad="$bad processes:$procs"
        local slots
        slots=$(ls -A "$RT/slots" 2>/dev/null | grep -v -e '\.lock$' -e '^history\.json$' | tr '\n' ' ')
        [ -z "$slots" ] || bad="$bad slot files:$slots"
        for p in "$@"; do
                local vd
                vd=$(vm_dir "$p")
                [ -e "$vd/vm.json" ] && bad="$bad record:$p"
                local left
                left=$(ls -A "$vd/sock" 2>/dev/null | tr '\n' ' ')
                [ -z "$left" ] || bad="$bad sockets($p):$left"
                left=$(ls -A "$p/.nixbox" 2>/dev/null | grep -v -e '^config\.nix$' -e '^\.gitignore$' \
                        -e '^setup\.sh$' | tr '\n' ' ')
                [ -z "$left" ] || bad="$bad in .nixbox($p):$left"
        done
        if [ -z "$bad" ]; then ok "$label: nothing left behind"; else fail "$label: left behind:$bad"; fi
}
