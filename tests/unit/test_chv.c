/* cloud-hypervisor backend.  cloud-hypervisor cannot be installed on our machines, so:
 * - its command line is checked option by option against cloud-hypervisor's own syntax strings
 *   (tests/vm/cloud-hypervisor-cli-syntax.txt, extracted verbatim from its source);
 * - its REST client is contract-tested against tests/vm/fake_chv.py, a server that reads the
 *   OpenAPI specification (tests/vm/cloud-hypervisor-openapi.yaml) and rejects any request that
 *   does not follow it. */
#include "support/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"
#include "vm/hv.h"

#define SPEC "tests/vm/cloud-hypervisor-openapi.yaml"
#define CLI_SYNTAX "tests/vm/cloud-hypervisor-cli-syntax.txt"
#define FAKE "tests/vm/fake_chv.py"

/* ---- argv ------------------------------------------------------------------------------------ */

static nbx_image test_image = {.kernel = "/img/vmlinux",
                               .initrd = "/img/initrd",
                               .cmdline = "console=ttyS0 quiet",
                               .disk = "/img/root.img"};

static nbx_vm_spec base_spec(void) {
        return (nbx_vm_spec){.name = "demo",
                             .vcpus = 4,
                             .memory_mb = 2048,
                             .image = &test_image,
                             .accel = NBX_ACCEL_KVM,
                             .tap = "nbx3",
                             .mac = "02:00:00:00:00:03",
                             .vsock_cid = 7,
                             .api_socket = "/run/nbx/api.sock",
                             .vsock_socket = "/run/nbx/vsock.sock",
                             .serial_log = "/run/nbx/serial.log"};
}

static void test_argv_exact(void **state) {
        (void)state;
        nbx_vm_share shares[2] = {{.tag = "nbxfs0", .socket = "/run/nbx/fs0.sock"},
                                  {.tag = "nbxfs1", .socket = "/run/nbx/fs1.sock"}};
        nbx_vm_disk disks[2] = {{.path = "/proc/self/fd/5",
                                 .readonly = true,
                                 .serial = "nixbox-creds",
                                 .id = "creds"},
                                {.path = "/data/scratch.img", .readonly = false, .id = "scratch"}};
        nbx_vm_spec s = base_spec();
        s.shares = shares, s.n_shares = 2, s.disks = disks, s.n_disks = 2;
        _cleanup_strv_ nbx_strv a = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(
                nbx_hv_cloud_hypervisor.build_argv(&s, "/usr/bin/cloud-hypervisor", &a, &err), 0);
        static const char *const want[] = {
                "/usr/bin/cloud-hypervisor",
                "--api-socket",
                "path=/run/nbx/api.sock",
                "--kernel",
                "/img/vmlinux",
                "--initramfs",
                "/img/initrd",
                "--cmdline",
                "console=ttyS0 quiet",
                "--cpus",
                "boot=4",
                "--memory",
                "size=2048M,shared=on",
                "--balloon",
                "size=0,free_page_reporting=on",
                "--net",
                "tap=nbx3,mac=02:00:00:00:00:03",
                "--vsock",
                "cid=7,socket=/run/nbx/vsock.sock",
                "--fs",
                "tag=nbxfs0,socket=/run/nbx/fs0.sock,id=nbxfs0",
                "--fs",
                "tag=nbxfs1,socket=/run/nbx/fs1.sock,id=nbxfs1",
                "--disk",
                "path=/img/root.img,readonly=on,id=nbxroot,serial=nixbox-root",
                "--disk",
                "path=/proc/self/fd/5,readonly=on,id=creds,serial=nixbox-creds",
                "--disk",
                "path=/data/scratch.img,readonly=off,id=scratch",
                "--serial",
                "file=/run/nbx/serial.log",
                "--console",
                "off",
        };
        assert_int_equal(a.n, NBX_ARRAY_SIZE(want));
        for (size_t i = 0; i < a.n; i++)
                assert_string_equal(a.v[i], want[i]);
        assert_null(a.v[a.n]);
}

static void test_argv_variants(void **state) {
        (void)state;
        nbx_image img = {.kernel = "/img/vmlinux", .cmdline = ""};
        nbx_vm_spec s = base_spec();
        s.image = &img;
        s.net_queues = 2;
        s.vsock_socket = NULL; /* no host socket: no vsock device */
        _cleanup_strv_ nbx_strv a = {0};
        assert_int_equal(nbx_hv_cloud_hypervisor.build_argv(&s, "ch", &a, NULL), 0);
        bool net = false;
        for (size_t i = 0; i < a.n; i++) {
                assert_string_not_equal(a.v[i], "--initramfs");
                assert_string_not_equal(a.v[i], "--cmdline"); /* empty: left out */
                assert_string_not_equal(a.v[i], "--vsock");
                assert_string_not_equal(a.v[i], "--disk");
                if (strcmp(a.v[i], "--net") == 0) {
                        /* num_queues counts queues, two per RX/TX pair */
                        assert_string_equal(a.v[i + 1],
                                            "tap=nbx3,mac=02:00:00:00:00:03,num_queues=4");
                        net = true;
                }
        }
        assert_true(net);

        /* cloud-hypervisor has no software emulation */
        s.accel = NBX_ACCEL_TCG;
        _cleanup_strv_ nbx_strv b = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_hv_cloud_hypervisor.build_argv(&s, "ch", &b, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "vm.hypervisor = \"qemu\""));
        nbx_error_free(TAKE_PTR(err));

        /* paths cloud-hypervisor's option parser would split */
        s.accel = NBX_ACCEL_KVM;
        nbx_vm_share sh = {.tag = "nbxfs0", .socket = "/run/a,b.sock"};
        s.shares = &sh, s.n_shares = 1;
        assert_true(nbx_hv_cloud_hypervisor.build_argv(&s, "ch", &b, &err) < 0);
        assert_non_null(strstr(err->msg, "share nbxfs0: share socket: path contains ','"));
}

/* The syntax text cloud-hypervisor documents for an option: its SYNTAX constant, or for options
 * defined inline, the help text after .long("name"). */
static const char *syntax_anchor(const char *opt) {
        static const struct {
                const char *opt, *anchor;
        } map[] = {
                {"disk", "\"Disk parameters"},       {"net", "\"Network parameters"},
                {"fs", "\"virtio-fs parameters"},    {"vsock", "\"Virtio VSOCK parameters"},
                {"balloon", "\"Balloon parameters"}, {"memory", ".long(\"memory\")"},
                {"cpus", ".long(\"cpus\")"},         {"api-socket", ".long(\"api-socket\")"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(map); i++)
                if (strcmp(map[i].opt, opt) == 0)
                        return map[i].anchor;
        return NULL;
}

static void test_argv_follows_cli_syntax(void **state) {
        (void)state;
        _cleanup_free_ char *syntax = NULL;
        size_t len;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_read_file(CLI_SYNTAX, 1 << 20, &syntax, &len, &err), 0);

        nbx_vm_share shares[1] = {{.tag = "nbxfs0", .socket = "/run/nbx/fs0.sock"}};
        nbx_vm_disk disks[1] = {
                {.path = "/d.img", .readonly = true, .serial = "nixbox-creds", .id = "creds"}};
        nbx_vm_spec s = base_spec();
        s.shares = shares, s.n_shares = 1, s.disks = disks, s.n_disks = 1, s.net_queues = 2;
        _cleanup_strv_ nbx_strv a = {0};
        assert_int_equal(nbx_hv_cloud_hypervisor.build_argv(&s, "ch", &a, NULL), 0);

        size_t checked_keys = 0;
        for (size_t i = 1; i < a.n; i++) {
                if (strncmp(a.v[i], "--", 2) != 0)
                        continue;
                const char *opt = a.v[i] + 2;
                /* every option exists: Arg::new("opt").long("opt") */
                char longdef[64];
                snprintf(longdef, sizeof(longdef), ".long(\"%s\")", opt);
                if (!strstr(syntax, longdef))
                        fail_msg("--%s is not a cloud-hypervisor option", opt);
                const char *anchor = syntax_anchor(opt);
                if (!anchor)
                        continue; /* kernel, initramfs, cmdline: plain values; serial, console:
                                   * their syntax is not in the extract (file=, off are
                                   * documented in api.md and the --help output) */
                const char *block = strstr(syntax, anchor);
                assert_non_null(block);
                const char *end = strstr(block + 1, "Arg::new(");
                const char *end2 = strstr(block + 1, "pub const SYNTAX");
                if (!end || (end2 && end2 < end))
                        end = end2;
                /* every key=... of the value appears as "key=" in that option's syntax */
                _cleanup_free_ char *value = strdup(a.v[i + 1]);
                char *save = NULL;
                for (char *kv = strtok_r(value, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                        char *eq = strchr(kv, '=');
                        assert_non_null(eq);
                        char key[64];
                        snprintf(key, sizeof(key), "%.*s=", (int)(eq - kv), kv);
                        const char *hit = strstr(block, key);
                        /* match a whole key: preceded by a separator */
                        while (hit && hit < end && strchr("\",\\ ", hit[-1]) == NULL)
                                hit = strstr(hit + 1, key);
                        if (!hit || (end && hit >= end))
                                fail_msg("--%s: key %s not in cloud-hypervisor's syntax", opt, key);
                        checked_keys++;
                }
        }
        assert_true(checked_keys >= 15);
}

/* ---- REST client against the spec-following fake ----------------------------------------------
 */

typedef struct fake {
        char *dir;
        char *sock;
        char *log;
        char *out;
        pid_t pid;
} fake;

static int fake_setup(void **state) {
        fake *f = calloc(1, sizeof(*f));
        f->dir = nbx_test_tmpdir();
        f->sock = nbx_path_join(f->dir, "api.sock");
        f->log = nbx_path_join(f->dir, "requests.jsonl");
        f->out = nbx_path_join(f->dir, "fake.out");
        *state = f;
        return 0;
}

static void fake_stop(fake *f) {
        if (f->pid > 0) {
                (void)kill(f->pid, SIGKILL);
                (void)waitpid(f->pid, NULL, 0);
                f->pid = 0;
        }
}

static int fake_teardown(void **state) {
        fake *f = *state;
        fake_stop(f);
        nbx_test_rmdir(f->dir);
        free(f->sock);
        free(f->log);
        free(f->out);
        free(f);
        return 0;
}

/* Start the fake with extra arguments (NULL-terminated) and wait for its API with the client's
 * own wait_api. */
static void fake_start(fake *f, const char *const *extra) {
        _cleanup_strv_ nbx_strv argv = {0};
        const char *base[] = {"python3",  FAKE,    "--spec", SPEC,
                              "--socket", f->sock, "--log",  f->log};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(base); i++)
                assert_int_equal(nbx_strv_push(&argv, base[i]), 0);
        for (size_t i = 0; extra && extra[i]; i++)
                assert_int_equal(nbx_strv_push(&argv, extra[i]), 0);
        _cleanup_close_ int out = open(f->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(out >= 0);
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.stdout_fd = out;
        so.stderr_fd = out;
        so.die_with_parent = true;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_spawn(argv.v, &so, &f->pid, &err), 0);
        if (nbx_hv_cloud_hypervisor.wait_api(f->sock, nbx_deadline_in(20000), &err) < 0) {
                _cleanup_free_ char *data = NULL;
                size_t len;
                (void)nbx_read_file(f->out, 1 << 16, &data, &len, NULL);
                fail_msg("fake cloud-hypervisor did not come up: %s\n%s", err->msg,
                         data ? data : "");
        }
}

/* The logged requests, as a JSON array; fails the test on any spec violation. */
static json_t *fake_requests(const fake *f) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_read_file(f->log, 1 << 22, &data, &len, &err), 0);
        json_t *all = json_array();
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                json_error_t jerr;
                json_t *r = json_loads(line, 0, &jerr);
                assert_non_null(r);
                json_t *v = json_object_get(r, "violations");
                if (json_array_size(v) > 0) {
                        char *text = json_dumps(r, 0);
                        print_message("spec violation: %s\n", text);
                        free(text);
                        json_decref(r);
                        json_decref(all);
                        fail_msg("the client broke the OpenAPI contract");
                }
                json_array_append_new(all, r);
        }
        return all;
}

/* The last logged request to endpoint (borrowed from reqs), or NULL. */
static json_t *last_request(json_t *reqs, const char *endpoint, size_t *ret_count) {
        char path[64];
        snprintf(path, sizeof(path), "/api/v1/%s", endpoint);
        json_t *hit = NULL;
        size_t i, n = 0;
        json_t *r;
        json_array_foreach(reqs, i, r) {
                if (strcmp(json_string_value(json_object_get(r, "path")), path) == 0) {
                        hit = r;
                        n++;
                }
        }
        if (ret_count)
                *ret_count = n;
        return hit;
}

static void test_client_happy_path(void **state) {
        fake *f = *state;
        fake_start(f, (const char *const[]){"--unplug-polls", "3", NULL});
        _cleanup_error_ nbx_error *err = NULL;

        nbx_vm_info info = {0};
        assert_int_equal(nbx_hv_cloud_hypervisor.info(f->sock, &info, &err), 0);
        assert_string_equal(info.state, "running");

        nbx_vm_disk d = {.path = "/proc/self/fd/7",
                         .readonly = true,
                         .serial = "nixbox-creds",
                         .id = "creds"};
        assert_int_equal(nbx_hv_cloud_hypervisor.add_disk(f->sock, &d, &err), 0);
        nbx_vm_share sh = {.tag = "nbxfs2", .socket = "/run/nbx/fs2.sock"};
        assert_int_equal(nbx_hv_cloud_hypervisor.add_fs(f->sock, &sh, &err), 0);

        /* the same id twice: 409 from the VMM, reported with the operation */
        if (nbx_hv_cloud_hypervisor.add_disk(f->sock, &d, &err) == 0)
                fail_msg("duplicate disk id accepted");
        assert_non_null(strstr(err->msg, "add disk creds"));
        assert_non_null(strstr(err->msg, "HTTP 409"));
        assert_int_equal(err->errnum, EEXIST);
        nbx_error_free(TAKE_PTR(err));

        /* unplug completes when the device leaves the device tree; an unknown id is gone */
        assert_int_equal(nbx_hv_cloud_hypervisor.remove_device(f->sock, "creds", &err), 0);
        assert_int_equal(nbx_hv_cloud_hypervisor.remove_device(f->sock, "nosuch", &err), 0);
        assert_int_equal(nbx_hv_cloud_hypervisor.power_button(f->sock, &err), 0);
        assert_int_equal(nbx_hv_cloud_hypervisor.info(f->sock, &info, &err), 0);
        assert_string_equal(info.state, "shutdown");

        json_t *reqs = fake_requests(f);
        size_t n;
        json_t *r = last_request(reqs, "vm.add-disk", &n);
        assert_int_equal(n, 2);
        assert_string_equal(json_string_value(json_object_get(r, "method")), "PUT");
        assert_string_equal(json_string_value(json_object_get(r, "content_type")),
                            "application/json");
        json_t *body = json_object_get(r, "body");
        assert_string_equal(json_string_value(json_object_get(body, "path")), "/proc/self/fd/7");
        assert_true(json_is_true(json_object_get(body, "readonly")));
        assert_string_equal(json_string_value(json_object_get(body, "serial")), "nixbox-creds");
        assert_string_equal(json_string_value(json_object_get(body, "id")), "creds");

        body = json_object_get(last_request(reqs, "vm.add-fs", NULL), "body");
        assert_string_equal(json_string_value(json_object_get(body, "tag")), "nbxfs2");
        assert_string_equal(json_string_value(json_object_get(body, "socket")),
                            "/run/nbx/fs2.sock");
        assert_int_equal(json_integer_value(json_object_get(body, "num_queues")), 1);
        assert_int_equal(json_integer_value(json_object_get(body, "queue_size")), 1024);

        r = last_request(reqs, "vm.remove-device", &n);
        assert_int_equal(n, 2);
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 404);
        /* ping once at least, info polled until the unplug finished (3 polls + the gone one) */
        assert_non_null(last_request(reqs, "vmm.ping", NULL));
        last_request(reqs, "vm.info", &n);
        assert_true(n >= 1 + 4 + 1);
        r = last_request(reqs, "vm.power-button", NULL);
        assert_string_equal(json_string_value(json_object_get(r, "method")), "PUT");
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 204);
        json_decref(reqs);
}

static void test_client_http_errors(void **state) {
        fake *f = *state;
        fake_start(f,
                   (const char *const[]){"--state", "Created", "--status", "vm.add-disk=500",
                                         "--status", "vm.add-fs=400", "--device", "nbxfs0", NULL});
        _cleanup_error_ nbx_error *err = NULL;
        nbx_vm_disk d = {.path = "/d.img", .id = "d0"};
        assert_true(nbx_hv_cloud_hypervisor.add_disk(f->sock, &d, &err) < 0);
        assert_int_equal(err->errnum, EIO);
        assert_non_null(strstr(err->msg, "add disk d0 (/d.img): cloud-hypervisor PUT vm.add-disk: "
                                         "HTTP 500: fake cloud-hypervisor: vm.add-disk failed"));
        nbx_error_free(TAKE_PTR(err));

        nbx_vm_share sh = {.tag = "nbxfs1", .socket = "/s.sock"};
        assert_true(nbx_hv_cloud_hypervisor.add_fs(f->sock, &sh, &err) < 0);
        assert_non_null(strstr(err->msg, "HTTP 400"));
        nbx_error_free(TAKE_PTR(err));

        /* power button before the VM booted: 405 */
        assert_true(nbx_hv_cloud_hypervisor.power_button(f->sock, &err) < 0);
        assert_non_null(strstr(err->msg, "HTTP 405 (the VM is not booted)"));
        nbx_error_free(TAKE_PTR(err));

        nbx_vm_info info;
        assert_int_equal(nbx_hv_cloud_hypervisor.info(f->sock, &info, &err), 0);
        assert_string_equal(info.state, "created");
        json_decref(fake_requests(f));
}

static void test_client_vm_not_created(void **state) {
        fake *f = *state;
        fake_start(f, (const char *const[]){"--status", "vm.info=404", "--status",
                                            "vm.power-button=404", NULL});
        _cleanup_error_ nbx_error *err = NULL;
        nbx_vm_info info = {.state = "untouched"};
        assert_true(nbx_hv_cloud_hypervisor.info(f->sock, &info, &err) < 0);
        assert_string_equal(info.state, "untouched");
        assert_int_equal(err->errnum, ENOENT);
        assert_non_null(strstr(err->msg, "HTTP 404 (the VM is not created)"));
        nbx_error_free(TAKE_PTR(err));
        assert_true(nbx_hv_cloud_hypervisor.power_button(f->sock, &err) < 0);
        assert_non_null(strstr(err->msg, "not created"));
        json_decref(fake_requests(f));
}

static void test_client_dead_socket(void **state) {
        fake *f = *state;
        fake_start(f, NULL);
        fake_stop(f); /* the VMM died; its socket file stays behind */
        _cleanup_error_ nbx_error *err = NULL;
        nbx_vm_info info;
        assert_true(nbx_hv_cloud_hypervisor.info(f->sock, &info, &err) < 0);
        assert_int_equal(err->errnum, ECONNREFUSED);
        assert_non_null(strstr(err->msg, "cloud-hypervisor API GET vm.info on"));
        assert_non_null(strstr(err->msg, f->sock));
        nbx_error_free(TAKE_PTR(err));

        nbx_vm_disk d = {.path = "/d.img", .id = "d0"};
        assert_true(nbx_hv_cloud_hypervisor.add_disk(f->sock, &d, &err) < 0);
        assert_non_null(strstr(err->msg, "add disk d0"));
        nbx_error_free(TAKE_PTR(err));
        assert_true(nbx_hv_cloud_hypervisor.remove_device(f->sock, "d0", &err) < 0);
        nbx_error_free(TAKE_PTR(err));
        assert_true(nbx_hv_cloud_hypervisor.power_button(f->sock, &err) < 0);
        nbx_error_free(TAKE_PTR(err));

        /* wait_api gives up at its deadline and says what it last saw */
        uint64_t t0 = nbx_now_ms();
        assert_true(nbx_hv_cloud_hypervisor.wait_api(f->sock, nbx_deadline_in(150), &err) < 0);
        assert_true(nbx_now_ms() - t0 < 2000);
        assert_int_equal(err->errnum, ETIMEDOUT);
        assert_non_null(strstr(err->msg, "did not answer on its API socket"));
        nbx_error_free(TAKE_PTR(err));

        /* no socket at all */
        (void)unlink(f->sock);
        assert_true(nbx_hv_cloud_hypervisor.wait_api(f->sock, nbx_deadline_in(50), &err) < 0);
        assert_non_null(strstr(err->msg, "No such file or directory"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_exact),
                cmocka_unit_test(test_argv_variants),
                cmocka_unit_test(test_argv_follows_cli_syntax),
                cmocka_unit_test_setup_teardown(test_client_happy_path, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_client_http_errors, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_client_vm_not_created, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_client_dead_socket, fake_setup, fake_teardown),
        };
        return cmocka_run_group_tests_name("chv", tests, NULL, NULL);
}
