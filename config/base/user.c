#include "user.h"

#include <grp.h>
#include <pwd.h>
#include <sys/fsuid.h>
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

int nbx_invoker_require_user(const nbx_invoker *inv, const char *cmd, nbx_error **err) {
        if (inv->uid != 0)
                return 0;
        return nbx_error_setx(err, NBX_EXIT_PERMISSION, 0,
                              "nixbox %s acts for a user account, not for root: run `sudo nixbox "
                              "%s` from the account that owns the project (as root, `sudo -u USER "
                              "sudo nixbox %s` or set SUDO_UID/SUDO_GID to that account)",
                              cmd, cmd, cmd);
}

/* setfsuid/setfsgid report the previous id, not success: read back to check. */
static bool set_fsids(uid_t uid, gid_t gid) {
        (void)setfsgid(gid);
        (void)setfsuid(uid);
        return (uid_t)setfsuid((uid_t)-1) == uid && (gid_t)setfsgid((gid_t)-1) == gid;
}

int nbx_fsid_enter(const nbx_invoker *inv, nbx_fsid *ret_saved, nbx_error **err) {
        *ret_saved = (nbx_fsid){0};
        if (geteuid() != 0 || inv->uid == 0)
                return 0;
        nbx_fsid s = {.active = true};
        s.n_groups = getgroups(NBX_ARRAY_SIZE(s.groups), s.groups);
        if (s.n_groups < 0)
                return nbx_error_set(err, errno, "read the supplementary groups");
        gid_t groups[64];
        int n = NBX_ARRAY_SIZE(groups);
        if (inv->name && getgrouplist(inv->name, inv->gid, groups, &n) < 0)
                n = 0; /* more than 64 groups: the primary group alone is the safe side */
        if (!inv->name || n <= 0) {
                groups[0] = inv->gid;
                n = 1;
        }
        if (setgroups((size_t)n, groups) < 0)
                return nbx_error_set(err, errno, "take the groups of %s", inv->name);
        if (!set_fsids(inv->uid, inv->gid)) {
                int e = errno ? errno : EPERM;
                nbx_fsid_leave(&s);
                return nbx_error_set(err, e, "take the file identity of %s", inv->name);
        }
        *ret_saved = s;
        return 0;
}

void nbx_fsid_leave(nbx_fsid *saved) {
        if (!saved->active)
                return;
        (void)set_fsids(geteuid(), getegid());
        (void)setgroups((size_t)saved->n_groups, saved->groups);
        saved->active = false;
}
