#include "project.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

const char nbx_config_template[] =
        "# nixbox project configuration: a Nix attribute set.  Every field is optional;\n"
        "# `nixbox config` shows the resolved values and where each came from.\n"
        "# Reference: docs/config.md (or `man nixbox`).\n"
        "{\n"
        "  # Built-in plugins by name (\"claude-code\", \"aws\", \"scala-sbt\"), or paths to your "
        "own.\n"
        "  plugins = [ ];\n"
        "\n"
        "  # VM name: [a-z0-9][a-z0-9-]{0,31}; defaults to this folder's name.\n"
        "  # name = \"dev\";\n"
        "\n"
        "  # resources.vcpus = 2;          # 1 .. host cores (default: all cores)\n"
        "  # resources.memoryMB = 4096;    # >= 256 (default: half of host RAM, at least 4096)\n"
        "\n"
        "  # Host folders shared into the VM.  Default: this project at ~/workspace.\n"
        "  # mounts = [ { source = \".\"; target = \"~/workspace\"; readonly = false; } ];\n"
        "\n"
        "  # Egress: \"off\" (nothing leaves), \"filtered\" (only the domains below, on the ports\n"
        "  # below), \"open\" (anything but private/link-local addresses).  Default: \"open\".\n"
        "  # network.mode = \"filtered\";\n"
        "  # network.domains = [ \"github.com\" ];   # added to nixos.org and plugin domains\n"
        "  # network.ports = [ 22 ];                # added to 80 and 443\n"
        "  # network.upstreamDns = [ \"9.9.9.9\" ];  # default: the host's resolvers\n"
        "  # network.allowPrivate = false;          # let the VM reach RFC 1918 / link-local\n"
        "\n"
        "  # Guest packages (nixpkgs attribute paths) and libraries for nix-ld.\n"
        "  # nix.packages = [ \"ripgrep\" ];\n"
        "  # nix.ldLibraries = [ ];\n"
        "\n"
        "  # Scripts run inside the guest after boot, with `env` set.\n"
        "  # scripts = [ ./setup.sh ];\n"
        "\n"
        "  # Secrets and settings for the guest's login environment (never written to disk).\n"
        "  # env = { GITHUB_TOKEN = builtins.getEnv \"GITHUB_TOKEN\"; };\n"
        "\n"
        "  # Host commands (sh -c, in this folder, as you) around the lifecycle.\n"
        "  # hooks.pre-up = [ ]; hooks.post-up = [ ]; hooks.pre-down = [ ]; hooks.post-down = [ "
        "];\n"
        "\n"
        "  # vm.hypervisor = \"auto\";   # \"auto\" | \"cloud-hypervisor\" | \"qemu\"\n"
        "  # vm.image = ./image;        # folder with image.json (default: the `nixbox build` "
        "guest)\n"
        "  # vm.accel = \"auto\";        # \"auto\" | \"kvm\" | \"tcg\"\n"
        "}\n";

int nbx_project_at(const char *root, nbx_project *ret, nbx_error **err) {
        nbx_project p = {0};
        p.root = strdup(root);
        p.nixbox_dir = nbx_path_join(root, NBX_PROJECT_DIRNAME);
        if (p.nixbox_dir) {
                p.config_path = nbx_path_join(p.nixbox_dir, NBX_CONFIG_FILENAME);
        }
        if (!p.root || !p.nixbox_dir || !p.config_path) {
                nbx_project_done(&p);
                return nbx_error_set(err, ENOMEM, "project paths");
        }
        *ret = p;
        return 0;
}

int nbx_project_find(const char *start, nbx_project *ret, nbx_error **err) {
        char resolved[PATH_MAX];
        if (!realpath(start ? start : ".", resolved))
                return nbx_error_setx(err, start ? NBX_EXIT_USAGE : NBX_EXIT_FAILURE, errno,
                                      "cannot use project folder %s", start ? start : ".");

        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", resolved);
        for (;;) {
                char cfg[PATH_MAX + 32];
                snprintf(cfg, sizeof(cfg), "%s%s" NBX_PROJECT_DIRNAME "/" NBX_CONFIG_FILENAME, dir,
                         strcmp(dir, "/") == 0 ? "" : "/");
                if (nbx_is_file(cfg))
                        return nbx_project_at(dir, ret, err);
                if (strcmp(dir, "/") == 0)
                        break;
                char *slash = strrchr(dir, '/');
                if (slash == dir)
                        dir[1] = '\0';
                else
                        *slash = '\0';
        }
        return nbx_error_setx(err, NBX_EXIT_NO_PROJECT, 0,
                              "no nixbox project found in %s or any parent folder "
                              "(looked for .nixbox/config.nix); run `nixbox init` to create one",
                              resolved);
}

void nbx_project_done(nbx_project *p) {
        free(p->root);
        free(p->nixbox_dir);
        free(p->config_path);
        *p = (nbx_project){0};
}

int nbx_project_init(const char *dir, uid_t uid, gid_t gid, nbx_error **err) {
        if (!nbx_is_dir(dir))
                return nbx_error_setx(err, NBX_EXIT_USAGE, ENOTDIR, "nixbox init: %s", dir);
        _cleanup_free_ char *nbx = nbx_path_join(dir, NBX_PROJECT_DIRNAME);
        if (!nbx)
                return nbx_error_set(err, ENOMEM, "init");
        /* mkdir (not mkdir -p) is the atomic "refuse if it exists" check */
        if (mkdir(nbx, 0755) < 0) {
                if (errno == EEXIST)
                        return nbx_error_set(err, 0,
                                             "%s already exists; nixbox init changes nothing "
                                             "(edit %s/" NBX_CONFIG_FILENAME " instead)",
                                             nbx, nbx);
                return nbx_error_set(err, errno, "create %s", nbx);
        }
        _cleanup_free_ char *cfg = nbx_path_join(nbx, NBX_CONFIG_FILENAME);
        int r = 0;
        if (!cfg)
                r = nbx_error_set(err, ENOMEM, "init");
        if (r >= 0)
                r = nbx_write_file(cfg, nbx_config_template, sizeof(nbx_config_template) - 1, 0644,
                                   err);
        if (r >= 0)
                r = nbx_chown_if_root(nbx, uid, gid, err);
        if (r >= 0)
                r = nbx_chown_if_root(cfg, uid, gid, err);
        if (r < 0) {
                (void)nbx_rm_rf(nbx, NULL); /* half an init is worse than none */
                return r;
        }
        return 0;
}

char *nbx_runtime_dir(void) {
        const char *e = getenv(NBX_RUNTIME_DIR_ENV);
        if (!e || !*e)
                return strdup(NBX_RUNTIME_DIR_DEFAULT);
        if (e[0] == '/')
                return strdup(e);
        /* absolute, always: the path ends up in dnsmasq's config and in records read by other
         * processes with other working directories */
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
                return NULL;
        return nbx_path_join(cwd, e);
}
