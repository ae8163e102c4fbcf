#include "user.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_id(const char *s, unsigned long *ret) {
        char *end;
        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v > 0x7fffffffUL)
                return -EINVAL;
        *ret = v;
        return 0;
}

int nbx_invoker_get(nbx_invoker *ret, nbx_error **err) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        unsigned long v;

        if (geteuid() == 0 && parse_id(getenv("SUDO_UID"), &v) == 0) {
                uid = (uid_t)v;
                gid = parse_id(getenv("SUDO_GID"), &v) == 0 ? (gid_t)v : gid;
        }

        struct passwd pw, *res = NULL;
        char buf[4096];
        int r = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);
        nbx_invoker inv = {.uid = uid, .gid = gid};
        if (r == 0 && res) {
                inv.name = strdup(pw.pw_name);
                inv.home = strdup(uid == getuid() && getenv("HOME") ? getenv("HOME") : pw.pw_dir);
        } else {
                /* a uid without a passwd entry (containers): still usable */
                if (asprintf(&inv.name, "uid%u", (unsigned)uid) < 0)
                        inv.name = NULL;
                inv.home = strdup(getenv("HOME") ? getenv("HOME") : "/");
        }
        inv.guest_user = strdup(uid == 0 ? "nixbox" : (inv.name ? inv.name : ""));
        if (!inv.name || !inv.home || !inv.guest_user) {
                nbx_invoker_done(&inv);
                return nbx_error_set(err, ENOMEM, "look up the invoking user");
        }
        *ret = inv;
        return 0;
}

void nbx_invoker_done(nbx_invoker *inv) {
        free(inv->name);
        free(inv->home);
        free(inv->guest_user);
        *inv = (nbx_invoker){0};
}
