/* config/config_merge.c: every merge rule (defaults, then plugins in order, then the user's
 * config.nix) and the origin each value keeps.  Most tests run the real nix-instantiate over a
 * scratch project (tests/unit/support/configproj.c); nbx_config_resolve is also fed JSON
 * directly, as eval-config.nix would return it. */
#include "support/testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "support/configproj.h"
#include "config/config_merge.h"
#include "config/base/fsutil.h"

#define TWO_PLUGINS "plugins = [ ./plugins/first.nix ./plugins/second.nix ];"

static char *abs_path(const char *rel) {
        char *r = realpath(rel, NULL);
        assert_non_null(r);
        return r;
}

static size_t strv_index(const nbx_strv *s, const char *v) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], v) == 0)
                        return i;
        fail_msg("%s not in list", v);
        return SIZE_MAX;
}

static void test_defaults(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ }", &c);
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
        char *real = abs_path(p.dir);
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
        nbx_test_proj_done(&p);
}

static void test_memory_default_bounds(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_proj_init(&p, "{ }");
        _cleanup_error_ nbx_error *err = NULL;
        p.host.memory_mb = 6000; /* half is 3000: raised to the 4096 minimum */
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.memory_mb, 4096);
        nbx_config_done(&c);
        p.host.memory_mb = 3000; /* never above the host's RAM */
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.memory_mb, 3000);
        nbx_config_done(&c);
        p.host.cores = 1;
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.vcpus, 1);
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_scalars_last_plugin_wins(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ " TWO_PLUGINS " }", &c);
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
        nbx_test_proj_done(&p);
}

static void test_scalars_user_wins(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
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
        nbx_test_proj_done(&p);
}

static void test_lists_concatenate_and_dedup(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
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
        nbx_test_proj_done(&p);
}

static void test_hooks_plugins_first_no_dedup(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
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
        nbx_test_proj_done(&p);
}

static void test_scripts_concatenate(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ " TWO_PLUGINS " scripts = [ ./setup.sh \"file.txt\" ]; }", &c);
        assert_int_equal(c.scripts.n, 3);
        assert_non_null(strstr(c.scripts.v[0], "/plugin-script.sh"));
        assert_string_equal(c.origins.scripts.v[0], "./plugins/first.nix");
        assert_non_null(strstr(c.scripts.v[1], "/proj/.nixbox/setup.sh"));
        assert_non_null(strstr(c.scripts.v[2], "/proj/file.txt")); /* string: from the project */
        assert_string_equal(c.origins.scripts.v[2], "user");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_env_user_only(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ env = { B_TOKEN = \"secret value\"; _x1 = \"\"; }; }", &c);
        assert_int_equal(c.n_env, 2);
        assert_string_equal(c.env[0].name, "B_TOKEN");
        assert_string_equal(c.env[0].value, "secret value");
        assert_string_equal(c.env[1].name, "_x1");
        assert_string_equal(c.origins.env.v[0], "user");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
        /* plugins may not set env at all, so the user's values are the only ones */
        _cleanup_free_ char *msg =
                nbx_test_config_bad("{ plugins = [ ./plugins/with-env.nix ]; env.A = \"1\"; }");
        nbx_test_assert_contains(msg, "plugin ./plugins/with-env.nix may not set env");
}

static void test_plugin_mounts_keep_workspace(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ plugins = [ \"claude-code\" ./plugins/second.nix ]; }", &c);
        assert_int_equal(c.n_mounts, 4);
        assert_string_equal(c.mounts[0].target, "/home/tester/workspace");
        assert_int_equal(c.mounts[0].kind, NBX_MOUNT_HOST);
        assert_string_equal(c.mounts[0].origin, "default");
        /* claude-code: its own state folder at ~/.claude (never the host's ~/.claude), and a
         * RAM folder inside it */
        assert_int_equal(c.mounts[1].kind, NBX_MOUNT_STATE);
        assert_string_equal(c.mounts[1].state, "claude-code");
        assert_null(c.mounts[1].source);
        assert_string_equal(c.mounts[1].target, "/home/tester/.claude");
        assert_string_equal(c.mounts[1].origin, "claude-code");
        assert_int_equal(c.mounts[2].kind, NBX_MOUNT_TMPFS);
        assert_null(c.mounts[2].source);
        assert_null(c.mounts[2].state);
        assert_string_equal(c.mounts[2].target, "/home/tester/.claude/todos");
        assert_string_equal(c.mounts[3].target, "/home/tester/data");
        assert_true(c.mounts[3].readonly);
        assert_string_equal(c.mounts[3].origin, "./plugins/second.nix");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_user_mounts_replace_workspace(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(
                &p,
                "{ plugins = [ ./plugins/second.nix ];"
                " mounts = [ { source = \".\"; target = \"/src//app/\"; readonly = true; }"
                "            { source = \"~\"; target = \"~/host-home\"; } ]; }",
                &c);
        assert_int_equal(c.n_mounts, 3);
        assert_string_equal(c.mounts[0].target, "/home/tester/data"); /* plugin's first */
        assert_string_equal(c.mounts[1].target, "/src/app");          /* normalized */
        assert_true(c.mounts[1].readonly);
        assert_string_equal(c.mounts[1].origin, "user");
        char *real = abs_path(p.home);
        assert_string_equal(c.mounts[2].source, real);
        free(real);
        assert_string_equal(c.mounts[2].target, "/home/tester/host-home");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
        /* an explicit empty list means no mounts at all */
        nbx_test_config_ok(&p, "{ mounts = [ ]; }", &c);
        assert_int_equal(c.n_mounts, 0);
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_upstream_dns(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        /* the user's list replaces the host's resolvers */
        nbx_test_config_ok(
                &p, "{ network.upstreamDns = [ \"9.9.9.9\" \"2620:fe::fe\" \"9.9.9.9\" ]; }", &c);
        assert_int_equal(c.n_upstream_dns, 2);
        char buf[64];
        assert_int_equal(c.upstream_dns[0].family, AF_INET);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[0], buf, sizeof(buf)), "9.9.9.9");
        assert_int_equal(c.upstream_dns[1].family, AF_INET6);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "2620:fe::fe");
        assert_string_equal(c.origins.upstream_dns.v[0], "user");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);

        /* resolv.conf holding only the systemd-resolved stub: the fallback file is read */
        nbx_test_proj_init(&p, "{ }");
        nbx_test_write(p.tmp, "resolv.conf", "nameserver 127.0.0.53\noptions edns0\n");
        nbx_test_write(
                p.tmp, "resolved.conf",
                "nameserver 198.51.100.1\nnameserver fe80::1%eth0\nnameserver 2001:db8::1\n");
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 2);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[0], buf, sizeof(buf)), "198.51.100.1");
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "2001:db8::1");
        nbx_config_done(&c);

        /* a real resolver next to the stub: no fallback */
        nbx_test_write(p.tmp, "resolv.conf", "nameserver 127.0.0.53\nnameserver 203.0.113.9\n");
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 2);
        assert_string_equal(nbx_ip_to_string(&c.upstream_dns[1], buf, sizeof(buf)), "203.0.113.9");
        nbx_config_done(&c);

        /* no resolver anywhere: fine with network off, an error otherwise */
        nbx_test_write(p.tmp, "resolv.conf", "# nothing\n");
        assert_true(nbx_test_proj_load(&p, &c, &err) < 0);
        nbx_test_assert_contains(err->msg, "network.upstreamDns");
        nbx_error_free(err);
        err = NULL;
        nbx_test_write(p.dir, ".nixbox/config.nix", "{ network.mode = \"off\"; }");
        assert_int_equal(nbx_test_proj_load(&p, &c, &err), 0);
        assert_int_equal(c.n_upstream_dns, 0);
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_plugins_builtin_and_path(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ plugins = [ \"aws\" \"scala-sbt\" \"./plugins/folder\" ]; }", &c);
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
        strv_index(&c.domains, "sts.amazonaws.com");
        strv_index(&c.domains, "repo1.maven.org");
        size_t i = strv_index(&c.domains, "folder.example");
        assert_string_equal(c.origins.domains.v[i], "./plugins/folder");
        assert_string_equal(c.nix_ld_libraries.v[0], "openssl");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_accepted_values(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
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
        nbx_test_proj_done(&p);
}

/* ---- network.domains: what each entry reaches ------------------------------------------- */

static void test_domains_public_suffix_refused(void **state) {
        (void)state;
        _cleanup_free_ char *msg =
                nbx_test_config_bad("{ network.domains = [ \"api.example.com\" \"com\" ]; }");
        nbx_test_assert_contains(msg, "network.domains[1]: \"com\" is a top-level domain: allowing "
                                      "it would allow every .com host; name the hosts you need "
                                      "(e.g. \"api.example.com\")");
        nbx_test_assert_contains(msg, "/.nixbox/config.nix)");
        _cleanup_free_ char *msg2 = nbx_test_config_bad("{ network.domains = [ \"*.co.uk\" ]; }");
        nbx_test_assert_contains(msg2, "network.domains[0]: \"co.uk\" is a public suffix");
        _cleanup_free_ char *msg3 = nbx_test_config_bad("{ network.domains = [ \"intranet\" ]; }");
        nbx_test_assert_contains(msg3, "\"intranet\" is a single-label name");
}

static void test_domains_shared_suffix_warned(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(
                &p,
                "{ plugins = [ ./plugins/shared-zone.nix ];"
                " network.domains = [ \"github.io\" \"amazonaws.com\" \"nixos.org\" ]; }",
                &c);
        /* the plugin's amazonaws.com, then the user's github.io; the user's repeat of
         * amazonaws.com and of the default nixos.org add no entry and no second warning */
        assert_int_equal(c.warnings.n, 2);
        nbx_test_assert_contains(c.warnings.v[0],
                                 "network.domains[0]: \"amazonaws.com\" holds shared suffixes "
                                 "such as \"s3.amazonaws.com\"");
        nbx_test_assert_contains(c.warnings.v[0], "(plugin ./plugins/shared-zone.nix: ");
        nbx_test_assert_contains(c.warnings.v[1], "network.domains[0]: \"github.io\" is a shared "
                                                  "suffix");
        nbx_test_assert_contains(c.warnings.v[1], "/.nixbox/config.nix)");
        size_t i = strv_index(&c.domains, "github.io");
        assert_string_equal(c.origins.domains.v[i], "user");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
        /* ordinary zones: no warning */
        nbx_test_config_ok(&p, "{ network.domains = [ \"github.com\" \"me.github.io\" ]; }", &c);
        assert_int_equal(c.warnings.n, 0);
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

/* ---- nbx_config_resolve on JSON ----------------------------------------------------------- */

static int resolve(nbx_test_proj *p, const char *json, nbx_config *c, nbx_error **err) {
        json_error_t je;
        json_auto_t *eval = json_loads(json, 0, &je);
        if (!eval)
                fail_msg("test JSON: %s", je.text);
        _cleanup_free_ char *root = abs_path(p->dir);
        _cleanup_free_ char *cfg_dir = nbx_path_join(root, ".nixbox");
        _cleanup_free_ char *cfg = nbx_path_join(cfg_dir, "config.nix");
        _cleanup_free_ char *plugins = abs_path("plugins");
        nbx_config_ctx ctx = {.project_dir = root,
                              .config_path = cfg,
                              .config_dir = cfg_dir,
                              .plugins_dir = plugins,
                              .host_home = p->home,
                              .guest_home = "/home/tester",
                              .host = p->host,
                              .resolv_conf = p->resolv};
        return nbx_config_resolve(eval, &ctx, c, err);
}

static void test_resolve_json(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ }");
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(resolve(&p,
                                 "{\"userType\": \"set\", \"plugins\": [],"
                                 " \"user\": {\"name\": \"from-json\", \"mounts\": [],"
                                 "  \"network\": {\"mode\": \"filtered\", \"ports\": [8080]}}}",
                                 &c, &err),
                         0);
        assert_string_equal(c.name, "from-json");
        assert_int_equal(c.net_mode, NBX_NET_FILTERED);
        assert_int_equal(c.n_ports, 3);
        assert_int_equal(c.n_mounts, 0);
        assert_non_null(strstr(c.config_path, "/proj/.nixbox/config.nix"));
        nbx_config_done(&c);

        /* refused: *ret untouched */
        nbx_config untouched = {.name = (char *)"sentinel"};
        assert_true(resolve(&p,
                            "{\"userType\": \"set\", \"plugins\": [],"
                            " \"user\": {\"network\": {\"mode\": \"filterd\"}}}",
                            &untouched, &err) < 0);
        assert_string_equal(untouched.name, "sentinel");
        nbx_test_assert_contains(err->msg, "network.mode: expected one of off, filtered, open, got "
                                           "\"filterd\" (did you mean \"filtered\"?)");
        nbx_error_free(err);
        err = NULL;

        /* not an attribute set, or no user at all */
        assert_true(resolve(&p, "{\"userType\": \"list\", \"user\": null}", &c, &err) < 0);
        nbx_test_assert_contains(
                err->msg, "config.nix must be an attribute set { ... }, this file is a list");
        nbx_error_free(err);
        err = NULL;
        assert_true(resolve(&p, "{}", &c, &err) < 0);
        nbx_test_assert_contains(err->msg, "this file is something else");
        nbx_error_free(err);
        err = NULL;
        /* a "plugins" that is no list is no plugins */
        assert_int_equal(resolve(&p, "{\"user\": {}, \"plugins\": 3}", &c, &err), 0);
        assert_int_equal(c.n_plugins, 0);
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_memory_default_bounds),
                cmocka_unit_test(test_scalars_last_plugin_wins),
                cmocka_unit_test(test_scalars_user_wins),
                cmocka_unit_test(test_lists_concatenate_and_dedup),
                cmocka_unit_test(test_hooks_plugins_first_no_dedup),
                cmocka_unit_test(test_scripts_concatenate),
                cmocka_unit_test(test_env_user_only),
                cmocka_unit_test(test_plugin_mounts_keep_workspace),
                cmocka_unit_test(test_user_mounts_replace_workspace),
                cmocka_unit_test(test_upstream_dns),
                cmocka_unit_test(test_plugins_builtin_and_path),
                cmocka_unit_test(test_accepted_values),
                cmocka_unit_test(test_domains_public_suffix_refused),
                cmocka_unit_test(test_domains_shared_suffix_warned),
                cmocka_unit_test(test_resolve_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
