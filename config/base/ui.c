#include "ui.h"

#include <stdarg.h>
#include <stdlib.h>
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
