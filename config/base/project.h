/* Project discovery and the on-disk layout of a project and of the host-wide runtime folder. */
#pragma once

#include "error.h"

#define NBX_PROJECT_DIRNAME ".nixbox"
#define NBX_CONFIG_FILENAME "config.nix"
#define NBX_RUNTIME_DIR_DEFAULT "/run/nixbox"
#define NBX_RUNTIME_DIR_ENV "NIXBOX_RUNTIME_DIR"

typedef struct nbx_project {
        char *root;        /* absolute folder that holds .nixbox/ */
        char *nixbox_dir;  /* root/.nixbox */
        char *config_path; /* root/.nixbox/config.nix */
} nbx_project;

/* Walk up from start (absolute or relative; NULL = cwd) to the nearest folder holding
 * .nixbox/config.nix.  Fails with NBX_EXIT_NO_PROJECT and a hint to run `nixbox init`. */
int nbx_project_find(const char *start, nbx_project *ret, nbx_error **err);
/* Fill paths for a known project root (no checks). */
int nbx_project_at(const char *root, nbx_project *ret, nbx_error **err);
void nbx_project_done(nbx_project *p);

/* Create DIR/.nixbox/config.nix (commented template).  Nothing else lives in .nixbox/: it is
 * the project's configuration, to be versioned whole (the VM's state is kept outside the project,
 * vm/paths.h).  Refuses, and changes nothing, when DIR/.nixbox exists.  Files are chowned to
 * uid:gid when run as root. */
int nbx_project_init(const char *dir, uid_t uid, gid_t gid, nbx_error **err);
/* The template written by init (for tests and docs). */
extern const char nbx_config_template[];

/* Host-wide runtime folder: $NIXBOX_RUNTIME_DIR or /run/nixbox.  Returns a malloc'd path. */
char *nbx_runtime_dir(void);
