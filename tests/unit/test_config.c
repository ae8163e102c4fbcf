/* Config resolution: every merge rule and every validation rule, accepted and rejected, through
 * nbx_config_load with the real nix-instantiate.  Rejected configs are fixture files
 * (tests/fixtures/config/reject/NAME.nix, each with "# expect: TEXT" lines for the message);
 * host facts, homes and resolv.conf are injected so results do not depend on this machine. */
#include "support/testutil.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "config/base/fsutil.h"

#define FIXTURES "tests/fixtures/config"

static const nbx_host_facts host = {.cores = 4, .memory_mb = 16384};

/* A scratch project: tmp/proj with data/, file.txt, image/image.json, noimage/, .nixbox/setup.sh
 * and .nixbox/plugins -> the fixture plugins; tmp/home/.claude; tmp/resolv.conf. */
typedef struct proj {
        char *tmp, *dir, *home, *resolv, *fallback;
        nbx_host_facts host;
} proj;

static char *absolute(const char *rel) {
        char *r = realpath(rel, NULL);
        assert_non_null(r);
        return r;
}

static void proj_init(proj *p, const char *config) {
        p->tmp = nbx_test_tmpdir();
        p->dir = nbx_path_join(p->tmp, "proj");
        p->home = nbx_path_join(p->tmp, "home");
        p->resolv = nbx_path_join(p->tmp, "resolv.conf");
        p->fallback = nbx_path_join(p->tmp, "resolved.conf");
        p->host = host;
        nbx_test_write(p->dir, ".nixbox/config.nix", config);
        nbx_test_write(p->dir, ".nixbox/setup.sh", "#!/bin/sh\n");
        nbx_test_write(p->dir, "data/.keep", "");
        nbx_test_write(p->dir, "noimage/.keep", "");
        nbx_test_write(p->dir, "file.txt", "x");
        nbx_test_write(p->dir, "image/image.json", "{}");
        nbx_test_write(p->home, ".claude/settings.json", "{}");
        nbx_test_write(p->tmp, "resolv.conf", "# test\nnameserver 192.0.2.53\n");
        char *plugins = absolute(FIXTURES "/plugins");
        char *link = nbx_path_join(p->dir, ".nixbox/plugins");
        assert_int_equal(symlink(plugins, link), 0);
        free(plugins);
        free(link);
}

static void proj_done(proj *p) {
        nbx_test_rmdir(p->tmp);
        free(p->dir);
        free(p->home);
        free(p->resolv);
        free(p->fallback);
}

static int proj_load(proj *p, nbx_config *c, nbx_error **err) {
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = p->home,
                             .guest_home = "/home/tester",
                             .host = &p->host,
                             .resolv_conf = p->resolv,
                             .resolv_conf_fallback = p->fallback};
        return nbx_config_load(p->dir, &o, c, err);
}

/* Load config text that must be accepted. */
static void load_ok(proj *p, const char *config, nbx_config *c) {
        proj_init(p, config);
        _cleanup_error_ nbx_error *err = NULL;
        if (proj_load(p, c, &err) < 0)
                fail_msg("config rejected: %s\n%s", err ? err->msg : "?", config);
}

/* Load config text that must be rejected; returns the message (caller frees). */
static char *load_bad(const char *config) {
        proj p;
        proj_init(&p, config);
        nbx_config c;
        nbx_error *err = NULL;
        assert_true(proj_load(&p, &c, &err) < 0);
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        char *msg = strdup(err->msg);
        nbx_error_free(err);
        proj_done(&p);
        return msg;
}

static void assert_contains(const char *hay, const char *needle) {
        if (!strstr(hay, needle))
                fail_msg("expected \"%s\" in: %s", needle, hay);
}

static size_t strv_index(const nbx_strv *s, const char *v) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], v) == 0)
                        return i;
        fail_msg("%s not in list", v);
        return SIZE_MAX;
}

/* ---- defaults ----------------------------------------------------------------------------- */

static void test_defaults(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ }", &c);
        assert_string_equal(c.name, "proj");
        assert_string_equal(c.origins.name, "default");
        assert_int_equal(c.vcpus, 4);
        assert_int_equal(c.memory_mb, 8192); /* half of 16384 */
        assert_int_equal(c.net_mode, NBX_NET_OPEN);
        assert_int_equal(c.domains.n, 1);
        assert_string_equal(c.domains.v[0], "nixos.org");
        assert_string_equal(c.origins.domains.v[0], "default");
        assert_int_equal(c.n_ports, 2);
        assert_int_equal(c.ports[0], 80);
        assert_int_equal(c.ports[1], 443);
        assert_false(c.allow_private);
        assert_int_equal(c.hypervisor, NBX_HV_AUTO);
        assert_int_equal(c.accel, NBX_ACCEL_AUTO);
        assert_null(c.image);
        assert_int_equal(c.n_plugins, 0);
        /* the workspace mount */
        assert_int_equal(c.n_mounts, 1);
        char *real = absolute(p.dir);
        assert_string_equal(c.mounts[0].source, real);
        assert_string_equal(c.project_dir, real);
        free(real);
        assert_string_equal(c.mounts[0].target, "/home/tester/workspace");
        assert_false(c.mounts[0].readonly);
        assert_string_equal(c.mounts[0].origin, "default");
        /* upstream DNS from the injected resolv.conf */
        assert_int_equal(c.n_upstream_dns, 1);
        char buf[64];
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[0], buf, sizeof(buf)), "192.0.2.53");
        assert_string_equal(c.origins.upstream_dns.v[0], "default");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_memory_default_bounds(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        proj_init(&p, "{ }");
        _cleanup_error_ nbx_error *err = NULL;
        p.host.memory_mb = 6000; /* half is 3000: raised to the 4096 minimum */
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.memory_mb, 4096);
        nbx_config_done(&c);
        p.host.memory_mb = 3000; /* never above the host's RAM */
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.memory_mb, 3000);
        nbx_config_done(&c);
        p.host.cores = 1;
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.vcpus, 1);
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_default_name_from_folder(void **state) {
        (void)state;
        char *tmp = nbx_test_tmpdir();
        char *dir = nbx_path_join(tmp, "My_Project.v2");
        nbx_test_write(dir, ".nixbox/config.nix", "{ network.upstreamDns = [ \"192.0.2.1\" ]; }");
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = tmp,
                             .guest_home = "/home/t",
                             .host = &host};
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_load(dir, &o, &c, &err), 0);
        assert_string_equal(c.name, "my-project-v2");
        nbx_config_done(&c);
        free(dir);
        nbx_test_rmdir(tmp);
}

/* ---- merge rules -------------------------------------------------------------------------- */

#define TWO_PLUGINS "plugins = [ ./plugins/first.nix ./plugins/second.nix ];"

static void test_scalars_last_plugin_wins(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ " TWO_PLUGINS " }", &c);
        /* first.nix: mode off, vcpus 1; second.nix: filtered, 2 → the later plugin wins */
        assert_int_equal(c.net_mode, NBX_NET_FILTERED);
        assert_string_equal(c.origins.net_mode, "./plugins/second.nix");
        assert_int_equal(c.vcpus, 2);
        assert_string_equal(c.origins.vcpus, "./plugins/second.nix");
        /* set only by first.nix */
        assert_true(c.allow_private);
        assert_string_equal(c.origins.allow_private, "./plugins/first.nix");
        assert_int_equal(c.hypervisor, NBX_HV_QEMU);
        /* set by nobody */
        assert_string_equal(c.origins.memory_mb, "default");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_scalars_user_wins(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p,
                "{ " TWO_PLUGINS " network.mode = \"open\"; resources.vcpus = 3;"
                " network.allowPrivate = false; vm.hypervisor = \"cloud-hypervisor\"; }",
                &c);
        assert_int_equal(c.net_mode, NBX_NET_OPEN);
        assert_string_equal(c.origins.net_mode, "user");
        assert_int_equal(c.vcpus, 3);
        assert_false(c.allow_private);
        assert_string_equal(c.origins.allow_private, "user");
        assert_int_equal(c.hypervisor, NBX_HV_CLOUD_HYPERVISOR);
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_lists_concatenate_and_dedup(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p,
                "{ " TWO_PLUGINS " network.domains = [ \"c.example\" \"b.example\" ];"
                " network.ports = [ 8080 9000 ]; nix.packages = [ \"jq\" \"htop\" ];"
                " nix.ldLibraries = [ \"zlib\" \"libffi\" ]; }",
                &c);
        /* defaults → first → second → user, first occurrence kept */
        const char *domains[] = {"nixos.org", "a.example", "b.example", "c.example"};
        const char *dorigin[] = {"default", "./plugins/first.nix", "./plugins/second.nix", "user"};
        assert_int_equal(c.domains.n, 4);
        for (size_t i = 0; i < 4; i++) {
                assert_string_equal(c.domains.v[i], domains[i]);
                assert_string_equal(c.origins.domains.v[i], dorigin[i]);
        }
        const unsigned ports[] = {80, 443, 22, 8080, 9000};
        assert_int_equal(c.n_ports, 5);
        for (size_t i = 0; i < 5; i++)
                assert_int_equal(c.ports[i], ports[i]);
        assert_string_equal(c.origins.ports.v[2], "./plugins/first.nix");
        assert_string_equal(c.origins.ports.v[3], "./plugins/second.nix");
        assert_string_equal(c.origins.ports.v[4], "user");
        const char *pk[] = {"git", "ripgrep", "jq", "htop"};
        assert_int_equal(c.nix_packages.n, 4);
        for (size_t i = 0; i < 4; i++)
                assert_string_equal(c.nix_packages.v[i], pk[i]);
        assert_string_equal(c.origins.nix_packages.v[2], "./plugins/second.nix");
        assert_int_equal(c.nix_ld_libraries.n, 2);
        assert_string_equal(c.nix_ld_libraries.v[0], "zlib");
        assert_string_equal(c.nix_ld_libraries.v[1], "libffi");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_hooks_plugins_first_no_dedup(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p,
                "{ " TWO_PLUGINS " hooks.post-up = [ \"echo user\" \"echo first\" ];"
                " hooks.post-down = [ \"echo bye\" ]; }",
                &c);
        nbx_strv *h = &c.hooks[NBX_HOOK_POST_UP];
        assert_int_equal(h->n, 4);
        assert_string_equal(h->v[0], "echo first");
        assert_string_equal(h->v[1], "echo second");
        assert_string_equal(h->v[2], "echo user");
        assert_string_equal(h->v[3], "echo first"); /* hooks are not deduplicated */
        assert_string_equal(c.origins.hooks[NBX_HOOK_POST_UP].v[0], "./plugins/first.nix");
        assert_string_equal(c.origins.hooks[NBX_HOOK_POST_UP].v[2], "user");
        assert_int_equal(c.hooks[NBX_HOOK_PRE_DOWN].n, 1);
        assert_int_equal(c.hooks[NBX_HOOK_POST_DOWN].n, 1);
        assert_int_equal(c.hooks[NBX_HOOK_PRE_UP].n, 0);
        assert_string_equal(nbx_hook_name(NBX_HOOK_POST_DOWN), "post-down");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_scripts_concatenate(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ " TWO_PLUGINS " scripts = [ ./setup.sh \"file.txt\" ]; }", &c);
        assert_int_equal(c.scripts.n, 3);
        assert_non_null(strstr(c.scripts.v[0], "/plugin-script.sh"));
        assert_string_equal(c.origins.scripts.v[0], "./plugins/first.nix");
        assert_non_null(strstr(c.scripts.v[1], "/proj/.nixbox/setup.sh"));
        assert_non_null(strstr(c.scripts.v[2], "/proj/file.txt")); /* string: from the project */
        assert_string_equal(c.origins.scripts.v[2], "user");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_env_user_only_and_masking(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ env = { B_TOKEN = \"secret value\"; _x1 = \"\"; }; }", &c);
        assert_int_equal(c.n_env, 2);
        assert_string_equal(c.env[0].name, "B_TOKEN");
        assert_string_equal(c.env[0].value, "secret value");
        assert_string_equal(c.env[1].name, "_x1");
        assert_string_equal(c.origins.env.v[0], "user");
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *json = NULL, *text = NULL, *shown = NULL;
        assert_int_equal(nbx_config_to_json(&c, false, &json, &err), 0);
        assert_null(strstr(json, "secret value"));
        assert_non_null(strstr(json, "\"B_TOKEN\": \"********\""));
        assert_int_equal(nbx_config_to_text(&c, false, &text, &err), 0);
        assert_null(strstr(text, "secret value"));
        assert_int_equal(nbx_config_to_json(&c, true, &shown, &err), 0);
        assert_non_null(strstr(shown, "\"B_TOKEN\": \"secret value\""));
        nbx_config_done(&c);
        proj_done(&p);
        /* plugins may not set env at all, so the user's values are the only ones */
        _cleanup_free_ char *msg =
                load_bad("{ plugins = [ ./plugins/with-env.nix ]; env.A = \"1\"; }");
        assert_contains(msg, "plugin ./plugins/with-env.nix may not set env");
}

static void test_plugin_mounts_keep_workspace(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ plugins = [ \"claude-code\" ./plugins/second.nix ]; }", &c);
        assert_int_equal(c.n_mounts, 3);
        assert_string_equal(c.mounts[0].target, "/home/tester/workspace");
        assert_string_equal(c.mounts[0].origin, "default");
        /* claude-code: ~/.claude → ~/.claude, ~ expanded on each side */
        char *claude = nbx_path_join(p.home, ".claude");
        char *real = absolute(claude);
        assert_string_equal(c.mounts[1].source, real);
        free(real);
        free(claude);
        assert_string_equal(c.mounts[1].target, "/home/tester/.claude");
        assert_string_equal(c.mounts[1].origin, "claude-code");
        assert_string_equal(c.mounts[2].target, "/home/tester/data");
        assert_true(c.mounts[2].readonly);
        assert_string_equal(c.mounts[2].origin, "./plugins/second.nix");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_user_mounts_replace_workspace(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p,
                "{ plugins = [ ./plugins/second.nix ];"
                " mounts = [ { source = \".\"; target = \"/src//app/\"; readonly = true; }"
                "            { source = \"~\"; target = \"~/host-home\"; } ]; }",
                &c);
        assert_int_equal(c.n_mounts, 3);
        assert_string_equal(c.mounts[0].target, "/home/tester/data"); /* plugin's first */
        assert_string_equal(c.mounts[1].target, "/src/app");          /* normalized */
        assert_true(c.mounts[1].readonly);
        assert_string_equal(c.mounts[1].origin, "user");
        char *real = absolute(p.home);
        assert_string_equal(c.mounts[2].source, real);
        free(real);
        assert_string_equal(c.mounts[2].target, "/home/tester/host-home");
        nbx_config_done(&c);
        proj_done(&p);
        /* an explicit empty list means no mounts at all */
        load_ok(&p, "{ mounts = [ ]; }", &c);
        assert_int_equal(c.n_mounts, 0);
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_upstream_dns(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        /* the user's list replaces the host's resolvers */
        load_ok(&p, "{ network.upstreamDns = [ \"9.9.9.9\" \"2620:fe::fe\" \"9.9.9.9\" ]; }", &c);
        assert_int_equal(c.n_upstream_dns, 2);
        char buf[64];
        assert_int_equal(c.upstream_dns[0].family, AF_INET);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[0], buf, sizeof(buf)), "9.9.9.9");
        assert_int_equal(c.upstream_dns[1].family, AF_INET6);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "2620:fe::fe");
        assert_string_equal(c.origins.upstream_dns.v[0], "user");
        nbx_config_done(&c);
        proj_done(&p);

        /* resolv.conf holding only the systemd-resolved stub: the fallback file is read */
        proj_init(&p, "{ }");
        nbx_test_write(p.tmp, "resolv.conf", "nameserver 127.0.0.53\noptions edns0\n");
        nbx_test_write(
                p.tmp, "resolved.conf",
                "nameserver 198.51.100.1\nnameserver fe80::1%eth0\nnameserver 2001:db8::1\n");
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 2);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[0], buf, sizeof(buf)), "198.51.100.1");
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "2001:db8::1");
        nbx_config_done(&c);

        /* a real resolver next to the stub: no fallback */
        nbx_test_write(p.tmp, "resolv.conf", "nameserver 127.0.0.53\nnameserver 203.0.113.9\n");
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 2);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "203.0.113.9");
        nbx_config_done(&c);

        /* no resolver anywhere: fine with network off, an error otherwise */
        nbx_test_write(p.tmp, "resolv.conf", "# nothing\n");
        assert_true(proj_load(&p, &c, &err) < 0);
        assert_contains(err->msg, "network.upstreamDns");
        nbx_error_free(err);
        err = NULL;
        nbx_test_write(p.dir, ".nixbox/config.nix", "{ network.mode = \"off\"; }");
        assert_int_equal(proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 0);
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_plugins_builtin_and_path(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ plugins = [ \"aws\" \"scala-sbt\" \"./plugins/folder\" ]; }", &c);
        assert_int_equal(c.n_plugins, 3);
        assert_string_equal(c.plugins[0].origin, "aws");
        assert_true(c.plugins[0].builtin);
        assert_string_equal(c.plugins[2].origin, "./plugins/folder");
        assert_false(c.plugins[2].builtin);
        assert_non_null(strstr(c.plugins[2].file, "/folder/default.nix")); /* absolute file */
        assert_non_null(strstr(c.plugins[2].dir, "/folder"));
        assert_non_null(strstr(c.plugins[0].file, "plugins/aws/default.nix"));
        assert_string_equal(c.nix_packages.v[0], "awscli2");
        strv_index(&c.nix_packages, "sbt");
        strv_index(&c.nix_packages, "scala-cli");
        strv_index(&c.domains, "amazonaws.com");
        strv_index(&c.domains, "repo1.maven.org");
        size_t i = strv_index(&c.domains, "folder.example");
        assert_string_equal(c.origins.domains.v[i], "./plugins/folder");
        assert_string_equal(c.nix_ld_libraries.v[0], "openssl");
        nbx_config_done(&c);
        proj_done(&p);
}

/* ---- validation: accepted values ---------------------------------------------------------- */

static void test_accepted_values(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p,
                "{ name = \"My-VM-2\"; resources.vcpus = 4; resources.memoryMB = 256;"
                " network.mode = \"filtered\";"
                " network.domains = [ \"*.GitHub.com.\" \"bücher.de\" \"github.com\" ];"
                " network.ports = [ 1 65535 ]; network.allowPrivate = true;"
                " nix.packages = [ \"python3Packages.requests\" \"gcc_12\" \"libc++\" ];"
                " nix.ldLibraries = [ \"stdenv.cc.cc.lib\" ];"
                " env.PATH_EXTRA = \"/opt/bin\";"
                " hooks.pre-up = [ \"echo 'a b'\" ]; vm.image = \"image\";"
                " vm.accel = \"tcg\"; vm.hypervisor = null; }",
                &c);
        assert_string_equal(c.name, "my-vm-2"); /* lowered */
        assert_int_equal(c.vcpus, 4);
        assert_int_equal(c.memory_mb, 256);
        assert_int_equal(c.net_mode, NBX_NET_FILTERED);
        assert_string_equal(nbx_net_mode_name(c.net_mode), "filtered");
        assert_int_equal(c.domains.n, 3); /* nixos.org, github.com, punycode */
        assert_string_equal(c.domains.v[1], "github.com");
        assert_string_equal(c.domains.v[2], "xn--bcher-kva.de");
        assert_int_equal(c.n_ports, 4);
        assert_int_equal(c.ports[3], 65535);
        assert_true(c.allow_private);
        assert_int_equal(c.nix_packages.n, 3);
        assert_string_equal(c.nix_ld_libraries.v[0], "stdenv.cc.cc.lib");
        assert_string_equal(c.hooks[NBX_HOOK_PRE_UP].v[0], "echo 'a b'");
        assert_non_null(c.image);
        assert_non_null(strstr(c.image, "/proj/image"));
        assert_string_equal(c.origins.image, "user");
        assert_int_equal(c.accel, NBX_ACCEL_TCG);
        assert_string_equal(nbx_accel_name(c.accel), "tcg");
        assert_int_equal(c.hypervisor, NBX_HV_AUTO); /* null = not set */
        assert_string_equal(c.origins.hypervisor, "default");
        assert_string_equal(nbx_hypervisor_name(NBX_HV_CLOUD_HYPERVISOR), "cloud-hypervisor");
        nbx_config_done(&c);
        proj_done(&p);
}

static void test_json_shape(void **state) {
        (void)state;
        proj p;
        nbx_config c;
        load_ok(&p, "{ plugins = [ \"aws\" ]; network.ports = [ 22 ]; }", &c);
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *s = NULL;
        assert_int_equal(nbx_config_to_json(&c, false, &s, &err), 0);
        json_error_t je;
        json_t *j = json_loads(s, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "proj");
        json_t *net = json_object_get(j, "network");
        assert_int_equal(json_array_size(json_object_get(net, "ports")), 3);
        assert_string_equal(json_string_value(json_object_get(net, "mode")), "open");
        json_t *pl = json_array_get(json_object_get(j, "plugins"), 0);
        assert_string_equal(json_string_value(json_object_get(pl, "name")), "aws");
        assert_true(json_is_true(json_object_get(pl, "builtin")));
        json_t *o = json_object_get(j, "origins");
        assert_string_equal(
                json_string_value(json_array_get(json_object_get(o, "network.ports"), 2)), "user");
        assert_string_equal(
                json_string_value(json_array_get(json_object_get(o, "nix.packages"), 0)), "aws");
        assert_true(json_is_null(json_object_get(json_object_get(j, "vm"), "image")));
        json_decref(j);
        _cleanup_free_ char *t = NULL;
        assert_int_equal(nbx_config_to_text(&c, false, &t, &err), 0);
        assert_contains(t, "amazonaws.com");
        assert_contains(t, "(aws)");
        assert_contains(t, "(default)");
        nbx_config_done(&c);
        proj_done(&p);
}

/* ---- validation: rejected configs (fixtures) ---------------------------------------------- */

static void test_rejected_fixtures(void **state) {
        (void)state;
        DIR *d = opendir(FIXTURES "/reject");
        assert_non_null(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 5 || strcmp(de->d_name + len - 4, ".nix") != 0)
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), FIXTURES "/reject/%s", de->d_name);
                _cleanup_free_ char *text = NULL;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_read_file(path, 1 << 20, &text, NULL, &err), 0);
                _cleanup_free_ char *msg = load_bad(text);
                /* every message names the file it is about */
                if (!strstr(msg, ".nix"))
                        fail_msg("%s: message names no file: %s", de->d_name, msg);
                size_t expects = 0;
                for (char *line = text; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (strncmp(line, "# expect: ", 10) == 0) {
                                expects++;
                                if (!strstr(msg, line + 10))
                                        fail_msg("%s: expected \"%s\" in: %s", de->d_name,
                                                 line + 10, msg);
                        }
                        line = nl ? nl + 1 : NULL;
                }
                if (expects == 0)
                        fail_msg("%s has no # expect: line", de->d_name);
                n++;
        }
        closedir(d);
        assert_true(n >= 60);
}

static void test_missing_nix_is_prereq(void **state) {
        (void)state;
        proj p;
        proj_init(&p, "{ }");
        nbx_config c;
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = p.home,
                             .guest_home = "/home/t",
                             .host = &host,
                             .nix_instantiate = "nix-instantiate-does-not-exist"};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_config_load(p.dir, &o, &c, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_contains(err->msg, "nix-instantiate-does-not-exist not found");
        proj_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_memory_default_bounds),
                cmocka_unit_test(test_default_name_from_folder),
                cmocka_unit_test(test_scalars_last_plugin_wins),
                cmocka_unit_test(test_scalars_user_wins),
                cmocka_unit_test(test_lists_concatenate_and_dedup),
                cmocka_unit_test(test_hooks_plugins_first_no_dedup),
                cmocka_unit_test(test_scripts_concatenate),
                cmocka_unit_test(test_env_user_only_and_masking),
                cmocka_unit_test(test_plugin_mounts_keep_workspace),
                cmocka_unit_test(test_user_mounts_replace_workspace),
                cmocka_unit_test(test_upstream_dns),
                cmocka_unit_test(test_plugins_builtin_and_path),
                cmocka_unit_test(test_accepted_values),
                cmocka_unit_test(test_json_shape),
                cmocka_unit_test(test_rejected_fixtures),
                cmocka_unit_test(test_missing_nix_is_prereq),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
