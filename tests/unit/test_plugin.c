/* vm/plugin.c: a plugin's commands read from its commands/ folder — names, one-line summaries,
 * what is not a command, links, conflicts — and the built-in plugins' own commands. */
#include "support/testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/configproj.h"
#include "config/base/fsutil.h"
#include "vm/plugin.h"

static void write_exec(const char *dir, const char *rel, const char *content) {
        nbx_test_write(dir, rel, content);
        char *p = nbx_path_join(dir, rel);
        assert_int_equal(chmod(p, 0755), 0);
        free(p);
}

static void test_commands_and_summaries(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        write_exec(
                dir, "commands/login",
                "#!/bin/sh\n# nixbox: log in   \n#\n# usage: ...\nset -eu\n# nixbox: not this\n");
        write_exec(dir, "commands/sync-config.sh",
                   "#!/bin/sh\n# shellcheck disable=SC2016\n\n#   nixbox:   no, \"#   \"\n"
                   "# nixbox:\tcopy \x1b[31mthings\x1b[0m\n");
        write_exec(dir, "commands/no_header", "#!/bin/sh\necho\n# nixbox: after the code\n");
        /* not commands: other suffixes, hidden files, folders, links, odd names */
        write_exec(dir, "commands/README.md", "# nixbox: docs\n");
        write_exec(dir, "commands/.hidden", "#!/bin/sh\n");
        write_exec(dir, "commands/-dash", "#!/bin/sh\n");
        write_exec(dir, "commands/sub/inner", "#!/bin/sh\n");
        write_exec(dir, "commands/caf\xc3\xa9", "#!/bin/sh\n");
        char *link = nbx_path_join(dir, "commands/linked");
        assert_int_equal(symlink("/bin/true", link), 0);
        free(link);
        nbx_plugin_commands c;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_plugin_commands_read(dir, &c, &err) < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.v[0].name, "login"); /* sorted by name */
        assert_string_equal(c.v[0].file, "login");
        assert_string_equal(c.v[0].summary, "log in");
        assert_string_equal(c.v[1].name, "no_header");
        assert_string_equal(c.v[1].summary, ""); /* the header ended before the line */
        assert_string_equal(c.v[2].name, "sync-config");
        assert_string_equal(c.v[2].file, "sync-config.sh");
        /* kept as written: the caller escapes it for the terminal */
        assert_string_equal(c.v[2].summary, "copy \x1b[31mthings\x1b[0m");
        assert_ptr_equal(nbx_plugin_commands_find(&c, "sync-config"), &c.v[2]);
        assert_null(nbx_plugin_commands_find(&c, "sync-config.sh"));
        assert_null(nbx_plugin_commands_find(&c, "README"));
        assert_null(nbx_plugin_commands_find(&c, "linked"));
        nbx_plugin_commands_done(&c);
        nbx_test_rmdir(dir);
}

static void test_summary_capped_and_binary(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char text[600] = "#!/bin/sh\n# nixbox: ";
        memset(text + strlen(text), 'x', 400);
        write_exec(dir, "commands/long", text);
        /* a binary: a NUL ends the text, no summary */
        char *bin = nbx_path_join(dir, "commands/bin");
        int fd = open(bin, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        assert_true(fd >= 0);
        assert_int_equal(write(fd,
                               "\x7f"
                               "ELF\0# nixbox: no\n",
                               18),
                         18);
        close(fd);
        free(bin);
        nbx_plugin_commands c;
        assert_int_equal(nbx_plugin_commands_read(dir, &c, NULL), 0);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.v[0].summary, "");
        assert_int_equal(strlen(c.v[1].summary), NBX_PLUGIN_SUMMARY_MAX);
        nbx_plugin_commands_done(&c);
        nbx_test_rmdir(dir);
}

static void test_no_commands_and_refusals(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_plugin_commands c;
        /* no commands/ folder: no commands */
        assert_int_equal(nbx_plugin_commands_read(dir, &c, NULL), 0);
        assert_int_equal(c.n, 0);
        /* commands/ as a link: refused, not followed */
        char *target = nbx_path_join(dir, "elsewhere");
        assert_int_equal(mkdir(target, 0755), 0);
        write_exec(target, "evil", "#!/bin/sh\n");
        char *link = nbx_path_join(dir, "commands");
        assert_int_equal(symlink(target, link), 0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_plugin_commands_read(dir, &c, &err) < 0);
        nbx_test_assert_contains(err->msg, "commands (a folder, not a link)");
        assert_int_equal(unlink(link), 0);
        /* one command, two files */
        write_exec(dir, "commands/login", "#!/bin/sh\n");
        write_exec(dir, "commands/login.sh", "#!/bin/sh\n");
        nbx_error *e2 = NULL;
        assert_true(nbx_plugin_commands_read(dir, &c, &e2) < 0);
        assert_int_equal(e2->exit_code, NBX_EXIT_CONFIG);
        nbx_test_assert_contains(e2->msg, "are both the command \"login\"; remove one");
        nbx_error_free(e2);
        /* the plugin folder itself a link: refused */
        char *plugin_link = nbx_path_join(target, "plugin");
        assert_int_equal(symlink(dir, plugin_link), 0);
        nbx_error *e3 = NULL;
        assert_true(nbx_plugin_commands_read(plugin_link, &c, &e3) < 0);
        nbx_test_assert_contains(e3->msg, "(a folder, not a link)");
        nbx_error_free(e3);
        free(plugin_link);
        free(link);
        free(target);
        nbx_test_rmdir(dir);
}

/* The commands nixbox ships: each executable, each with a summary. */
static void test_builtin_commands(void **state) {
        (void)state;
        static const char *const want[][2] = {
                {"plugins/aws", "login"},
                {"plugins/claude-code", "sync-config"},
                {"plugins/scala-sbt", "credentials"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(want); i++) {
                nbx_plugin_commands c;
                _cleanup_error_ nbx_error *err = NULL;
                if (nbx_plugin_commands_read(want[i][0], &c, &err) < 0)
                        fail_msg("%s: %s", want[i][0], err->msg);
                assert_int_equal(c.n, 1);
                assert_string_equal(c.v[0].name, want[i][1]);
                assert_true(strlen(c.v[0].summary) > 20);
                char *path = NULL;
                assert_true(asprintf(&path, "%s/commands/%s", want[i][0], c.v[0].file) > 0);
                assert_int_equal(access(path, X_OK), 0);
                free(path);
                nbx_plugin_commands_done(&c);
        }
        /* the agents without commands */
        static const char *const none[] = {"plugins/gemini", "plugins/codex", "plugins/opencode"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(none); i++) {
                nbx_plugin_commands c;
                assert_int_equal(nbx_plugin_commands_read(none[i], &c, NULL), 0);
                assert_int_equal(c.n, 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_commands_and_summaries),
                cmocka_unit_test(test_summary_capped_and_binary),
                cmocka_unit_test(test_no_commands_and_refusals),
                cmocka_unit_test(test_builtin_commands),
        };
        return cmocka_run_group_tests_name("plugin", tests, NULL, NULL);
}
