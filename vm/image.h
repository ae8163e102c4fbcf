/* A guest image folder: `image.json` plus the files it names.  The test guest (tests/guest/build)
 * and the Nix-built guest (`nixbox build`) write the same manifest:
 *   { "kernel": "vmlinuz", "initrd": "initrd.img", "cmdline": "console=ttyS0 ...",
 *     "disk": "root.img" (optional, read-only root disk), "name": "...", "version": 1 }
 * Relative paths are relative to the folder. */
#pragma once

#include "../config/base/error.h"

typedef struct nbx_image {
        char *dir;     /* absolute */
        char *kernel;  /* absolute path, must exist */
        char *initrd;  /* absolute path or NULL */
        char *cmdline; /* kernel command line (may be empty) */
        char *disk;    /* absolute path or NULL */
        char *name;    /* informational */
} nbx_image;

/* Load and validate dir/image.json (jansson).  Errors name the file and the field. */
int nbx_image_load(const char *dir, nbx_image *ret, nbx_error **err);
void nbx_image_done(nbx_image *img);
