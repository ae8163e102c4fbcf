/* config/config_schema.c: the shape of a config source, checked on JSON as eval-config.nix
 * returns it. */
#include "support/testutil.h"

#include <string.h>

#include "config/config_schema.h"

static int check(const char *json, nbx_error **err) {
        json_error_t je;
        json_auto_t *v = json_loads(json, JSON_DECODE_ANY, &je);
        if (!v)
                fail_msg("test JSON: %s: %s", je.text, json);
        nbx_config_source s = {.origin = "user", .file = "/p/config.nix", .is_user = true, .v = v};
        return nbx_config_schema_check(&s, err);
}

static void ok(const char *json) {
        _cleanup_error_ nbx_error *err = NULL;
        if (check(json, &err) < 0)
                fail_msg("rejected: %s\n%s", err->msg, json);
}

static void bad(const char *json, const char *want) {
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(check(json, &err), -EINVAL);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        if (!strstr(err->msg, want))
                fail_msg("expected \"%s\" in: %s", want, err->msg);
        if (!strstr(err->msg, "(/p/config.nix)"))
                fail_msg("no file in: %s", err->msg);
}

static void test_every_field_accepted(void **state) {
        (void)state;
        ok("{}");
        ok("{\"plugins\": [\"aws\", \"/abs/p.nix\"], \"name\": \"x\","
           " \"resources\": {\"vcpus\": 2, \"memoryMB\": 512},"
           " \"mounts\": [{\"source\": \"/a\", \"target\": \"/b\", \"readonly\": true}],"
           " \"network\": {\"mode\": \"filtered\", \"domains\": [\"a.example\"], \"ports\": [22],"
           "   \"upstreamDns\": [\"192.0.2.1\"], \"allowPrivate\": false},"
           " \"nix\": {\"packages\": [\"jq\"], \"ldLibraries\": [\"zlib\"]},"
           " \"scripts\": [\"/s.sh\"], \"env\": {\"A\": \"1\"},"
           " \"hooks\": {\"pre-up\": [\"a\"], \"post-up\": [], \"pre-down\": [], \"post-down\": "
           "[]},"
           " \"vm\": {\"hypervisor\": \"qemu\", \"image\": \"/i\", \"accel\": \"kvm\"}}");
        /* null means "not set" at every level */
        ok("{\"name\": null, \"network\": {\"mode\": null}, \"hooks\": {\"pre-up\": null}}");
}

static void test_unknown_keys(void **state) {
        (void)state;
        bad("{\"netwrk\": {}}", "netwrk: unknown setting; did you mean network?");
        bad("{\"network\": {\"domian\": []}}",
            "network.domian: unknown setting; did you mean network.domains?");
        bad("{\"hooks\": {\"postup\": []}}",
            "hooks.postup: unknown setting; did you mean hooks.post-up?");
        bad("{\"zzzzzzzzzz\": 1}", "zzzzzzzzzz: unknown setting (known here: plugins, name, "
                                   "resources, mounts, network, nix, scripts, env, hooks, vm)");
        bad("{\"mounts\": [{\"source\": \"/a\", \"target\": \"/b\", \"ro\": true}]}",
            "mounts[0].ro: unknown setting (known here: source, state, tmpfs, target, readonly)");
        bad("{\"hooks\": {\"on-boot\": []}}",
            "hooks.on-boot: unknown setting (known here: pre-up, post-up, pre-down, post-down)");
}

static void test_wrong_types(void **state) {
        (void)state;
        bad("[]", "expected an attribute set, got a list");
        bad("{\"name\": 3}", "name: expected a string, got an integer 3");
        bad("{\"resources\": {\"vcpus\": \"four\"}}",
            "resources.vcpus: expected an integer, got a string \"four\"");
        bad("{\"resources\": {\"memoryMB\": 1.5}}", "expected an integer, got a float");
        bad("{\"resources\": []}", "resources: expected an attribute set, got a list");
        bad("{\"network\": {\"allowPrivate\": \"yes\"}}",
            "network.allowPrivate: expected a boolean (true or false)");
        bad("{\"network\": {\"domains\": \"a.example\"}}",
            "network.domains: expected a list of strings");
        bad("{\"network\": {\"domains\": [\"a\", 3]}}",
            "network.domains[1]: expected a string, got an integer 3");
        bad("{\"network\": {\"ports\": [\"22\"]}}", "network.ports[0]: expected an integer");
        bad("{\"plugins\": [3]}", "plugins[0]: expected a plugin name (\"aws\") or path");
        bad("{\"plugins\": \"aws\"}", "plugins: expected a list of plugins");
        bad("{\"env\": {\"A\": 1}}", "env.A: expected a string, got an integer 1");
        bad("{\"env\": []}", "env: expected an attribute set of strings");
        bad("{\"hooks\": []}", "hooks: expected an attribute set of command lists");
        bad("{\"hooks\": {\"pre-up\": \"echo\"}}", "hooks.pre-up: expected a list of strings");
        bad("{\"hooks\": {\"pre-up\": [true]}}", "hooks.pre-up[0]: expected a string");
}

static void test_mounts(void **state) {
        (void)state;
        bad("{\"mounts\": [\"/a\"]}",
            "mounts[0]: expected a mount { source = ...; target = ...; }");
        bad("{\"mounts\": [{\"source\": \"/a\"}]}",
            "mounts[0].target: missing (a mount needs a target, and a source, a state or tmpfs = "
            "true)");
        bad("{\"mounts\": [{\"state\": 1, \"target\": \"/b\"}]}",
            "mounts[0].state: expected a string");
        bad("{\"mounts\": [{\"tmpfs\": \"yes\", \"target\": \"/b\"}]}",
            "mounts[0].tmpfs: expected a boolean");
        /* the kinds themselves (exactly one of source, state, tmpfs) are config_mounts.c's */
        ok("{\"mounts\": [{\"state\": \"s\", \"target\": \"/b\"}, {\"tmpfs\": true, \"target\": "
           "\"/c\"}]}");
        bad("{\"mounts\": [{\"source\": \"/a\", \"target\": \"/b\", \"readonly\": \"yes\"}]}",
            "mounts[0].readonly: expected a boolean");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_field_accepted),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_mounts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
