# A throwaway normal user for tests that run nixbox the way the README does: `sudo nixbox up`
# from a user's account (sourced; needs root).  nbx_user_create sets TU (name), TU_UID, TU_GID,
# TU_HOME; nbx_user_remove deletes the user, its home and its subordinate ids.
nbx_user_create() { # NAME HOME
        TU=$1 TU_HOME=$2
        mkdir -p "$TU_HOME" || return 1
        # useradd reserves subordinate ids (/etc/subuid, /etc/subgid) for the user, as for anyone
        useradd -M -d "$TU_HOME" -s /bin/sh -U "$TU" || return 1
        TU_UID=$(id -u "$TU") TU_GID=$(id -g "$TU")
        chown "$TU_UID:$TU_GID" "$TU_HOME" && chmod 0755 "$TU_HOME"
}

nbx_user_remove() {
        [ -n "${TU:-}" ] || return 0
        pkill -KILL -u "$TU" 2>/dev/null
        userdel "$TU" 2>/dev/null
        # entries nixbox itself may have added
        local f
        for f in /etc/subuid /etc/subgid; do
                [ -f "$f" ] && sed -i "/^$TU:/d" "$f"
        done
        rm -rf "$TU_HOME"
        TU=
}

# The environment sudo gives a command run as root for the user.
nbx_sudo_env() {
        echo "SUDO_UID=$TU_UID SUDO_GID=$TU_GID SUDO_USER=$TU"
}
