/* A guest image folder: `image.json` plus the files it names.  The test guest (tests/guest/build)
 * and the Nix-built guest (`nixbox build`) write the same manifest:
 *   { "kernel": "vmlinuz", "initrd": "initrd.img", "cmdline": "console=ttyS0 ...",
 *     "disk": "root.img" (optional, read-only root disk), "name": "...", "version": 1,
 *     "shares": [ { "tag": "nixstore", "source": "/nix/store" } ] (optional) }
 * Relative paths are relative to the folder.  `shares` are host folders the image mounts itself
 * while it boots (the Nix guest's root needs the host's Nix store): the host exports each
 * read-only over virtiofs under its tag, next to the config's mounts (docs/guest-contract.md). */
#pragma once

#include <stdbool.h>

#include "../config/base/error.h"

#define NBX_IMAGE_MAX_SHARES 4

typedef struct nbx_image_share {
        char *tag;    /* [A-Za-z][A-Za-z0-9_-]{0,22}, not nbxfs* (the host's own share tags) */
        char *source; /* absolute path of an existing host folder, exported read-only */
} nbx_image_share;

/* Whether tag is an image share's: [A-Za-z][A-Za-z0-9_-]{0,22}, not starting with nbxfs. */
bool nbx_image_tag_ok(const char *tag);

typedef struct nbx_image {
        char *dir;     /* absolute */
        char *kernel;  /* absolute path, must exist */
        char *initrd;  /* absolute path or NULL */
        char *cmdline; /* kernel command line (may be empty) */
        char *disk;    /* absolute path or NULL */
        char *name;    /* informational */
        nbx_image_share *shares;
        size_t n_shares;
} nbx_image;

/* Load and validate dir/image.json (jansson).  Errors name the file and the field. */
int nbx_image_load(const char *dir, nbx_image *ret, nbx_error **err);
void nbx_image_done(nbx_image *img);
