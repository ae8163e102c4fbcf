#include "ui.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nbx_ui_init(nbx_ui *ui, FILE *out, FILE *err) {
        const char *nc = getenv("NO_COLOR");
        ui->out = out;
        ui->err = err;
        ui->color = isatty(fileno(err)) && !(nc && *nc);
        ui->quiet = false;
}

static void emit(const nbx_ui *ui, const char *color, const char *prefix, const char *fmt,
                 va_list ap) {
        if (ui->color)
                fprintf(ui->err, "\033[%sm%s\033[0m", color, prefix);
        else
                fputs(prefix, ui->err);
        vfprintf(ui->err, fmt, ap);
        fputc('\n', ui->err);
        fflush(ui->err);
}

void nbx_ui_step(const nbx_ui *ui, const char *fmt, ...) {
        if (!ui || ui->quiet)
                return;
        va_list ap;
        va_start(ap, fmt);
        emit(ui, "1;34", "==> ", fmt, ap);
        va_end(ap);
}

void nbx_ui_warn(const nbx_ui *ui, const char *fmt, ...) {
        if (!ui)
                return;
        va_list ap;
        va_start(ap, fmt);
        emit(ui, "1;33", "warning: ", fmt, ap);
        va_end(ap);
}

void nbx_ui_error(const nbx_ui *ui, const char *fmt, ...) {
        if (!ui)
                return;
        va_list ap;
        va_start(ap, fmt);
        emit(ui, "1;31", "error: ", fmt, ap);
        va_end(ap);
}

/* Length of the valid UTF-8 sequence at p (0 when invalid), no overlongs or surrogates. */
static size_t utf8_len(const unsigned char *p) {
        if (p[0] < 0x80)
                return 1;
        size_t n = (p[0] & 0xe0) == 0xc0   ? 2
                   : (p[0] & 0xf0) == 0xe0 ? 3
                   : (p[0] & 0xf8) == 0xf0 ? 4
                                           : 0;
        if (n == 0 || (n == 2 && p[0] < 0xc2) || (n == 4 && p[0] > 0xf4))
                return 0;
        for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
            (n == 4 && p[0] == 0xf0 && p[1] < 0x90) || (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
                return 0;
        /* C1 controls (U+0080..U+009F) act on terminals too */
        if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
                return 0;
        return n;
}

char *nbx_ui_escape(const char *s) {
        if (!s)
                return strdup("");
        size_t len = strlen(s);
        char *out = malloc(4 * len + 1);
        if (!out)
                return NULL;
        size_t o = 0;
        const unsigned char *p = (const unsigned char *)s;
        for (size_t i = 0; i < len;) {
                size_t n = p[i] >= 0x20 && p[i] != 0x7f ? utf8_len(p + i) : 0;
                if (n == 0) {
                        o += (size_t)sprintf(out + o, "\\x%02x", p[i]);
                        i++;
                        continue;
                }
                memcpy(out + o, p + i, n);
                o += n;
                i += n;
        }
        out[o] = '\0';
        return out;
}
