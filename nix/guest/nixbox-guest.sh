#!/usr/bin/env bash
# nixbox-guest: the guest side of docs/guest-contract.md in nixbox's NixOS guest (nix/guest/).
#
#   nixbox-guest setup       at boot, as root: the credentials disk → user, keys, environment,
#                            host name, then the boot mounts (section 3 and 5)
#   nixbox-guest ready       at boot, as root: "nixbox-guest: ready" on the console once sshd
#                            listens and the first NIC has its address (section 1)
#   nixbox-guest dhcp-hook   udhcpc's event script: address, default route, /etc/resolv.conf
#   nixbox-guest mount       as root (sudo -n): one line on stdin,
#                            virtiofs<TAB>TAG<TAB>TARGET<TAB>rw|ro (hot-plug, section 5)
#   nixbox-guest unmount     as root (sudo -n): TARGET on stdin; 0 when it is not (or no longer)
#                            mounted, 16 when it is busy
#
# Values arrive in files and on stdin, never as arguments.  Errors: one line on stderr (mount,
# unmount) or "nixbox-guest: error: ..." on the console (boot).
#
# Where it looks can be moved, for tests/nix/test_nixbox_guest: NBX_GUEST_SYS (/sys),
# NBX_GUEST_PROC (/proc), NBX_GUEST_DEV (/dev), NBX_GUEST_RUN (/run/nixbox), NBX_GUEST_ETC (/etc),
# NBX_GUEST_HOME (/home), NBX_GUEST_CONSOLE (/dev/console); NBX_GUEST_TICK (seconds between
# polls, 0.01) and NBX_GUEST_POLLS (caps every wait at this many polls instead of 5 s, 10 s, 30 s).
set -euo pipefail

SYS=${NBX_GUEST_SYS:-/sys}
PROC=${NBX_GUEST_PROC:-/proc}
DEV=${NBX_GUEST_DEV:-/dev}
RUN=${NBX_GUEST_RUN:-/run/nixbox}
ETC=${NBX_GUEST_ETC:-/etc}
HOMES=${NBX_GUEST_HOME:-/home}
CONSOLE=${NBX_GUEST_CONSOLE:-/dev/console}
TICK=${NBX_GUEST_TICK:-0.01}
POLLS=${NBX_GUEST_POLLS:-}
CREDS=$RUN/creds
CREDS_SERIAL=nixbox-creds

# polls N: N, unless the tests cap it
polls() { echo "${POLLS:-$1}"; }

say() { printf 'nixbox-guest: %s\n' "$*" >>"$CONSOLE" 2>/dev/null || true; }
fail() {
        printf '%s\n' "$1" >&2
        exit "${2:-1}"
}

# ---- validation (the host validates too; the guest does not trust a malformed line) ----------

valid_user() {
        case $1 in "" | root | [-.]* | *[!A-Za-z0-9._-]*) return 1 ;; esac
}
valid_id() {
        case $1 in "" | *[!0-9]*) return 1 ;; esac
        [ "${#1}" -le 10 ]
}
valid_tag() {
        [[ $1 =~ ^[A-Za-z][A-Za-z0-9_-]{0,35}$ ]]
}
# Absolute, not /, no "." or ".." component, no control character.
valid_target() {
        case $1 in /*) ;; *) return 1 ;; esac
        [ "$1" != / ] || return 1
        [[ $1 != *[[:cntrl:]]* ]] || return 1
        case /$1/ in */../* | */./*) return 1 ;; esac
}

# ---- the user (written by setup, read by mount) -----------------------------------------------

user=
uid=
gid=
home=

load_user() {
        [ -r "$RUN/user" ] || fail "no user recorded in $RUN/user (did nixbox-guest setup run?)"
        read -r user uid gid home <"$RUN/user" || true
        if ! valid_user "$user" || ! valid_id "$uid" || ! valid_id "$gid"; then
                fail "malformed $RUN/user"
        fi
}

# ---- mounts -----------------------------------------------------------------------------------

# Create TARGET and its missing parents; those inside the user's home belong to the user.  A
# symbolic link on the way is refused: the mount would land somewhere else.
make_target() {
        local path="" part
        local -a parts
        IFS=/ read -r -a parts <<<"${1#/}"
        for part in "${parts[@]}"; do
                [ -n "$part" ] || continue
                path=$path/$part
                if [ -L "$path" ]; then
                        echo "$path is a symbolic link" >&2
                        return 1
                fi
                [ -d "$path" ] && continue
                mkdir "$path" || return 1
                case $path in "$home"/*) chown "$uid:$gid" "$path" ;; esac
        done
}

# mount_line TYPE SOURCE TARGET OPTIONS: validate, create the target, mount.  Prints the reason
# on stderr and returns non-zero on failure.
mount_line() {
        local type=$1 source=$2 target=$3 opts=$4 ro=
        valid_target "$target" || {
                echo "invalid target '$target'" >&2
                return 1
        }
        case $opts in
        rw) ;;
        ro) ro=1 ;;
        *)
                echo "invalid options '$opts' (rw or ro)" >&2
                return 1
                ;;
        esac
        case $type in
        virtiofs) valid_tag "$source" || {
                echo "invalid virtiofs tag '$source'" >&2
                return 1
        } ;;
        tmpfs) [ "$source" = tmpfs ] || {
                echo "invalid tmpfs source '$source'" >&2
                return 1
        } ;;
        *)
                echo "unknown type '$type' (virtiofs or tmpfs)" >&2
                return 1
                ;;
        esac
        make_target "$target" || return 1
        if [ "$type" = virtiofs ]; then
                mount -t virtiofs ${ro:+-o ro} "$source" "$target"
        else
                mount -t tmpfs -o "mode=0700,uid=$uid,gid=$gid${ro:+,ro}" tmpfs "$target"
        fi
}

# Split one TAB-separated line into the four fields (empty fields are errors, not skipped).
split_line() {
        local line=$1
        local -a f=()
        local rest=$line
        while :; do
                f+=("${rest%%$'\t'*}")
                [[ $rest == *$'\t'* ]] || break
                rest=${rest#*$'\t'}
        done
        [ "${#f[@]}" -eq 4 ] || return 1
        local x
        for x in "${f[@]}"; do [ -n "$x" ] || return 1; done
        fields=("${f[@]}")
}

boot_mounts() {
        [ -r "$CREDS/mounts" ] || return 0
        local line msg
        local -a fields
        while IFS= read -r line || [ -n "$line" ]; do
                [ -n "$line" ] || continue
                if ! split_line "$line"; then
                        say "error: mount: malformed line in the credentials' mounts"
                        continue
                fi
                if ! msg=$(mount_line "${fields[@]}" 2>&1); then
                        say "error: mount ${fields[2]}: ${msg//$'\n'/ }"
                fi
        done <"$CREDS/mounts"
}

# Is a virtiofs tag known to the kernel?  Kernels from 6.9 list them in sysfs; older ones do not,
# and then the mount itself is retried.
tag_present() {
        local t
        [ -d "$SYS/fs/virtiofs" ] || return 2
        for t in "$SYS"/fs/virtiofs/*/tag; do
                [ -r "$t" ] && [ "$(cat "$t")" = "$1" ] && return 0
        done
        return 1
}

cmd_mount() {
        local line="" type source target opts
        local -a fields
        IFS= read -r line || [ -n "$line" ] || fail "mount: expected one line on stdin"
        split_line "$line" || fail "mount: expected TYPE<TAB>TAG<TAB>TARGET<TAB>rw|ro"
        type=${fields[0]} source=${fields[1]} target=${fields[2]} opts=${fields[3]}
        [ "$type" = virtiofs ] || fail "mount: only virtiofs shares are hot-plugged, got '$type'"
        valid_tag "$source" || fail "mount: invalid virtiofs tag '$source'"
        valid_target "$target" || fail "mount: invalid target '$target'"
        load_user
        # cloud-hypervisor's hot-plugged devices may need a rescan to appear
        echo 1 >"$SYS/bus/pci/rescan" 2>/dev/null || true
        local i=0 st=0 msg max
        max=$(polls 1000)
        while [ "$i" -lt "$max" ]; do
                st=0
                tag_present "$source" || st=$?
                [ "$st" -eq 1 ] || break
                sleep "$TICK"
                i=$((i + 1))
        done
        [ "$st" -ne 1 ] || fail "mount $target: virtiofs tag $source did not appear within 10 s"
        # without sysfs tags: retry the mount itself until the deadline
        while ! msg=$(mount_line "$type" "$source" "$target" "$opts" 2>&1); do
                if [ "$st" -ne 2 ] || [ "$i" -ge "$max" ]; then
                        fail "mount $target: ${msg//$'\n'/ }"
                fi
                sleep "$TICK"
                i=$((i + 1))
        done
}

cmd_unmount() {
        local target="" out
        IFS= read -r target || [ -n "$target" ] || fail "unmount: expected the target on stdin"
        valid_target "$target" || fail "unmount: invalid target '$target'"
        # until it is no longer a mount point (mounts may be stacked)
        local i=0
        while mountpoint -q "$target" 2>/dev/null && [ "$i" -lt 16 ]; do
                if ! out=$(umount "$target" 2>&1); then
                        mountpoint -q "$target" 2>/dev/null || exit 0
                        case $out in
                        *busy* | *EBUSY*) fail "unmount $target: busy" 16 ;;
                        esac
                        fail "unmount $target: ${out//$'\n'/ }"
                fi
                i=$((i + 1))
        done
}

# ---- boot -------------------------------------------------------------------------------------

find_creds_disk() {
        local i=0 b max
        max=$(polls 500)
        while [ "$i" -lt "$max" ]; do
                for b in "$SYS"/block/vd*; do
                        [ -r "$b/serial" ] || continue
                        if [ "$(cat "$b/serial")" = "$CREDS_SERIAL" ] && [ -e "$DEV/${b##*/}" ]; then
                                echo "$DEV/${b##*/}"
                                return 0
                        fi
                done
                sleep "$TICK"
                i=$((i + 1))
        done
        return 1
}

# meta: key=value lines; unknown keys are ignored.
read_meta() {
        local line
        user="" uid="" gid="" host=""
        while IFS= read -r line || [ -n "$line" ]; do
                case $line in
                user=*) user=${line#user=} ;;
                uid=*) uid=${line#uid=} ;;
                gid=*) gid=${line#gid=} ;;
                hostname=*) host=${line#hostname=} ;;
                esac
        done <"$CREDS/meta"
}

create_user() {
        if ! getent group "$gid" >/dev/null; then
                groupadd -g "$gid" "$user"
        fi
        if ! getent passwd "$user" >/dev/null; then
                useradd -o -M -u "$uid" -g "$gid" -G wheel -d "$home" -s /bin/sh -p '*' "$user"
        fi
        mkdir -p "$home/.ssh"
        chown "$uid:$gid" "$home" "$home/.ssh"
        chmod 0755 "$home"
        chmod 0700 "$home/.ssh"
}

# put SRC DST MODE UID:GID
put() {
        install -m "$3" "$1" "$2"
        chown "$4" "$2"
}

cmd_setup() {
        local disk host
        mkdir -p "$RUN"
        chmod 0755 "$RUN"
        mkdir -p "$CREDS"
        chmod 0700 "$CREDS"
        if ! disk=$(find_creds_disk); then
                say "error: no credentials disk (virtio-blk serial $CREDS_SERIAL)"
                exit 1
        fi
        if ! tar -xf "$disk" -C "$CREDS" 2>/dev/null; then
                say "error: cannot read the credentials archive on $disk"
                exit 1
        fi
        [ -r "$CREDS/meta" ] || {
                say "error: no meta on the credentials disk"
                exit 1
        }
        read_meta
        if ! valid_user "$user" || ! valid_id "$uid" || ! valid_id "$gid"; then
                say "error: bad or missing user=, uid= or gid= in meta"
                exit 1
        fi
        case $host in "" | *[!A-Za-z0-9.-]*) host=nixbox ;; esac
        printf '%s\n' "$host" >"$PROC/sys/kernel/hostname" ||
                say "error: cannot set the host name"
        home=$HOMES/$user

        create_user
        printf '%s %s %s %s\n' "$user" "$uid" "$gid" "$home" >"$RUN/user"

        mkdir -p "$RUN/ssh"
        chmod 0755 "$RUN/ssh"
        if [ -r "$CREDS/authorized_keys" ]; then
                put "$CREDS/authorized_keys" "$RUN/ssh/authorized_keys" 0644 0:0
        else
                say "error: no authorized_keys on the credentials disk"
        fi
        if [ -r "$CREDS/ssh_host_ed25519_key" ]; then
                put "$CREDS/ssh_host_ed25519_key" "$RUN/ssh/ssh_host_ed25519_key" 0600 0:0
        else
                say "error: no ssh_host_ed25519_key on the credentials disk"
                exit 1
        fi
        # RAM only (/run is a tmpfs): readable by root and the user's group
        if [ -r "$CREDS/environment" ]; then
                put "$CREDS/environment" "$RUN/environment" 0640 "0:$gid"
        fi
        if [ -r "$CREDS/identity" ]; then
                put "$CREDS/identity" "$home/.ssh/id_ed25519" 0600 "$uid:$gid"
        fi
        if [ -r "$CREDS/identity.pub" ]; then
                put "$CREDS/identity.pub" "$home/.ssh/id_ed25519.pub" 0644 "$uid:$gid"
        fi
        boot_mounts
}

listening() {
        grep -q '^ *[0-9]*: [0-9A-F]*:0016 [0-9A-F]*:0000 0A ' \
                "$PROC/net/tcp" "$PROC/net/tcp6" 2>/dev/null
}
address() {
        local _n _dev _family addr _rest
        ip -4 -o addr show dev eth0 scope global 2>/dev/null |
                { read -r _n _dev _family addr _rest && echo "$addr"; } || true
}

cmd_ready() {
        local i=0 addr="" max
        max=$(polls 3000)
        while [ "$i" -lt "$max" ]; do
                addr=$(address)
                if listening && [ -n "$addr" ]; then
                        say ready
                        return 0
                fi
                sleep "$TICK"
                i=$((i + 1))
        done
        if listening; then
                say "error: no DHCP address after 30 s"
                say ready
        else
                say "error: sshd is not listening after 30 s"
                exit 1
        fi
}

# udhcpc's environment: interface, ip, mask, broadcast, router, dns, domain.
cmd_dhcp_hook() {
        local ev=${1:-} r d
        : "${interface:?udhcpc sets interface}"
        case $ev in
        deconfig)
                ip -4 addr flush dev "$interface"
                ip link set "$interface" up
                ;;
        bound | renew)
                ip -4 addr flush dev "$interface"
                : "${ip:?udhcpc sets ip}"
                ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
                ip link set "$interface" up
                for r in ${router:-}; do
                        ip route replace default via "$r" dev "$interface"
                        break
                done
                {
                        [ -z "${domain:-}" ] || echo "search $domain"
                        for d in ${dns:-}; do echo "nameserver $d"; done
                } >"$ETC/resolv.conf.tmp"
                mv "$ETC/resolv.conf.tmp" "$ETC/resolv.conf"
                if [ "$ev" = bound ]; then
                        say "$interface $ip/${mask:-24} router ${router:-none} dns ${dns:-none}"
                fi
                ;;
        esac
}

case ${1:-} in
setup) cmd_setup ;;
ready) cmd_ready ;;
dhcp-hook) cmd_dhcp_hook "${2:-}" ;;
mount) cmd_mount ;;
unmount) cmd_unmount ;;
*) fail "usage: nixbox-guest setup|ready|dhcp-hook EVENT|mount|unmount" 2 ;;
esac
