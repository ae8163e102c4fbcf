#include "boot.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/sha256.h"
#include "../config/base/strv.h"
#include "../config/base/timeutil.h"
#include "console.h"

#define VERDICT_DIR "kvm-verdicts"

/* <runtime>/kvm-verdicts/<sha256 of host kernel, guest kernel path, size, mtime> */
static char *verdict_path(const char *runtime_dir, const char *kernel) {
        struct utsname u;
        struct stat st;
        if (uname(&u) < 0 || stat(kernel, &st) < 0)
                return NULL;
        char *key = NULL;
        if (asprintf(&key, "%s %s|%s|%lld|%lld", u.release, u.version, kernel,
                     (long long)st.st_size, (long long)st.st_mtime) < 0)
                return NULL;
        char hex[NBX_SHA256_HEX];
        nbx_sha256_hex(key, strlen(key), hex);
        free(key);
        char *p = NULL;
        return asprintf(&p, "%s/" VERDICT_DIR "/%.32s", runtime_dir, hex) < 0 ? NULL : p;
}

bool nbx_kvm_verdict_broken(const char *runtime_dir, const char *kernel, char *why, size_t len) {
        _cleanup_free_ char *p = verdict_path(runtime_dir, kernel);
        _cleanup_free_ char *text = NULL;
        if (!p || nbx_read_file(p, 4096, &text, NULL, NULL) < 0)
                return false;
        if (why && len)
                snprintf(why, len, "%s", text);
        return true;
}

int nbx_kvm_verdict_record(const char *runtime_dir, const char *kernel, nbx_error **err) {
        _cleanup_free_ char *p = verdict_path(runtime_dir, kernel);
        _cleanup_free_ char *dir = nbx_path_join(runtime_dir, VERDICT_DIR);
        if (!p || !dir)
                return nbx_error_set(err, errno ? errno : ENOMEM, "KVM verdict for %s", kernel);
        int r = nbx_mkdir_p(dir, 0755, err);
        if (r < 0)
                return r;
        char text[512], when[64];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&now, &tm));
        int n = snprintf(text, sizeof(text),
                         "KVM accepted the VM but %s made no progress within %d s (%s)\n", kernel,
                         NBX_KVM_BOOT_WATCHDOG_MS / 1000, when);
        return nbx_write_file(p, text, (size_t)n, 0644, err);
}

int nbx_kvm_verdict_count(const char *runtime_dir) {
        _cleanup_free_ char *dir = nbx_path_join(runtime_dir, VERDICT_DIR);
        DIR *d = dir ? opendir(dir) : NULL;
        if (!d)
                return 0;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

int nbx_boot_wait(const nbx_boot_watch *bw, nbx_error **err) {
        static const char *const first[] = {"nixbox-guest:", NULL};
        static const char *const lines[] = {"nixbox-guest: ready", "nixbox-guest: error:", NULL};
        nbx_console_watch w = {
                .path = bw->console, .needles = first, .alive = bw->alive, .data = bw->data};
        int r;
        if (bw->kvm) {
                r = nbx_console_wait(&w, nbx_deadline_in(NBX_KVM_BOOT_WATCHDOG_MS), err);
                if (r < 0)
                        return r == -ECHILD ? nbx_error_set(err, ECHILD,
                                                            "%s exited while the guest was booting",
                                                            bw->hypervisor)
                                            : r;
                w.offset = 0; /* that line may have been `ready` or an error itself */
        }
        w.needles = lines;
        uint64_t timeout = bw->kvm ? NBX_BOOT_TIMEOUT_KVM_MS : NBX_BOOT_TIMEOUT_TCG_MS;
        uint64_t deadline = nbx_deadline_in(timeout);
        _cleanup_strv_ nbx_strv errors = {0};
        while ((r = nbx_console_wait(&w, deadline, err)) == 1)
                (void)nbx_strv_push(&errors, strstr(w.line, "nixbox-guest: error:") + 21);
        if (r == -ETIMEDOUT)
                return nbx_error_set(err, ETIMEDOUT,
                                     "the guest did not report ready within %llu s (its console "
                                     "is in the log below)",
                                     (unsigned long long)(timeout / 1000));
        if (r == -ECHILD)
                return nbx_error_set(err, ECHILD, "%s exited while the guest was booting",
                                     bw->hypervisor);
        if (r < 0)
                return r;
        if (errors.n) {
                r = nbx_error_set(err, EIO,
                                  "the guest reported %zu error(s) while booting:", errors.n);
                for (size_t i = 0; i < errors.n; i++)
                        nbx_error_append(err, "\n  %s", errors.v[i]);
                return r;
        }
        return 0;
}
