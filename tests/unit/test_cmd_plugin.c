/* cmd/plugin.c end to end: the real binary ($NIXBOX_BUILD/nixbox) and the real nix-instantiate on
 * a scratch project with a home of its own — dispatch of `nixbox PLUGIN COMMAND`, the names of
 * path plugins, arguments and environment, listings, exit codes, and commands taken from the
 * approved copy only.  No VM: "the VM runs" is a stand-in VM record naming this test process. */
#include "support/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/configproj.h"
#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "vm/paths.h"
#include "vm/record.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Prints its arguments between bars, then its environment's NIXBOX variables and more. */
#define HELLO                                                                                      \
        "#!/bin/sh\n"                                                                              \
        "# nixbox: print the arguments and the environment\n"                                      \
        "printf '%s|' \"$@\"; echo\n"                                                              \
        "echo \"NIXBOX=$NIXBOX\"\n"                                                                \
        "echo \"NIXBOX_PROJECT_DIR=$NIXBOX_PROJECT_DIR\"\n"                                        \
        "echo \"NIXBOX_NAME=$NIXBOX_NAME\"\n"                                                      \
        "echo \"NIXBOX_GUEST_IP=$NIXBOX_GUEST_IP\"\n"                                              \
        "echo \"NIXBOX_SLOT=$NIXBOX_SLOT\"\n"                                                      \
        "echo \"HOME=$HOME\"\n"                                                                    \
        "echo \"INHERITED=$NBX_TEST_INHERITED\"\n"                                                 \
        "echo \"UID=$(id -u)\"\n"                                                                  \
        "echo \"PWD=$(pwd)\"\n"                                                                    \
        "exit 3\n"

typedef struct env {
        char *tmp, *proj, *home, *rt;
        char *env_home, *env_rt;
        const char *envp[8];
} env;

static void write_exec(const char *dir, const char *rel, const char *content) {
        nbx_test_write(dir, rel, content);
        char *p = nbx_path_join(dir, rel);
        assert_int_equal(chmod(p, 0755), 0);
        free(p);
}

static int nixbox(env *e, nbx_test_result *r, const char *const *args) {
        const char *argv[16] = {"-C", e->proj};
        size_t n = 2;
        for (size_t i = 0; args[i] && n < 15; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        return nbx_test_nixbox(r, argv, e->envp);
}

static int setup(void **state) {
        env *e = calloc(1, sizeof(*e));
        e->tmp = nbx_test_tmpdir();
        char *real = realpath(e->tmp, NULL);
        free(e->tmp);
        e->tmp = real;
        e->proj = nbx_path_join(e->tmp, "proj");
        e->home = nbx_path_join(e->tmp, "home");
        e->rt = nbx_path_join(e->tmp, "rt");
        assert_int_equal(mkdir(e->home, 0700), 0);
        nbx_test_write(e->proj, ".nixbox/config.nix",
                       "{ name = \"plug\"; plugins = [ \"aws\" ./tools \"./single.nix\" ];"
                       "  network.upstreamDns = [ \"192.0.2.53\" ]; }\n");
        nbx_test_write(e->proj, ".nixbox/tools/default.nix", "{ nix.packages = [ \"jq\" ]; }\n");
        write_exec(e->proj, ".nixbox/tools/commands/hello.sh", HELLO);
        write_exec(e->proj, ".nixbox/tools/commands/fail", "#!/bin/sh\nkill -TERM $$\n");
        nbx_test_write(e->proj, ".nixbox/single.nix", "{ }\n");
        assert_true(asprintf(&e->env_home, "HOME=%s", e->home) > 0);
        assert_true(asprintf(&e->env_rt, "NIXBOX_RUNTIME_DIR=%s", e->rt) > 0);
        const char *envp[] = {e->env_home, e->env_rt,  "NO_COLOR=1", "NBX_TEST_INHERITED=yes",
                              "SUDO_UID",  "SUDO_GID", "SUDO_USER",  NULL};
        memcpy(e->envp, envp, sizeof(envp));
        nbx_test_result r;
        if (nixbox(e, &r, ARGS("allow")) != 0)
                fail_msg("allow: %s", r.err);
        nbx_test_result_done(&r);
        *state = e;
        return 0;
}

static int teardown(void **state) {
        env *e = *state;
        free(e->proj);
        free(e->home);
        free(e->rt);
        free(e->env_home);
        free(e->env_rt);
        nbx_test_rmdir(e->tmp);
        free(e);
        return 0;
}

static void line(const char *out, const char *want) {
        char *needle = NULL;
        assert_true(asprintf(&needle, "\n%s\n", want) > 0);
        char *hay = NULL;
        assert_true(asprintf(&hay, "\n%s", out) > 0);
        if (!strstr(hay, needle))
                fail_msg("no line \"%s\" in:\n%s", want, out);
        free(needle);
        free(hay);
}

static void test_arguments_and_environment(void **state) {
        env *e = *state;
        nbx_test_result r;
        /* exactly as given (empty, spaces, options, $); the command's exit code is nixbox's */
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello", "a b", "", "--help", "$HOME", "-C")),
                         3);
        line(r.out, "a b||--help|$HOME|-C|");
        char *bin = realpath(getenv("NIXBOX_BUILD") ? getenv("NIXBOX_BUILD") : "build", NULL);
        char want[PATH_MAX + 64];
        snprintf(want, sizeof(want), "NIXBOX=%s/nixbox", bin);
        line(r.out, want);
        free(bin);
        snprintf(want, sizeof(want), "NIXBOX_PROJECT_DIR=%s", e->proj);
        line(r.out, want);
        line(r.out, "NIXBOX_NAME=plug");
        line(r.out, "NIXBOX_GUEST_IP="); /* the VM does not run */
        line(r.out, "NIXBOX_SLOT=");
        snprintf(want, sizeof(want), "HOME=%s", e->home);
        line(r.out, want);
        line(r.out, "INHERITED=yes");
        /* root's own project (no SUDO_UID): as root; under sudo: as the user (e2e) */
        snprintf(want, sizeof(want), "UID=%u", (unsigned)getuid());
        line(r.out, want);
        /* the project folder, wherever nixbox was called from (-C) */
        snprintf(want, sizeof(want), "PWD=%s", e->proj);
        line(r.out, want);
        assert_string_equal(r.err, "");
        nbx_test_result_done(&r);
        /* a signal: 128 + N, as `run` */
        assert_int_equal(nixbox(e, &r, ARGS("tools", "fail")), 128 + 15);
        nbx_test_result_done(&r);
}

/* A stand-in VM record, as `up` writes it, naming this (live) process as the hypervisor. */
static void test_environment_when_the_vm_runs(void **state) {
        env *e = *state;
        nbx_vm_paths p;
        assert_int_equal(nbx_vm_paths_get(e->rt, e->proj, e->home, &p, NULL), 0);
        assert_int_equal(nbx_mkdir_p(p.vm_dir, 0755, NULL), 0);
        nbx_vm_record rec = NBX_VM_RECORD_INIT;
        rec.name = strdup("plug");
        rec.project_dir = strdup(e->proj);
        rec.uid = getuid();
        rec.gid = getgid();
        rec.slot = 5;
        rec.hv = (nbx_proc_ref){.pid = getpid(), .start_time = nbx_pid_start_time(getpid())};
        rec.guest_ip = strdup("198.51.100.7");
        rec.user = strdup("u");
        rec.ready = true;
        assert_int_equal(nbx_vm_record_save(p.record, &rec, NULL), 0);
        nbx_test_result r;
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello")), 3);
        line(r.out, "NIXBOX_GUEST_IP=198.51.100.7");
        line(r.out, "NIXBOX_SLOT=5");
        nbx_test_result_done(&r);
        assert_int_equal(unlink(p.record), 0);
        nbx_vm_record_done(&rec);
        nbx_vm_paths_done(&p);
}

static void test_listings(void **state) {
        env *e = *state;
        nbx_test_result r;
        /* `nixbox PLUGIN`: its commands with their summaries; path plugins by their names */
        assert_int_equal(nixbox(e, &r, ARGS("tools")), 0);
        nbx_test_assert_contains(r.out, "usage: nixbox tools COMMAND [ARG...]");
        nbx_test_assert_contains(r.out, "(plugin ./tools, from the approved copy of .nixbox/)");
        nbx_test_assert_contains(r.out, "  fail   \n");
        nbx_test_assert_contains(r.out, "  hello  print the arguments and the environment\n");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("tools", "--help")), 0);
        nbx_test_assert_contains(r.out, "hello  print the arguments");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("single")), 0);
        nbx_test_assert_contains(r.out, "has no commands (a single .nix file has none");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("aws")), 0);
        nbx_test_assert_contains(r.out, "(built-in plugin aws)");
        nbx_test_assert_contains(r.out, "  login  log in to AWS on the host");
        nbx_test_result_done(&r);
        /* `nixbox help`: every plugin command of the project; `help PLUGIN`: one plugin's */
        assert_int_equal(nixbox(e, &r, ARGS("help")), 0);
        nbx_test_assert_contains(r.out, "plugin commands of this project");
        nbx_test_assert_contains(r.out, "  aws login    log in to AWS");
        nbx_test_assert_contains(r.out, "  tools hello  print the arguments");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("--help")), 0);
        nbx_test_assert_contains(r.out, "  tools fail");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("help", "tools")), 0);
        nbx_test_assert_contains(r.out, "usage: nixbox tools COMMAND");
        nbx_test_result_done(&r);
}

static void test_unknown_names(void **state) {
        env *e = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(e, &r, ARGS("tool", "hello")), NBX_EXIT_USAGE);
        nbx_test_assert_contains(r.err, "unknown command 'tool': neither a nixbox command nor a "
                                        "plugin of this project (its plugins: aws, tools, single)");
        assert_string_equal(r.out, "");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("stauts")), NBX_EXIT_USAGE);
        nbx_test_assert_contains(r.err, "(did you mean 'status'?)");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello.sh")), NBX_EXIT_USAGE);
        nbx_test_assert_contains(r.err, "plugin tools has no command 'hello.sh' (its commands: "
                                        "fail, hello)");
        nbx_test_result_done(&r);
        /* nothing outside commands/ can be named */
        assert_int_equal(nixbox(e, &r, ARGS("tools", "../default.nix")), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("..", "tools")), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
        /* outside a project: a built-in plugin's command needs one, anything else is unknown */
        char *empty = nbx_path_join(e->tmp, "empty");
        assert_int_equal(mkdir(empty, 0755), 0);
        assert_int_equal(nbx_test_nixbox(&r, ARGS("-C", empty, "aws", "login"), e->envp),
                         NBX_EXIT_NO_PROJECT);
        nbx_test_assert_contains(r.err, "nixbox aws: plugin commands act on a project");
        nbx_test_result_done(&r);
        assert_int_equal(nbx_test_nixbox(&r, ARGS("-C", empty, "tools", "hello"), e->envp),
                         NBX_EXIT_USAGE);
        nbx_test_assert_contains(r.err, "unknown command 'tools'");
        nbx_test_result_done(&r);
        free(empty);
}

/* The built-in commands say so when the VM does not run (exit 5), before touching anything. */
static void test_builtin_commands_need_the_vm(void **state) {
        env *e = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(e, &r, ARGS("aws", "login", "myprofile")), NBX_EXIT_NOT_RUNNING);
        nbx_test_assert_contains(r.err, "nixbox aws login: the VM of");
        nbx_test_assert_contains(r.err, "is not running (start it with `sudo nixbox up`)");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("aws", "login", "-x")), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("aws", "login", "--help")), 0);
        nbx_test_assert_contains(r.out, "usage: nixbox aws login [PROFILE]");
        nbx_test_result_done(&r);
}

/* Commands come from the approved copy: a change in the live .nixbox/ runs nothing until it is
 * approved (exit 9), then the new command runs. */
static void test_approved_copy_only(void **state) {
        env *e = *state;
        write_exec(e->proj, ".nixbox/tools/commands/hello.sh", "#!/bin/sh\necho changed\n");
        nbx_test_result r;
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello")), NBX_EXIT_NOT_APPROVED);
        assert_string_equal(r.out, "");
        nbx_test_assert_contains(r.err, "nixbox allow");
        nbx_test_assert_contains(r.err, "plugins and their commands come from the approved "
                                        "configuration");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("help")), 0);
        nbx_test_assert_contains(r.out, "plugin commands of this project: not shown (its "
                                        "configuration is not approved: `nixbox allow`)");
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("allow")), 0);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello")), 0);
        assert_string_equal(r.out, "changed\n");
        nbx_test_result_done(&r);
        /* an approved command that is not executable: a config error saying what to do */
        char *f = nbx_path_join(e->proj, ".nixbox/tools/commands/hello.sh");
        assert_int_equal(chmod(f, 0644), 0);
        free(f);
        assert_int_equal(nixbox(e, &r, ARGS("allow")), 0);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(e, &r, ARGS("tools", "hello")), NBX_EXIT_CONFIG);
        nbx_test_assert_contains(r.err, "is not an executable file: make it executable");
        nbx_test_result_done(&r);
        write_exec(e->proj, ".nixbox/tools/commands/hello.sh", HELLO);
        assert_int_equal(nixbox(e, &r, ARGS("allow")), 0);
        nbx_test_result_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_arguments_and_environment),
                cmocka_unit_test(test_environment_when_the_vm_runs),
                cmocka_unit_test(test_listings),
                cmocka_unit_test(test_unknown_names),
                cmocka_unit_test(test_builtin_commands_need_the_vm),
                cmocka_unit_test(test_approved_copy_only),
        };
        return cmocka_run_group_tests_name("cmd_plugin", tests, setup, teardown);
}
