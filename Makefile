# SPDX-License-Identifier: GPL-2.0
#
# pcopy top-level Makefile.
#
#   make            build pcopy.ko, the agent, the selftests and the tools
#   make check      install what is missing, build, lint, boot the test VM,
#                   run every selftest, print "N passed, N failed"
#                   (T="name ..." runs only the selftests whose name matches)
#   make demo       install, build, boot the test VM and run the main job
#   make bench      install, build (bench/ too), boot the test VM and run the
#                   benchmarks (bench/run.sh; Documentation/bench.rst)
#   make check-debug  install, build a debug kernel (KASAN, KFENCE, lockdep,
#                   PROVE_RCU, kmemleak; cached after the first build),
#                   build pcopy.ko for it, run the selftests on it in the VM
#                   and print "[debug]" results, "N passed, N failed" last
#                   (Documentation/debug-kernel.rst; T= works as for check)
#   make lint       checkpatch and sparse on kmod/
#   make install    the agent (PREFIX/sbin/pcopy, its helpers in
#                   PREFIX/libexec/pcopy), the man pages pcopy(8)
#                   and pcopy.ko(4), bash completion and the docs, under
#                   DESTDIR (PREFIX defaults to /usr/local)
#   make modules_install  pcopy.ko into /lib/modules/KVER/updates (under
#                   INSTALL_MOD_PATH), then depmod
#   make dkms-install / dkms-remove  pcopy.ko's sources in
#                   /usr/src/pcopy-VERSION, built and installed by DKMS for
#                   KVER (and later kernels) / all of it removed again
#   make man / make htmldocs  the man pages / HTML from Documentation/ with
#                   Sphinx, warnings are errors (build/man, build/html)
#
#   make check KERNELS=6.12   only the listed lanes (default: 6.1 6.12;
#                   Documentation/testing.rst)
#
# KDIR defaults to the newest installed headers of the kernel series
# SERIES (6.1 on the Debian 12 host; the 6.12 lane builds with SERIES=6.12
# in its trixie rootfs); KVER is the kernel release the VM boots, which
# must be the one pcopy.ko is built for.  The kselftest harness headers and
# checkpatch come from the same series' linux-source.

SERIES ?= 6.1
KVER ?= $(shell ls -d /lib/modules/$(SERIES).*/build 2>/dev/null | sort -V | tail -n 1 | cut -d/ -f4)
KDIR ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
KSRC_TAR ?= /usr/src/linux-source-$(SERIES).tar.xz
KERNELS ?= 6.1 6.12
KSRC := $(BUILD)/linux-src
T ?=

CC ?= gcc
MAKEFLAGS += --no-print-directory
USER_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I$(CURDIR)/uapi
export CC USER_CFLAGS KSRC BUILD

.PHONY: all kmod agent selftests tools check check-debug demo bench lint deps clean vm-check vm-check-debug vm-demo vm-bench ksrc
.PHONY: man htmldocs install modules_install uninstall dkms-source dkms-install dkms-remove

all: kmod agent selftests tools

kmod:
	@test -d "$(KDIR)" || { echo "kmod: no kernel headers at '$(KDIR)' (install linux-headers-amd64 or set KDIR)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

agent:
	$(MAKE) -C agent

# Pieces of Debian's linux-source-$(SERIES) we use: the kselftest harness
# headers and checkpatch, and where the kernel has it (6.4 and later) the
# YNL CLI with its schemas (selftests/ynl_test).  tar exits non-zero when
# a pattern matches nothing, so the files needed are checked instead.
KSRC_NEED := tools/testing/selftests/kselftest_harness.h \
	tools/testing/selftests/kselftest.h scripts/checkpatch.pl \
	scripts/spelling.txt scripts/const_structs.checkpatch
$(KSRC)/.stamp: $(KSRC_TAR) Makefile
	@test -r "$(KSRC_TAR)" || { echo "ksrc: $(KSRC_TAR) missing (install linux-source-$(SERIES))"; exit 1; }
	rm -rf $(KSRC) && mkdir -p $(KSRC)
	tar -xf $(KSRC_TAR) -C $(KSRC) --strip-components=1 --wildcards \
		$(addprefix linux-source-$(SERIES)/,$(KSRC_NEED)) \
		'linux-source-$(SERIES)/tools/net/ynl/*' \
		'linux-source-$(SERIES)/Documentation/netlink/*' 2>/dev/null || true
	@for f in $(KSRC_NEED); do test -f $(KSRC)/$$f || { echo "ksrc: $$f not in $(KSRC_TAR)"; exit 1; }; done
	touch $@

ksrc: $(KSRC)/.stamp

selftests: ksrc agent tools
	$(MAKE) -C selftests

tools:
	@if [ -f tools/minivm/Makefile ]; then $(MAKE) -C tools/minivm; fi

deps:
	tools/deps.sh

lint: ksrc
	$(KSRC)/scripts/checkpatch.pl --no-tree --quiet --show-types -f $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(filter-out kmod/compat.h,$(wildcard kmod/*.h))
	@# compat.h is where version checks belong
	$(KSRC)/scripts/checkpatch.pl --no-tree --quiet --show-types --ignore LINUX_VERSION_CODE -f kmod/compat.h
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 modules 2>&1 | tee $(BUILD)/sparse.log
	@! grep -E 'warning:|error:' $(BUILD)/sparse.log

# make check / make demo: the two set-up commands of the README.
check: deps
	$(MAKE) vm-check

check-debug: deps
	$(MAKE) vm-check-debug

demo: deps
	$(MAKE) vm-demo

bench: deps
	$(MAKE) vm-bench

vm-check:
	@BUILD=$(BUILD) KVER=$(KVER) T="$(T)" KERNELS="$(KERNELS)" tools/vmtest/check.sh

vm-check-debug:
	@BUILD=$(BUILD) T="$(T)" tools/debugkernel/check.sh

vm-demo: all
	@BUILD=$(BUILD) KVER=$(KVER) tools/vmtest/vm.sh demo
	@r=$(BUILD)/vm/results; \
	if [ -e $$r/vm-error ] || [ -e $$r/setup-error ]; then cat $$r/*-error; exit 1; fi; \
	rc=$$(cat $$r/demo.rc 2>/dev/null || echo missing); \
	if [ "$$rc" != 0 ]; then echo "demo: failed (exit status $$rc)"; exit 1; fi; \
	echo "demo: finished"

# The benchmarks are not part of "all": only make bench builds them.
vm-bench: all
	$(MAKE) -C bench
	@BUILD=$(BUILD) KVER=$(KVER) tools/vmtest/vm.sh bench
	@r=$(BUILD)/vm/results; \
	if [ -e $$r/vm-error ] || [ -e $$r/setup-error ]; then cat $$r/*-error; exit 1; fi; \
	rc=$$(cat $$r/bench.rc 2>/dev/null || echo missing); \
	if [ "$$rc" != 0 ]; then echo "bench: failed (exit status $$rc)"; exit 1; fi; \
	echo "bench: finished (output in $$r/bench.out)"

# ---- install (Documentation/install.rst) ----
PREFIX ?= /usr/local
DESTDIR ?=
SPHINXBUILD ?= sphinx-build
INSTALL ?= install
INSTALL_MOD_DIR ?= updates
DOCS := README.md $(wildcard Documentation/*.rst)

man:
	@command -v $(SPHINXBUILD) >/dev/null || { echo "man: no $(SPHINXBUILD) (apt install python3-sphinx)"; exit 1; }
	$(SPHINXBUILD) -q -E -W -b man -d $(BUILD)/doctrees-man Documentation $(BUILD)/man

htmldocs:
	@command -v $(SPHINXBUILD) >/dev/null || { echo "htmldocs: no $(SPHINXBUILD) (apt install python3-sphinx)"; exit 1; }
	$(SPHINXBUILD) -q -E -W -b html -d $(BUILD)/doctrees-html Documentation $(BUILD)/html

install: agent man
	$(INSTALL) -D -m 0755 agent/pcopy $(DESTDIR)$(PREFIX)/sbin/pcopy
	$(INSTALL) -D -m 0755 agent/libexec/pcopy-exporter $(DESTDIR)$(PREFIX)/libexec/pcopy/pcopy-exporter
	$(INSTALL) -D -m 0755 agent/libexec/pcopy-plot $(DESTDIR)$(PREFIX)/libexec/pcopy/pcopy-plot
	$(INSTALL) -D -m 0644 $(BUILD)/man/pcopy.8 $(DESTDIR)$(PREFIX)/share/man/man8/pcopy.8
	$(INSTALL) -D -m 0644 $(BUILD)/man/pcopy.ko.4 $(DESTDIR)$(PREFIX)/share/man/man4/pcopy.ko.4
	$(INSTALL) -D -m 0644 agent/pcopy.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pcopy
	$(INSTALL) -D -m 0644 Documentation/netlink/specs/pcopy.yaml $(DESTDIR)$(PREFIX)/share/ynl/specs/pcopy.yaml
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/share/doc/pcopy
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(PREFIX)/share/doc/pcopy/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/pcopy \
		$(DESTDIR)$(PREFIX)/libexec/pcopy/pcopy-exporter \
		$(DESTDIR)$(PREFIX)/libexec/pcopy/pcopy-plot \
		$(DESTDIR)$(PREFIX)/share/man/man8/pcopy.8 \
		$(DESTDIR)$(PREFIX)/share/man/man4/pcopy.ko.4 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pcopy \
		$(DESTDIR)$(PREFIX)/share/ynl/specs/pcopy.yaml
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/pcopy
	rm -rf $(DESTDIR)$(PREFIX)/libexec/pcopy

# ---- DKMS: the module's sources in /usr/src/pcopy-VERSION ----
VERSION := $(shell sed -n 's/^\#define PCOPY_MODULE_VERSION "\(.*\)"/\1/p' kmod/internal.h)
DKMS_SRC ?= /usr/src/pcopy-$(VERSION)
DKMS_FILES := Kbuild kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) \
	$(wildcard kmod/*.h) uapi/pcopy.h

dkms-source:
	rm -rf $(DESTDIR)$(DKMS_SRC)
	for f in $(DKMS_FILES); do $(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DKMS_SRC)/$$f || exit 1; done
	sed 's/@VERSION@/$(VERSION)/' dkms.conf > $(DESTDIR)$(DKMS_SRC)/dkms.conf

# add, build and install for KVER; dkms-remove undoes all of it
dkms-install: dkms-source
	@command -v dkms >/dev/null || { echo "dkms-install: no dkms (apt install dkms)"; exit 1; }
	dkms status -m pcopy -v $(VERSION) | grep -q . || dkms add pcopy/$(VERSION)
	dkms build pcopy/$(VERSION) -k $(KVER)
	dkms install pcopy/$(VERSION) -k $(KVER)

dkms-remove:
	@command -v dkms >/dev/null || { echo "dkms-remove: no dkms (apt install dkms)"; exit 1; }
	if dkms status -m pcopy -v $(VERSION) | grep -q .; then dkms remove pcopy/$(VERSION) --all; fi
	rm -rf $(DKMS_SRC)

# Unsigned (Debian's headers carry no signing key; DKMS signs with the
# machine's MOK where Secure Boot wants it); depmod only for a real install.
modules_install: kmod
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) \
		CONFIG_MODULE_SIG_ALL= modules_install
	@if [ -z "$(INSTALL_MOD_PATH)" ]; then depmod -a $(KVER); \
	else echo "modules_install: INSTALL_MOD_PATH set, depmod left to the packager"; fi

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean || true
	$(MAKE) -C agent clean
	$(MAKE) -C selftests clean
	$(MAKE) -C bench clean
	@if [ -f tools/minivm/Makefile ]; then $(MAKE) -C tools/minivm clean; fi
	rm -rf $(BUILD)
