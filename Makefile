# nixbox — see README.md.  `make` builds build/nixbox; `make check` installs what is missing
# (Debian), builds and runs every test tier.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/nixbox
MANDIR = $(PREFIX)/share/man/man1

CC ?= cc
PKGS = libnftnl libmnl jansson libidn2 libpsl
# pkg-config is asked when a recipe first needs the flags, not when make reads this file: on a
# fresh machine `make deps` installs the -dev packages first (targets that need them run deps,
# then a sub-make).  A package still missing stops the build with the command that fixes it.
pkg = $(if $(shell pkg-config --exists $(2) && echo y),$(shell pkg-config $(1) $(2)),$(error \
      missing development files of $(2) (pkg-config cannot find them): run `sudo make deps`))
lazy = $(eval $(1) := $(2))$($(1))
PKG_CFLAGS = $(call lazy,PKG_CFLAGS,$(call pkg,--cflags,$(PKGS)))
PKG_LIBS = $(call lazy,PKG_LIBS,$(call pkg,--libs,$(PKGS)))
CMOCKA_CFLAGS = $(call lazy,CMOCKA_CFLAGS,$(call pkg,--cflags,cmocka))
CMOCKA_LIBS = $(call lazy,CMOCKA_LIBS,$(call pkg,--libs,cmocka))

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wstrict-prototypes \
       -Wmissing-prototypes -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) \
             -DNBX_VERSION='"$(VERSION)"' -DNBX_DATADIR='"$(DATADIR)"' -I.
LDLIBS_ALL = $(PKG_LIBS)

# B is the build folder; the sanitizer tier builds the same sources into build/san.
B ?= build
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC := $(sort $(wildcard config/*.c config/*/*.c net/*.c net/*/*.c vm/*.c vm/*/*.c))
CMD_SRC := $(sort $(filter-out cmd/main.c,$(wildcard cmd/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := $(sort $(wildcard tests/unit/support/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SUPPORT_OBJ := $(UNIT_SUPPORT:%.c=$(B)/obj/%.o)

# keep intermediate objects (test objects would otherwise be rebuilt every run)
.SECONDARY:

.PHONY: all check check-install check-format format-version check-unit check-san check-valgrind \
        check-nix check-net check-kernels check-host check-e2e check-fuzz bench demo fuzz \
        install clean deps unit-bins net-bins bench-bins format

all: $(B)/nixbox

# V=1 shows full command lines
Q = $(if $(V),,@)
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libnixbox.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/libnixbox-cli.a: $(CMD_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(B)/nixbox: $(B)/obj/cmd/main.o $(B)/libnixbox-cli.a $(B)/libnixbox.a
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(B)/libnixbox-cli.a $(B)/libnixbox.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS_ALL)

unit-bins: $(UNIT_BIN) $(B)/nixbox

# Helpers of the network tier (tests/net/*.c: tap wire, library driver), linked with the library.
NET_SRC := $(sort $(wildcard tests/net/*.c))
NET_BIN := $(NET_SRC:tests/net/%.c=$(B)/tests/net/%)
$(B)/tests/net/%: $(B)/obj/tests/net/%.o $(B)/libnixbox.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)
net-bins: $(NET_BIN)

# Benchmark drivers (tests/bench/*.c), linked with the library; `make bench` runs tests/bench/run.
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)
$(B)/tests/bench/%: $(B)/obj/tests/bench/%.o $(B)/libnixbox.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)
bench-bins: $(BENCH_BIN)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------------------------
# Unit tier: no root needed.  Runs under ASan+UBSan (build/san) — the same sources, the same
# tests — and then plain under valgrind.
# clang also compiles everything: it refuses a goto that jumps past a _cleanup_ variable's
# initialisation, which gcc accepts silently (the destructor would then run on garbage).
check-unit:
	$(MAKE) --no-print-directory B=build/clang CC=clang all
	$(MAKE) --no-print-directory check-san
	$(MAKE) --no-print-directory check-valgrind

check-san:
	$(MAKE) --no-print-directory B=build/san CFLAGS='$(SAN_FLAGS)' unit-bins
	NIXBOX_BUILD=build/san tests/run-unit build/san/tests $(UNIT_BIN:$(B)/tests/%=%)

check-valgrind: unit-bins
	NIXBOX_BUILD=$(B) NIXBOX_VALGRIND=1 tests/run-unit $(B)/tests $(UNIT_BIN:$(B)/tests/%=%)

# Nix tier: every .nix file parses; the guest module, guest.json mapping, flake outputs and host
# module evaluated with nixpkgs' vendored lib and named stand-ins; the guest helper's behaviour
# with stand-in programs (no root, no nixpkgs: docs/nix.md says what only a Nix host checks).
check-nix:
	tests/nix/run

# Network tier: real kernel, nftables, dnsmasq inside namespaces the tests create (needs root).
check-net: all net-bins
	tests/run-integration net

# Kernel range: the network tier inside Debian 12's own kernel (6.1) under QEMU (TCG), on this
# machine's root filesystem shared read-only (tests/kernels/README.md).
check-kernels: all net-bins
	tests/kernels/run

# End-to-end: real VMs (QEMU) in a sandboxed world of namespaces (needs root).
check-e2e: all
	tests/run-integration e2e

# The kernel tier (one TCG vCPU, ~5 min) runs beside the unit tier (one core): 2 cores, both busy.
# check-kernels is one TCG VM busy on one core for most of the run: it runs beside all the rest,
# which runs one tier after another on the other core (its few lines interleave with theirs).
check: deps
	$(MAKE) --no-print-directory check-format
	$(MAKE) --no-print-directory all net-bins
	$(MAKE) --no-print-directory -j2 check-kernels check-host

# Every tier but check-kernels, one after another.
check-host:
	$(MAKE) --no-print-directory check-unit
	$(MAKE) --no-print-directory check-fuzz
	$(MAKE) --no-print-directory check-nix
	$(MAKE) --no-print-directory check-install
	$(MAKE) --no-print-directory check-net
	$(MAKE) --no-print-directory check-e2e

# `make install` into a prefix and a DESTDIR; the installed binary finds its data files.
check-install: all
	tests/install/run

# Targets that install dependencies first build in a sub-make, so that pkg-config is asked
# after `deps` has installed the development files.
bench: deps
	$(MAKE) --no-print-directory all bench-bins
	tests/bench/run

demo: deps
	$(MAKE) --no-print-directory all
	tests/demo/run

# Fuzzing (clang's libFuzzer): every harness for FUZZ_SECONDS (default 20); check-fuzz is the short
# run `make check` does (5 s each).
fuzz: all
	tests/fuzz/run

check-fuzz: all
	FUZZ_SECONDS=$${FUZZ_SECONDS:-5} tests/fuzz/run

deps:
	@tests/deps.sh

# Formatting: Debian 12's clang-format (version 14) with .clang-format; another version formats
# differently, so the check insists on this one.
CLANG_FORMAT ?= clang-format
CLANG_FORMAT_VERSION = 14
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o \
             \( -name '*.c' -o -name '*.h' \) -print)
format-version:
	@$(CLANG_FORMAT) --version | grep -q 'version $(CLANG_FORMAT_VERSION)\.' || { echo \
	  "error: the format check needs clang-format $(CLANG_FORMAT_VERSION) (found: $$($(CLANG_FORMAT) \
	  --version 2>&1)); run \`sudo make deps\` or set CLANG_FORMAT=clang-format-$(CLANG_FORMAT_VERSION)" \
	  >&2; exit 6; }

format: format-version
	$(CLANG_FORMAT) -i $(FORMAT_SRC)

check-format: format-version
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRC) || { echo \
	  "error: unformatted code (above); run \`make format\`" >&2; exit 1; }
	@echo "format: $(words $(FORMAT_SRC)) files clean"

# ---- install -------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)
	install -m 0755 $(B)/nixbox $(DESTDIR)$(BINDIR)/nixbox
	cp -R plugins nix $(DESTDIR)$(DATADIR)/
	install -m 0644 docs/nixbox.1 $(DESTDIR)$(MANDIR)/nixbox.1
	install -D -m 0644 docs/completions/nixbox.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/nixbox
	install -D -m 0644 docs/completions/_nixbox $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_nixbox

clean:
	rm -rf build
