/* Single values of a config source, validated into typed form: names, attribute paths, host and
 * guest paths, ports, addresses.  Lists, merging and origins are config_merge.c's. */
#include "config_values.h"
#include "mountspec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"

static int oom(nbx_error **err, const char *field) {
        return nbx_error_set(err, ENOMEM, "%s", field ? field : "config");
}

static bool valid_name(const char *n) {
        size_t len = strlen(n);
        if (len == 0 || len > NBX_MAX_NAME)
                return false;
        if (!(islower((unsigned char)n[0]) || isdigit((unsigned char)n[0])))
                return false;
        for (const char *p = n; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
                        return false;
        return true;
}

int nbx_config_value_name(const nbx_config_source *s, const char *field, const char *in, char **ret,
                          nbx_error **err) {
        _cleanup_free_ char *n = strdup(in);
        if (!n)
                return oom(err, field);
        for (char *p = n; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        if (!valid_name(n)) {
                _cleanup_free_ char *q = nbx_quote(in, 80);
                return nbx_config_fail(s, err, field,
                                       "expected 1-%d characters of a-z, 0-9 and '-' starting "
                                       "with a letter or digit, got %s",
                                       NBX_MAX_NAME, q ? q : "");
        }
        *ret = TAKE_PTR(n);
        return 0;
}

static bool valid_attr_path(const char *p) {
        size_t len = strlen(p);
        if (len == 0 || len > NBX_MAX_ATTR_PATH || p[0] == '.' || p[len - 1] == '.' ||
            strstr(p, ".."))
                return false;
        for (const char *c = p; *c; c++)
                if (!(isalnum((unsigned char)*c) || strchr("_.+-", *c)))
                        return false;
        return true;
}

int nbx_config_value_attr_path(const nbx_config_source *s, const char *field, const char *in,
                               char **ret, nbx_error **err) {
        if (!valid_attr_path(in)) {
                _cleanup_free_ char *q = nbx_quote(in, 80);
                return nbx_config_fail(s, err, field,
                                       "expected a nixpkgs attribute path ([A-Za-z0-9_.+-], at "
                                       "most %d characters, e.g. \"python3Packages.requests\"), "
                                       "got %s",
                                       NBX_MAX_ATTR_PATH, q ? q : "");
        }
        char *out = strdup(in);
        if (!out)
                return oom(err, field);
        *ret = out;
        return 0;
}

int nbx_config_value_env_name(const nbx_config_source *s, const char *field, const char *in,
                              nbx_error **err) {
        bool ok = *in && strlen(in) <= NBX_MAX_ENV_NAME &&
                  (isalpha((unsigned char)in[0]) || in[0] == '_');
        for (const char *p = in; ok && *p; p++)
                ok = isalnum((unsigned char)*p) || *p == '_';
        if (ok)
                return 0;
        _cleanup_free_ char *q = nbx_quote(in, 80);
        return nbx_config_fail(s, err, field,
                               "expected a variable name ([A-Za-z_][A-Za-z0-9_]*, at most %d "
                               "characters), got %s",
                               NBX_MAX_ENV_NAME, q ? q : "");
}

/* "~" or "~/..." joined to home; anything else starting with '~' ("~user") is refused. */
static int expand_tilde(const nbx_config_source *s, const char *field, const char *in,
                        const char *home, const char *q, char **ret, nbx_error **err) {
        if (in[1] != '\0' && in[1] != '/')
                return nbx_config_fail(s, err, field,
                                       "%s: only ~ and ~/... are supported (not ~user)", q);
        if (asprintf(ret, "%s%s", home, in + 1) < 0)
                return oom(err, field);
        return 0;
}

int nbx_config_value_host_path(const nbx_config_source *s, const nbx_config_ctx *ctx,
                               const char *field, const char *in, char **ret, nbx_error **err) {
        _cleanup_free_ char *q = nbx_quote(in, 200);
        if (!q)
                return oom(err, field);
        if (!*in)
                return nbx_config_fail(s, err, field, "empty path");
        if (strlen(in) >= PATH_MAX)
                return nbx_config_fail(s, err, field, "path longer than %d bytes", PATH_MAX - 1);
        _cleanup_free_ char *abs = NULL;
        if (in[0] == '~') {
                int r = expand_tilde(s, field, in, ctx->host_home, q, &abs, err);
                if (r < 0)
                        return r;
        } else {
                abs = in[0] == '/' ? strdup(in) : nbx_path_join(ctx->project_dir, in);
                if (!abs)
                        return oom(err, field);
        }
        char *real = realpath(abs, NULL);
        if (!real)
                return nbx_config_fail(s, err, field, "%s: %s does not exist (%s)", q, abs,
                                       strerror(errno));
        /* the project folder is the guest's to write: a link on the way there could have been
         * planted to share what the guest chose */
        _cleanup_free_ char *lexical = nbx_path_lexical(abs);
        if (lexical && nbx_path_within(lexical, ctx->project_dir) && strcmp(lexical, real) != 0) {
                int r = nbx_config_fail(s, err, field,
                                        "%s: %s goes through a symbolic link inside the project "
                                        "folder (to %s), which the VM could have planted; name "
                                        "the folder itself",
                                        q, lexical, real);
                free(real);
                return r;
        }
        *ret = real;
        return 0;
}

/* The same rules as `nixbox mount`'s targets (config/mountspec.h), with the field and file. */
int nbx_config_value_guest_path(const nbx_config_source *s, const nbx_config_ctx *ctx,
                                const char *field, const char *in, char **ret, nbx_error **err) {
        int r = nbx_mountspec_guest_path(in, ctx->guest_home, ret, err);
        if (r < 0)
                return nbx_config_fail_wrap(s, err, field);
        return 0;
}

int nbx_config_value_port(const nbx_config_source *s, const char *field, const json_t *in,
                          uint16_t *ret, nbx_error **err) {
        json_int_t v = json_integer_value(in);
        if (v < 1 || v > 65535)
                return nbx_config_fail(s, err, field, "expected a TCP port 1..65535, got %lld",
                                       (long long)v);
        *ret = (uint16_t)v;
        return 0;
}

int nbx_config_value_ip(const nbx_config_source *s, const char *field, const char *in, nbx_ip *ret,
                        nbx_error **err) {
        if (nbx_ip_from_string(in, ret))
                return 0;
        _cleanup_free_ char *q = nbx_quote(in, 80);
        return nbx_config_fail(s, err, field, "expected an IPv4 or IPv6 address, got %s",
                               q ? q : "");
}
