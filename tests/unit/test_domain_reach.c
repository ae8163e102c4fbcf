/* config/domain_reach.c: what an allow-list entry reaches, by the Public Suffix List — the real
 * list this machine has (Debian's publicsuffix, through libpsl), and a small stand-in list for
 * the rules themselves (wildcards, exceptions, IDN, sections). */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config/domain.h"
#include "config/base/fsutil.h"

/* 0 accepted (warning in *warning, or NULL), -EINVAL refused (message in *refusal). */
static int reach(const nbx_psl *p, const char *name, char **warning, char **refusal) {
        _cleanup_error_ nbx_error *err = NULL;
        *warning = *refusal = NULL;
        int r = nbx_domain_check_reach(p, name, warning, &err);
        if (r < 0) {
                assert_non_null(err);
                assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
                *refusal = strdup(err->msg);
        }
        return r;
}

static void zone(const nbx_psl *p, const char *name) {
        char *w, *e;
        if (reach(p, name, &w, &e) < 0 || w)
                fail_msg("%s: expected an ordinary zone, got: %s", name, e ? e : w);
}

static void refused(const nbx_psl *p, const char *name, const char *want) {
        char *w, *e;
        if (reach(p, name, &w, &e) == 0)
                fail_msg("%s accepted (warning: %s)", name, w ? w : "none");
        if (!strstr(e, want))
                fail_msg("%s: expected \"%s\" in: %s", name, want, e);
        free(e);
}

static void warned(const nbx_psl *p, const char *name, const char *want) {
        char *w, *e;
        if (reach(p, name, &w, &e) < 0)
                fail_msg("%s refused: %s", name, e);
        if (!w || !strstr(w, want))
                fail_msg("%s: expected a warning with \"%s\", got: %s", name, want, w ? w : "none");
        free(w);
}

static void test_real_list(void **state) {
        (void)state;
        _cleanup_(nbx_psl_freep) nbx_psl *p = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_psl_open(NULL, NULL, &p, &err) < 0)
                fail_msg("%s", err->msg);
        assert_null(nbx_psl_warning(p)); /* tests/deps.sh installs the list's text */

        refused(p, "com",
                "\"com\" is a top-level domain: allowing it would allow every .com host; name "
                "the hosts you need (e.g. \"api.example.com\")");
        refused(p, "xn--p1ai", "is a top-level domain"); /* .рф */
        refused(p, "localhost", "\"localhost\" is a single-label name");
        refused(p, "intranet", "(e.g. \"api.example.com\")");
        refused(p, "co.uk",
                "\"co.uk\" is a public suffix (names under it belong to many owners): allowing "
                "it would allow every .co.uk host; name the hosts you need (e.g. "
                "\"api.example.co.uk\")");
        refused(p, "com.au", "is a public suffix");

        warned(p, "github.io",
               "\"github.io\" is a shared suffix (Public Suffix List, private "
               "section): anyone can own a name under it, an attacker too");
        warned(p, "s3.amazonaws.com", "is a shared suffix");
        warned(p, "amazonaws.com",
               "\"amazonaws.com\" holds shared suffixes such as \"s3.amazonaws.com\"");

        zone(p, "example.org");
        zone(p, "api.example.co.uk");
        zone(p, "me.github.io");
        zone(p, "bucket.s3.amazonaws.com");
        zone(p, "nixos.org");
}

/* The built-in plugins' domains (plugins/ * /default.nix): all are ordinary zones (hosts under
 * a shared suffix, like generativelanguage.googleapis.com, are: the suffix's owner runs them). */
static void test_builtin_plugin_domains(void **state) {
        (void)state;
        _cleanup_(nbx_psl_freep) nbx_psl *p = NULL;
        assert_int_equal(nbx_psl_open(NULL, NULL, &p, NULL), 0);
        const char *zones[] = {"sts.amazonaws.com",
                               "anthropic.com",
                               "claude.ai",
                               "claude.com",
                               "sentry.io",
                               "repo1.maven.org",
                               "repo.maven.apache.org",
                               "repo.scala-sbt.org",
                               "scala.jfrog.io",
                               "oss.sonatype.org",
                               "s01.oss.sonatype.org",
                               "repo.typesafe.com",
                               "scala-lang.org",
                               "github.com",
                               "objects.githubusercontent.com",
                               "generativelanguage.googleapis.com",
                               "cloudcode-pa.googleapis.com",
                               "oauth2.googleapis.com",
                               "www.googleapis.com",
                               "api.openai.com",
                               "chatgpt.com",
                               "auth.openai.com",
                               "models.dev",
                               "opencode.ai"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(zones); i++)
                zone(p, zones[i]);
}

#define STAND_IN                                                                                   \
        "// a stand-in Public Suffix List, in the real list's format\n"                            \
        "// ===BEGIN ICANN DOMAINS===\n"                                                           \
        "tld\n"                                                                                    \
        "co.tld\n"                                                                                 \
        "*.wild.tld\n"                                                                             \
        "!www.wild.tld\n"                                                                          \
        "city.region.tld\n"                                                                        \
        "bücher\n"                                                                                \
        "// ===END ICANN DOMAINS===\n"                                                             \
        "// ===BEGIN PRIVATE DOMAINS===\n"                                                         \
        "// Some Host : https://host.tld\n"                                                        \
        "pages.host.tld\n"                                                                         \
        "*.run.cloud.tld    // a comment after the rule\n"                                         \
        "boote.häfen.tld\n"                                                                       \
        "// ===END PRIVATE DOMAINS===\n"

static void test_stand_in_list(void **state) {
        (void)state;
        char *tmp = nbx_test_tmpdir();
        nbx_test_write(tmp, "list.dat", STAND_IN);
        char *list = nbx_path_join(tmp, "list.dat");
        _cleanup_(nbx_psl_freep) nbx_psl *p = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_psl_open(list, NULL, &p, &err) < 0)
                fail_msg("%s", err->msg);
        assert_null(nbx_psl_warning(p));

        refused(p, "tld", "is a top-level domain");
        refused(p, "co.tld", "is a public suffix");
        refused(p, "x.wild.tld", "is a public suffix"); /* *.wild.tld */
        zone(p, "www.wild.tld");                        /* the exception */
        refused(p, "wild.tld", "is a public suffix");   /* libpsl: "*.x" makes x a suffix too */
        refused(p, "region.tld", "holds public suffixes such as \"city.region.tld\"");
        refused(p, "xn--bcher-kva", "is a top-level domain"); /* an IDN rule, as punycode */
        warned(p, "pages.host.tld", "is a shared suffix");
        warned(p, "host.tld", "holds shared suffixes such as \"pages.host.tld\"");
        warned(p, "cloud.tld", "holds shared suffixes such as \"*.run.cloud.tld\"");
        warned(p, "run.cloud.tld", "is a shared suffix");
        /* IDN rules are UTF-8 in the list; names arrive as punycode */
        warned(p, "xn--hfen-loa.tld", "holds shared suffixes such as \"boote.häfen.tld\"");
        zone(p, "me.pages.host.tld");
        zone(p, "example.tld");
        /* a name the list does not know has the implicit "*" rule for its last label only */
        refused(p, "unknown", "is a single-label name");
        zone(p, "example.unknown");
        free(list);
        nbx_test_rmdir(tmp);
}

static void test_missing_data(void **state) {
        (void)state;
        _cleanup_(nbx_psl_freep) nbx_psl *p = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_psl_open("/nonexistent/list.dat", NULL, &p, &err) < 0);
        assert_null(p);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "apt-get install publicsuffix"));

        /* libpsl's data without the list's text: suffixes still refused, the rest unknown,
         * and a warning says so */
        assert_int_equal(nbx_psl_open(NULL, "/nonexistent/list.dat", &p, NULL), 0);
        assert_non_null(nbx_psl_warning(p));
        assert_non_null(strstr(nbx_psl_warning(p), "/nonexistent/list.dat"));
        refused(p, "co.uk", "is a public suffix");
        warned(p, "github.io", "is a shared suffix");
        zone(p, "amazonaws.com"); /* what the text would have found */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_list),
                cmocka_unit_test(test_builtin_plugin_domains),
                cmocka_unit_test(test_stand_in_list),
                cmocka_unit_test(test_missing_data),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
