#include "creds.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLOCK 512
#define RECORD 10240 /* tar's default record: the archive is padded to a multiple of it */

char *nbx_sh_quote(const char *s) {
        size_t n = 2;
        for (const char *p = s; *p; p++)
                n += *p == '\'' ? 4 : 1;
        char *out = malloc(n + 1);
        if (!out)
                return NULL;
        char *o = out;
        *o++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(o, "'\\''", 4);
                        o += 4;
                } else {
                        *o++ = *p;
                }
        }
        *o++ = '\'';
        *o = '\0';
        return out;
}

static int reserve(nbx_ustar *t, size_t more) {
        if (t->len + more > NBX_CREDS_MAX)
                return -EFBIG;
        if (t->len + more <= t->cap)
                return 0;
        size_t cap = t->cap ? t->cap : 4 * BLOCK;
        while (cap < t->len + more)
                cap *= 2;
        uint8_t *nd = malloc(cap);
        if (!nd)
                return -ENOMEM;
        /* copy instead of realloc so no stale copy of a secret is left in freed memory */
        if (t->len)
                memcpy(nd, t->data, t->len);
        if (t->data) {
                explicit_bzero(t->data, t->cap);
                free(t->data);
        }
        t->data = nd;
        t->cap = cap;
        return 0;
}

/* Octal field of width w: w-1 digits and a NUL. */
static void octal(char *field, size_t w, unsigned long long v) {
        snprintf(field, w, "%0*llo", (int)(w - 1), v);
}

int nbx_ustar_add(nbx_ustar *t, const char *name, mode_t mode, const void *data, size_t len,
                  nbx_error **err) {
        size_t nl = strlen(name);
        if (nl == 0 || nl >= 100 || name[0] == '/' || strstr(name, ".."))
                return nbx_error_set(err, EINVAL, "archive member name '%s' is not allowed", name);
        if (mode & ~07777u)
                return nbx_error_set(err, EINVAL, "archive member %s: bad mode %o", name,
                                     (unsigned)mode);
        size_t padded = (len + BLOCK - 1) / BLOCK * BLOCK;
        int r = reserve(t, BLOCK + padded);
        if (r < 0)
                return nbx_error_set(err, r, "credentials archive: add %s", name);

        char *h = (char *)t->data + t->len;
        memset(h, 0, BLOCK + padded);
        memcpy(h, name, nl);         /* name[100] */
        octal(h + 100, 8, mode);     /* mode[8] */
        octal(h + 108, 8, 0);        /* uid[8] */
        octal(h + 116, 8, 0);        /* gid[8] */
        octal(h + 124, 12, len);     /* size[12] */
        octal(h + 136, 12, 0);       /* mtime[12]: fixed, reproducible */
        memset(h + 148, ' ', 8);     /* chksum[8]: spaces while summing */
        h[156] = '0';                /* typeflag: regular file */
        memcpy(h + 257, "ustar", 6); /* magic "ustar\0" */
        memcpy(h + 263, "00", 2);    /* version */
        memcpy(h + 265, "root", 4);  /* uname[32] */
        memcpy(h + 297, "root", 4);  /* gname[32] */
        unsigned sum = 0;
        for (size_t i = 0; i < BLOCK; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 7, "%06o", sum); /* six digits, NUL, space */
        h[154] = '\0';
        h[155] = ' ';
        if (len)
                memcpy(h + BLOCK, data, len);
        t->len += BLOCK + padded;
        return 0;
}

int nbx_ustar_finish(nbx_ustar *t, nbx_error **err) {
        size_t end = t->len + 2 * BLOCK;
        size_t total = (end + RECORD - 1) / RECORD * RECORD;
        int r = reserve(t, total - t->len);
        if (r < 0)
                return nbx_error_set(err, r, "credentials archive: finish");
        memset(t->data + t->len, 0, total - t->len);
        t->len = total;
        return 0;
}

void nbx_ustar_done(nbx_ustar *t) {
        if (t->data) {
                explicit_bzero(t->data, t->cap);
                free(t->data);
        }
        *t = (nbx_ustar){0};
}

static bool valid_env_name(const char *s) {
        if (!s || !*s || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++) {
                bool alpha = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_';
                if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
                        return false;
        }
        return true;
}

int nbx_creds_env_render(const nbx_env_var *env, size_t n_env, char **ret, nbx_error **err) {
        if (n_env > NBX_MAX_ENV)
                return nbx_error_set(err, E2BIG, "env: %zu variables (at most %d)", n_env,
                                     NBX_MAX_ENV);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return nbx_error_set(err, errno, "env file");
        for (size_t i = 0; i < n_env; i++) {
                if (!valid_env_name(env[i].name)) {
                        fclose(f);
                        explicit_bzero(buf, len);
                        free(buf);
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                              "env: invalid variable name '%s'",
                                              env[i].name ? env[i].name : "");
                }
                char *q = nbx_sh_quote(env[i].value ? env[i].value : "");
                if (!q) {
                        fclose(f);
                        explicit_bzero(buf, len);
                        free(buf);
                        return nbx_error_set(err, ENOMEM, "env file");
                }
                fprintf(f, "export %s=%s\n", env[i].name, q);
                explicit_bzero(q, strlen(q));
                free(q);
        }
        if (fclose(f) != 0) {
                free(buf);
                return nbx_error_set(err, ENOMEM, "env file");
        }
        *ret = buf;
        return 0;
}

static bool plain_target(const char *t) {
        if (!t || t[0] != '/' || strlen(t) > 4095)
                return false;
        for (const char *p = t; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return false;
        for (const char *p = t; (p = strstr(p, "..")); p += 2)
                if ((p == t || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
                        return false;
        return true;
}

static size_t depth(const char *target) {
        size_t d = 0;
        for (const char *p = target; p && *p; p++)
                d += *p == '/' && p[1] && p[1] != '/';
        return d;
}

int nbx_creds_mounts_render(const nbx_creds_mount *m, size_t n, char **ret, nbx_error **err) {
        if (n > NBX_CREDS_MAX_MOUNTS)
                return nbx_error_set(err, E2BIG, "more than %d guest mounts", NBX_CREDS_MAX_MOUNTS);
        /* parents first: a mount hides what was mounted below its target before it, so the
         * guest mounts by depth (number of path components), in the caller's order among equals */
        size_t order[NBX_CREDS_MAX_MOUNTS];
        for (size_t i = 0; i < n; i++) {
                size_t k = i;
                while (k > 0 && depth(m[order[k - 1]].target) > depth(m[i].target)) {
                        order[k] = order[k - 1];
                        k--;
                }
                order[k] = i;
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return nbx_error_set(err, errno, "mounts member");
        for (size_t o = 0; o < n; o++) {
                size_t i = order[o];
                bool type_ok = m[i].type && (strcmp(m[i].type, "virtiofs") == 0 ||
                                             strcmp(m[i].type, "tmpfs") == 0);
                if (!type_ok || !m[i].source || strpbrk(m[i].source, "\t\n") ||
                    !plain_target(m[i].target)) {
                        fclose(f);
                        free(buf);
                        return nbx_error_set(err, EINVAL,
                                             "guest mount %s: a target must be an absolute path "
                                             "without \"..\" or control characters",
                                             m[i].target ? m[i].target : "(none)");
                }
                fprintf(f, "%s\t%s\t%s\t%s\n", m[i].type, m[i].source, m[i].target,
                        m[i].readonly ? "ro" : "rw");
        }
        if (fclose(f) != 0) {
                free(buf);
                return nbx_error_set(err, ENOMEM, "mounts member");
        }
        *ret = buf;
        return 0;
}

static bool one_line(const char *s) {
        return s && *s && !strpbrk(s, "\n\r=");
}

int nbx_creds_build(const nbx_creds *c, nbx_ustar *ret, nbx_error **err) {
        if (!one_line(c->user) || !one_line(c->hostname))
                return nbx_error_set(err, EINVAL, "credentials: invalid user or host name");
        if (!c->authorized_keys || !c->host_key)
                return nbx_error_set(err, EINVAL, "credentials: missing SSH keys");

        char meta[512];
        int ml = snprintf(meta, sizeof(meta), "user=%s\nuid=%u\ngid=%u\nhostname=%s\n", c->user,
                          (unsigned)c->uid, (unsigned)c->gid, c->hostname);
        if (ml < 0 || (size_t)ml >= sizeof(meta))
                return nbx_error_set(err, ENAMETOOLONG, "credentials: meta too long");

        _cleanup_free_ char *mounts = NULL;
        int r = nbx_creds_mounts_render(c->mounts, c->n_mounts, &mounts, err);
        if (r < 0)
                return r;
        char *env = NULL;
        if ((r = nbx_creds_env_render(c->env, c->n_env, &env, err)) < 0)
                return r;

        nbx_ustar t = {0};
        if ((r = nbx_ustar_add(&t, "meta", 0644, meta, (size_t)ml, err)) < 0 ||
            (r = nbx_ustar_add(&t, "authorized_keys", 0644, c->authorized_keys,
                               strlen(c->authorized_keys), err)) < 0 ||
            (r = nbx_ustar_add(&t, "ssh_host_ed25519_key", 0600, c->host_key, strlen(c->host_key),
                               err)) < 0 ||
            (r = nbx_ustar_add(&t, "environment", 0600, env, strlen(env), err)) < 0 ||
            (r = nbx_ustar_add(&t, "mounts", 0644, mounts, strlen(mounts), err)) < 0 ||
            (c->identity && (r = nbx_ustar_add(&t, "identity", 0600, c->identity,
                                               strlen(c->identity), err)) < 0) ||
            (c->identity_pub && (r = nbx_ustar_add(&t, "identity.pub", 0644, c->identity_pub,
                                                   strlen(c->identity_pub), err)) < 0) ||
            (r = nbx_ustar_finish(&t, err)) < 0) {
                explicit_bzero(env, strlen(env));
                free(env);
                nbx_ustar_done(&t);
                return r;
        }
        explicit_bzero(env, strlen(env));
        free(env);
        *ret = t;
        return 0;
}

int nbx_creds_memfd(const nbx_creds *c, int *ret_fd, nbx_error **err) {
        nbx_ustar t = {0};
        int r = nbx_creds_build(c, &t, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = memfd_create("nixbox-creds", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0) {
                r = nbx_error_set(err, errno, "credentials: memfd_create");
                goto out;
        }
        for (size_t off = 0; off < t.len;) {
                ssize_t n = write(fd, t.data + off, t.len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = nbx_error_set(err, n < 0 ? errno : EIO, "credentials: write memfd");
                        goto out;
                }
                off += (size_t)n;
        }
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
                r = nbx_error_set(err, errno, "credentials: seal memfd");
                goto out;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                r = nbx_error_set(err, errno, "credentials: seek memfd");
                goto out;
        }
        *ret_fd = TAKE_FD(fd);
        r = 0;
out:
        nbx_ustar_done(&t);
        return r;
}
