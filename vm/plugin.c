/* Plugin commands: find them in a plugin's commands/ folder without following links, and run
 * one as the invoking user from the open file (vm/plugin.h, docs/plugins.md). */
#include "plugin.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "hooks.h"
#include "internal.h"

#define HEADER_MAX 4096 /* bytes of a command file searched for its summary */

NBX_DEFINE_CLEANUP(DIR, closedir)

/* ---- reading commands/ ---------------------------------------------------------------------- */

/* NAME of a file NAME or NAME.sh, NULL when the file is not a command. */
static char *command_name(const char *file) {
        size_t n = strlen(file);
        if (n > 3 && strcmp(file + n - 3, ".sh") == 0)
                n -= 3;
        if (n == 0 || n > NBX_PLUGIN_COMMAND_MAX || !isalnum((unsigned char)file[0]))
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(isalnum((unsigned char)file[i]) || file[i] == '-' || file[i] == '_') ||
                    (unsigned char)file[i] >= 0x80)
                        return NULL;
        return strndup(file, n);
}

/* The "# nixbox: TEXT" line of the opening comment block of text. */
static char *summary_of(const char *text) {
        static const char tag[] = "# nixbox:";
        for (const char *line = text; *line;) {
                const char *end = strchrnul(line, '\n');
                if (line[0] != '#' && line != end)
                        break;
                if (strncmp(line, tag, sizeof(tag) - 1) == 0) {
                        const char *s = line + sizeof(tag) - 1;
                        while (s < end && (*s == ' ' || *s == '\t'))
                                s++;
                        size_t n = (size_t)(end - s);
                        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
                                n--;
                        return strndup(s, n < NBX_PLUGIN_SUMMARY_MAX ? n : NBX_PLUGIN_SUMMARY_MAX);
                }
                line = *end ? end + 1 : end;
        }
        return strdup("");
}

static char *read_summary(int dirfd, const char *file) {
        _cleanup_close_ int fd = nbx_open_beneath(dirfd, file, O_RDONLY, 0);
        char buf[HEADER_MAX + 1];
        ssize_t n = fd >= 0 ? read(fd, buf, HEADER_MAX) : -1;
        buf[n > 0 ? n : 0] = '\0';
        /* a NUL ends the text: a binary has no header */
        return summary_of(buf);
}

static int cmp_command(const void *a, const void *b) {
        return strcmp(((const nbx_plugin_command *)a)->name, ((const nbx_plugin_command *)b)->name);
}

static void command_done(nbx_plugin_command *c) {
        free(c->name);
        free(c->file);
        free(c->summary);
}

void nbx_plugin_commands_done(nbx_plugin_commands *c) {
        for (size_t i = 0; i < c->n; i++)
                command_done(&c->v[i]);
        free(c->v);
        *c = (nbx_plugin_commands){0};
}

const nbx_plugin_command *nbx_plugin_commands_find(const nbx_plugin_commands *c, const char *name) {
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->v[i].name, name) == 0)
                        return &c->v[i];
        return NULL;
}

static int add_command(nbx_plugin_commands *c, const char *dir, int dfd, const char *file,
                       char *name, nbx_error **err) {
        const nbx_plugin_command *twin = nbx_plugin_commands_find(c, name);
        if (twin) {
                int r = nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                       "%s/commands: %s and %s are both the command \"%s\"; "
                                       "remove one",
                                       dir, twin->file, file, name);
                free(name);
                return r;
        }
        if (c->n >= NBX_PLUGIN_MAX_COMMANDS) {
                free(name);
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s/commands: more than %d commands",
                                      dir, NBX_PLUGIN_MAX_COMMANDS);
        }
        nbx_plugin_command *n = realloc(c->v, (c->n + 1) * sizeof(*n));
        if (!n) {
                free(name);
                return nbx_error_set(err, ENOMEM, "plugin commands");
        }
        c->v = n;
        nbx_plugin_command cmd = {.name = name, .file = strdup(file), .summary = NULL};
        cmd.summary = cmd.file ? read_summary(dfd, file) : NULL;
        if (!cmd.file || !cmd.summary) {
                command_done(&cmd);
                return nbx_error_set(err, ENOMEM, "plugin commands");
        }
        c->v[c->n++] = cmd;
        return 0;
}

/* The open commands/ folder of dir, or -ENOENT when it has none. */
static int open_commands(const char *dir, nbx_error **err) {
        _cleanup_close_ int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (pfd < 0)
                return nbx_error_set(err, errno == ELOOP ? ENOTDIR : errno,
                                     "open the plugin folder %s (a folder, not a link)", dir);
        int fd = nbx_open_beneath(pfd, "commands", O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT)
                return -ENOENT;
        if (fd < 0)
                return nbx_error_set(err, -fd, "open %s/commands (a folder, not a link)", dir);
        return fd;
}

int nbx_plugin_commands_read(const char *plugin_dir, nbx_plugin_commands *ret, nbx_error **err) {
        int fd = open_commands(plugin_dir, err);
        if (fd == -ENOENT) {
                *ret = (nbx_plugin_commands){0};
                return 0;
        }
        if (fd < 0)
                return fd;
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                return nbx_error_set(err, e, "read %s/commands", plugin_dir);
        }
        nbx_plugin_commands c = {0};
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                struct stat st;
                char *name = command_name(de->d_name);
                if (!name)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode)) {
                        free(name);
                        continue;
                }
                r = add_command(&c, plugin_dir, dirfd(d), de->d_name, name, err);
        }
        if (r < 0) {
                nbx_plugin_commands_done(&c);
                return r;
        }
        if (c.n)
                qsort(c.v, c.n, sizeof(*c.v), cmp_command);
        *ret = c;
        return 0;
}

/* ---- the project's plugins ------------------------------------------------------------------ */

void nbx_vm_plugins_done(nbx_vm_plugins *s) {
        for (size_t i = 0; i < s->n; i++)
                nbx_plugin_commands_done(&s->v[i].commands);
        free(s->v);
        nbx_config_done(&s->cfg);
        *s = (nbx_vm_plugins){0};
}

const nbx_vm_plugin *nbx_vm_plugins_find(const nbx_vm_plugins *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i].plugin->name, name) == 0)
                        return &s->v[i];
        return NULL;
}

static int read_all_commands(const nbx_vm_ctx *c, nbx_vm_plugins *s, nbx_error **err) {
        s->v = s->cfg.n_plugins ? calloc(s->cfg.n_plugins, sizeof(*s->v)) : NULL;
        if (s->cfg.n_plugins && !s->v)
                return nbx_error_set(err, ENOMEM, "plugins");
        /* path plugins are in the approved copy, in the user's home: read as the user */
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(&c->inv, &fs, err);
        for (size_t i = 0; r >= 0 && i < s->cfg.n_plugins; i++) {
                const nbx_plugin *pl = &s->cfg.plugins[i];
                s->v[i].plugin = pl;
                s->n = i + 1;
                if (pl->folder &&
                    (r = nbx_plugin_commands_read(pl->dir, &s->v[i].commands, err)) < 0)
                        nbx_error_wrap(err, "plugin %s", pl->origin);
        }
        return r;
}

int nbx_vm_plugins_load(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_plugins *ret,
                        nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        nbx_vm_plugins s = {0};
        bool have_cfg = (r = nbx_vm_config_load_approved(&c, &s.cfg, err)) >= 0;
        if (r >= 0)
                r = read_all_commands(&c, &s, err);
        nbx_vm_ctx_close(&c);
        if (r < 0) {
                if (have_cfg)
                        nbx_vm_plugins_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- running one ---------------------------------------------------------------------------- */

/* The command's file, opened below the plugin's folder without following a link, as the user;
 * it must be executable. */
static int open_command(const nbx_vm_ctx *c, const nbx_vm_plugin *pl, const nbx_plugin_command *cmd,
                        int *ret_fd, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(&c->inv, &fs, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open_commands(pl->plugin->dir, err);
        if (dfd < 0)
                return dfd == -ENOENT ? nbx_error_set(err, ENOENT, "%s/commands", pl->plugin->dir)
                                      : dfd;
        _cleanup_close_ int fd = nbx_open_beneath(dfd, cmd->file, O_RDONLY, 0);
        struct stat st;
        if (fd < 0)
                return nbx_error_set(err, -fd, "open %s/commands/%s (a file, not a link)",
                                     pl->plugin->dir, cmd->file);
        if (fstat(fd, &st) < 0)
                return nbx_error_set(err, errno, "stat %s/commands/%s", pl->plugin->dir, cmd->file);
        if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR))
                return nbx_error_setx(
                        err, NBX_EXIT_CONFIG, 0, "%s/commands/%s is not an executable file: %s",
                        pl->plugin->dir, cmd->file,
                        pl->plugin->builtin ? "a broken installation of nixbox (reinstall it)"
                                            : "make it executable (chmod +x) in .nixbox/ and run "
                                              "`nixbox allow`");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int command_argv(const nbx_vm_plugin *pl, const nbx_plugin_command *cmd, char *const *args,
                        size_t n_args, nbx_strv *ret, nbx_error **err) {
        int r = nbx_strv_pushf(ret, "%s/commands/%s", pl->plugin->dir, cmd->file);
        for (size_t i = 0; r >= 0 && i < n_args; i++)
                r = nbx_strv_push(ret, args[i]);
        return r < 0 ? nbx_error_set(err, ENOMEM, "plugin command") : 0;
}

/* In the project folder, as hooks run: `"$NIXBOX" run` there acts on this project, however
 * nixbox was called (-C DIR). */
static int spawn_command(const nbx_vm_ctx *c, int fd, char *const *argv, char *const *envp,
                         int *ret_code, nbx_error **err) {
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.cwd = c->p->root;
        so.stdin_fd = NBX_FD_INHERIT;
        so.envp = envp;
        so.drop_privileges = true;
        so.uid = c->inv.uid;
        so.gid = c->inv.gid;
        so.exec_fd = &fd;
        so.keep_fds = &fd;
        so.n_keep_fds = 1;
        return nbx_run(argv, &so, ret_code, err);
}

int nbx_vm_plugin_run(const nbx_project *p, const nbx_vm_opts *o, const nbx_vm_plugins *s,
                      const nbx_vm_plugin *pl, const nbx_plugin_command *cmd, char *const *args,
                      size_t n_args, int *ret_code, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        /* the VM's address when it runs (the record is readable without root) */
        nbx_vm_record rec = NBX_VM_RECORD_INIT;
        bool running = nbx_vm_load_running(&c, &rec, NULL) >= 0;
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = '\0';
        nbx_hook_env env = {.project_dir = p->root,
                            .name = s->cfg.name,
                            .slot = running ? rec.slot : -1,
                            .guest_ip = running ? rec.guest_ip : NULL,
                            .uid = c.inv.uid,
                            .gid = c.inv.gid,
                            .home = c.inv.home,
                            .user = c.inv.name,
                            .nixbox = exe,
                            .config_dir = c.paths.approved_dir};
        _cleanup_strv_ nbx_strv envp = {0}, argv = {0};
        _cleanup_close_ int fd = -1;
        if (n <= 0)
                r = nbx_error_set(err, errno, "find the nixbox binary (/proc/self/exe)");
        if (r >= 0)
                r = nbx_hooks_envp(&env, &envp, err);
        if (r >= 0)
                r = command_argv(pl, cmd, args, n_args, &argv, err);
        if (r >= 0)
                r = open_command(&c, pl, cmd, &fd, err);
        if (r >= 0)
                r = spawn_command(&c, fd, argv.v, envp.v, ret_code, err);
        if (r < 0)
                nbx_error_wrap(err, "nixbox %s %s", pl->plugin->name, cmd->name);
        nbx_vm_record_done(&rec);
        nbx_vm_ctx_close(&c);
        return r;
}
