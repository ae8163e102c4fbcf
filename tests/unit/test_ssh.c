/* SSH argv, remote command quoting (checked by running the command strings in a real sh), key
 * generation with the real ssh-keygen, host key pinning and the SSH port wait. */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"
#include "vm/ssh.h"

static const char *argv_value_after(const nbx_strv *v, const char *flag, const char *prefix) {
        for (size_t i = 0; i + 1 < v->n; i++)
                if (strcmp(v->v[i], flag) == 0 && strncmp(v->v[i + 1], prefix, strlen(prefix)) == 0)
                        return v->v[i + 1];
        return NULL;
}

static void test_argv_pins_host_key(void **state) {
        (void)state;
        nbx_ssh_target t = {.ssh_dir = "/p/.nixbox/ssh",
                            .host = "172.16.0.2",
                            .user = "alice",
                            .control_path = "/p/.nixbox/run/ssh.sock"};
        nbx_strv v = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_ssh_argv(&t, NBX_SSH_BATCH, "echo hi", &v, &err), 0);
        assert_string_equal(v.v[0], "ssh");
        assert_string_equal(v.v[1], "-F");
        assert_string_equal(v.v[2], "none");
        assert_non_null(argv_value_after(&v, "-o", "StrictHostKeyChecking=yes"));
        assert_string_equal(argv_value_after(&v, "-o", "UserKnownHostsFile="),
                            "UserKnownHostsFile=/p/.nixbox/ssh/known_hosts");
        assert_string_equal(argv_value_after(&v, "-o", "GlobalKnownHostsFile="),
                            "GlobalKnownHostsFile=/dev/null");
        assert_string_equal(argv_value_after(&v, "-i", "/"), "/p/.nixbox/ssh/id_ed25519");
        assert_non_null(argv_value_after(&v, "-o", "BatchMode=yes"));
        assert_string_equal(argv_value_after(&v, "-o", "ControlPath="),
                            "ControlPath=/p/.nixbox/run/ssh.sock");
        assert_non_null(argv_value_after(&v, "-o", "ControlMaster=no"));
        assert_string_equal(argv_value_after(&v, "-l", ""), "alice");
        /* no option disables host key checking */
        for (size_t i = 0; i < v.n; i++) {
                assert_null(strstr(v.v[i], "StrictHostKeyChecking=no"));
                assert_null(strstr(v.v[i], "accept-new"));
        }
        /* ... host -- REMOTE at the end, and -T for batch */
        assert_string_equal(v.v[v.n - 1], "echo hi");
        assert_string_equal(v.v[v.n - 2], "--");
        assert_string_equal(v.v[v.n - 3], "172.16.0.2");
        assert_true(nbx_strv_contains(&v, "-T"));
        assert_false(nbx_strv_contains(&v, "-t"));
        nbx_strv_clear(&v);

        assert_int_equal(nbx_ssh_argv(&t, NBX_SSH_TTY, "x", &v, &err), 0);
        assert_true(nbx_strv_contains(&v, "-t"));
        assert_false(nbx_strv_contains(&v, "-T"));
        nbx_strv_clear(&v);

        assert_int_equal(nbx_ssh_argv(&t, NBX_SSH_MASTER, NULL, &v, &err), 0);
        assert_true(nbx_strv_contains(&v, "-N"));
        assert_non_null(argv_value_after(&v, "-o", "ControlMaster=yes"));
        assert_string_equal(v.v[v.n - 1], "172.16.0.2");
        nbx_strv_clear(&v);

        assert_int_equal(nbx_ssh_argv(&t, NBX_SSH_MASTER_EXIT, NULL, &v, &err), 0);
        assert_string_equal(argv_value_after(&v, "-O", ""), "exit");
        nbx_strv_clear(&v);

        t.port = 2222;
        assert_int_equal(nbx_ssh_argv(&t, NBX_SSH_BATCH, NULL, &v, &err), 0);
        assert_string_equal(argv_value_after(&v, "-p", ""), "2222");
        assert_string_equal(v.v[v.n - 1], "172.16.0.2");
        nbx_strv_clear(&v);
}

static void test_argv_rejects_long_control_path(void **state) {
        (void)state;
        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        nbx_ssh_target t = {
                .ssh_dir = "/s", .host = "10.0.0.2", .user = "u", .control_path = longp};
        nbx_strv v = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_ssh_argv(&t, NBX_SSH_BATCH, "x", &v, &err) < 0);
        assert_null(v.v);
}

/* The remote command string is what sshd hands to the user's shell (`$SHELL -c STRING`): run it
 * through a real sh and check the arguments arrive exactly as given. */
static char *sh_c(const char *cmd) {
        char *argv[] = {"sh", "-c", (char *)cmd, NULL};
        char *out = NULL;
        int status = 0;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_run_capture(argv, NULL, 0, &status, &out, NULL, &err), 0);
        assert_int_equal(nbx_status_code(status), 0);
        return out;
}

static void test_run_command_passes_args_once(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "a b", "x");
        char *args[] = {"printf", "<%s>", "a b", "it's", "$HOME", "`id`", "", "*", "x;y", "\n"};
        char *cmd = nbx_ssh_run_command(dir, args, NBX_ARRAY_SIZE(args));
        assert_non_null(cmd);
        char *out = sh_c(cmd);
        assert_string_equal(out, "<a b><it's><$HOME><`id`><><*><x;y><\n>");
        free(out);
        free(cmd);

        /* `nixbox run ls "a b"` in the workspace lists the one file named "a b" */
        char *ls[] = {"ls", "a b"};
        cmd = nbx_ssh_run_command(dir, ls, 2);
        out = sh_c(cmd);
        assert_string_equal(out, "a b\n");
        free(out);
        free(cmd);

        /* a shell string is passed explicitly through sh -c */
        char *shs[] = {"sh", "-c", "echo $((6*7)) | tr 4 X"};
        cmd = nbx_ssh_run_command(NULL, shs, 3);
        out = sh_c(cmd);
        assert_string_equal(out, "X2\n");
        free(out);
        free(cmd);
        nbx_test_rmdir(dir);
}

static void test_run_command_exit_code(void **state) {
        (void)state;
        char *args[] = {"sh", "-c", "exit 7"};
        char *cmd = nbx_ssh_run_command("/nonexistent-dir", args, 3);
        char *argv[] = {"sh", "-c", cmd, NULL};
        int status = 0;
        _cleanup_error_ nbx_error *err = NULL;
        char *out = NULL;
        assert_int_equal(nbx_run_capture(argv, NULL, 0, &status, &out, NULL, &err), 0);
        assert_int_equal(nbx_status_code(status), 7);
        free(out);
        free(cmd);
}

static void test_shell_command(void **state) {
        (void)state;
        char *s = nbx_ssh_shell_command("/home/u/workspace");
        assert_string_equal(s, "cd '/home/u/workspace' 2>/dev/null; exec \"${SHELL:-/bin/sh}\" -l");
        free(s);
        s = nbx_ssh_shell_command(NULL);
        assert_string_equal(s, "exec \"${SHELL:-/bin/sh}\" -l");
        free(s);
}

/* The script command stores stdin in a temp file and runs it (its #! honoured) in workdir. */
static void test_script_command_runs_stdin(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "setup.sh", "#!/bin/sh\necho \"in $(basename \"$PWD\")\"\nexit 3\n");
        char *script = nbx_path_join(dir, "setup.sh");
        char *cmd = nbx_ssh_script_command(dir);
        FILE *in = fopen(script, "re");
        assert_non_null(in);
        char *argv[] = {"sh", "-c", cmd, NULL};
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.stdin_fd = fileno(in);
        int status = 0;
        char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_run_capture(argv, &o, 0, &status, &out, NULL, &err), 0);
        assert_int_equal(nbx_status_code(status), 3);
        char *expect = NULL;
        assert_true(asprintf(&expect, "in %s\n", strrchr(dir, '/') + 1) > 0);
        assert_string_equal(out, expect);
        free(expect);
        free(out);
        fclose(in);
        free(cmd);
        free(script);
        nbx_test_rmdir(dir);
}

static void test_keys_and_known_hosts(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *sshdir = nbx_path_join(dir, "ssh");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_invoker inv;
        assert_int_equal(nbx_invoker_get(&inv, &err), 0);
        assert_int_equal(mkdir(sshdir, 0700), 0);
        assert_int_equal(nbx_ssh_keys_ensure(sshdir, &inv, "nixbox@test", &err), 0);
        struct stat st;
        /* the VM's identity: a key pair of its own, named by the comment */
        char *ident = NULL;
        assert_int_equal(nbx_ssh_key_read(sshdir, NBX_SSH_IDENTITY_KEY ".pub", &inv, &ident, &err),
                         0);
        assert_int_equal(strncmp(ident, "ssh-ed25519 ", 12), 0);
        assert_non_null(strstr(ident, "nixbox@test"));
        free(ident);
        /* key files are read without following links */
        char *link = nbx_path_join(sshdir, "linked");
        assert_int_equal(symlink("/etc/hostname", link), 0);
        assert_int_equal(nbx_ssh_key_read(sshdir, "linked", &inv, &ident, &err), -ELOOP);
        nbx_error_free(err);
        err = NULL;
        free(link);
        char *hostpub = NULL, *clientkey = NULL;
        size_t len;
        char *p = nbx_path_join(sshdir, "ssh_host_ed25519_key.pub");
        assert_int_equal(nbx_read_file(p, 65536, &hostpub, &len, &err), 0);
        assert_int_equal(strncmp(hostpub, "ssh-ed25519 ", 12), 0);
        free(p);
        p = nbx_path_join(sshdir, "id_ed25519");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0077, 0); /* private */
        assert_int_equal(nbx_read_file(p, 65536, &clientkey, &len, &err), 0);
        assert_non_null(strstr(clientkey, "OPENSSH PRIVATE KEY"));

        /* idempotent: keys survive a second call */
        assert_int_equal(nbx_ssh_keys_ensure(sshdir, &inv, "nixbox@test", &err), 0);
        char *again = NULL;
        assert_int_equal(nbx_read_file(p, 65536, &again, &len, &err), 0);
        assert_string_equal(again, clientkey);
        free(p);

        assert_int_equal(nbx_ssh_known_hosts_write(sshdir, "172.16.0.6", &inv, &err), 0);
        char *kh = NULL;
        p = nbx_path_join(sshdir, "known_hosts");
        assert_int_equal(nbx_read_file(p, 65536, &kh, &len, &err), 0);
        char type[32], key[1024];
        assert_int_equal(sscanf(hostpub, "%31s %1023s", type, key), 2);
        char *expect = NULL;
        assert_true(asprintf(&expect, "172.16.0.6 ssh-ed25519 %s\n", key) > 0);
        assert_string_equal(kh, expect);

        /* ssh-keygen -F finds the pinned key for that address (the real parser agrees) */
        char *argv[] = {"ssh-keygen", "-F", "172.16.0.6", "-f", p, NULL};
        int status = 0;
        char *out = NULL;
        assert_int_equal(nbx_run_capture(argv, NULL, 0, &status, &out, NULL, &err), 0);
        assert_int_equal(nbx_status_code(status), 0);
        assert_non_null(strstr(out, key));
        free(out);

        free(expect);
        free(kh);
        free(p);
        free(again);
        free(hostpub);
        free(clientkey);
        free(sshdir);
        nbx_invoker_done(&inv);
        nbx_test_rmdir(dir);
}

struct banner_server {
        int fd;
        const char *banner;
};

static void *serve_one(void *arg) {
        struct banner_server *s = arg;
        int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
                (void)!write(c, s->banner, strlen(s->banner));
                close(c);
        }
        return NULL;
}

static int listen_local(uint16_t *ret_port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        socklen_t sl = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

static void test_wait_port_sees_banner(void **state) {
        (void)state;
        uint16_t port;
        struct banner_server s = {.fd = listen_local(&port), .banner = "SSH-2.0-test\r\n"};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, serve_one, &s), 0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_ssh_wait_port("127.0.0.1", port, nbx_deadline_in(5000), &err), 0);
        pthread_join(th, NULL);
        close(s.fd);
}

static void test_wait_port_times_out(void **state) {
        (void)state;
        uint16_t port;
        int fd = listen_local(&port);
        close(fd); /* nothing listens there any more: refused until the deadline */
        _cleanup_error_ nbx_error *err = NULL;
        uint64_t t0 = nbx_now_ms();
        assert_int_equal(nbx_ssh_wait_port("127.0.0.1", port, nbx_deadline_in(300), &err),
                         -ETIMEDOUT);
        assert_true(nbx_now_ms() - t0 < 2000);
        assert_non_null(strstr(err->msg, "did not answer"));
}

static void test_connect_fails_cleanly_without_server(void **state) {
        (void)state;
        uint16_t port;
        int fd = listen_local(&port);
        close(fd);
        char *dir = nbx_test_tmpdir();
        nbx_ssh_target t = {.ssh_dir = dir, .host = "127.0.0.1", .user = "u", .port = port};
        pid_t pid = -1;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_ssh_connect(&t, -1, nbx_deadline_in(200), &pid, &err) < 0);
        assert_int_equal(pid, -1); /* not written on failure */
        nbx_test_rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_pins_host_key),
                cmocka_unit_test(test_argv_rejects_long_control_path),
                cmocka_unit_test(test_run_command_passes_args_once),
                cmocka_unit_test(test_run_command_exit_code),
                cmocka_unit_test(test_shell_command),
                cmocka_unit_test(test_script_command_runs_stdin),
                cmocka_unit_test(test_keys_and_known_hosts),
                cmocka_unit_test(test_wait_port_sees_banner),
                cmocka_unit_test(test_wait_port_times_out),
                cmocka_unit_test(test_connect_fails_cleanly_without_server),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
