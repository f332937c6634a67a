# mshare: top level.  See README.md.
#
#   make run      build everything, boot the VM, run the SGA demo (prod kernel)
#   make check    every test (host side and in the VM); last line "N passed, N failed"
#                 (debug kernel; then the core suite on the prod kernel)
#   make bench    page-table and timing benchmarks (prod kernel); QUICK=1, N=, S=
#   make bench-pgbench [QUICK=1]   PostgreSQL (pgbench) plainly and under mshare-run
#   make vm-run CMD='...' [FILES=dir] [KERNEL=prod]   run your own command
#   make soak DURATION=30m [SEED=S]   mshare_fuzz and mshare_stress for that long, gated
#
# Two kernel flavours from the same tree and patches (harness/kernel-build.sh):
#   debug  configs/*.config        -> build/bzImage       (make kernel)
#   prod   configs/prod/*.config   -> build/bzImage-prod  (make kernel-prod)
#
# Other targets: deps kernel kernel-prod tests initramfs clean distclean host-tests.

TOP    := $(CURDIR)
B      := $(TOP)/build
K      := $(B)/linux
P      := $(TOP)/harness/phase.sh
export BUILD := $(B)
# Userspace is built against the uapi headers either flavour installs.
HDR    := $(B)/hdr/include/linux/mshare.h

TEST_SRCS := $(sort $(wildcard tests/*.c))
TEST_SH   := $(sort $(wildcard tests/*.sh))
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS)) \
	     $(patsubst tests/%.sh,$(B)/tests/%,$(TEST_SH))
TEST_CFLAGS := -static -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-isystem $(K)/tools/testing/selftests -isystem $(B)/hdr/include \
	-I$(TOP)/tests -I$(TOP)/userspace/libmshare/include
TEST_LDLIBS = $(LIBMSHARE) -luring -lpthread
# 32-bit helpers that tests exec from /tests (gcc -m32, gcc-multilib): in
# build/tests, but not test programs, so not in LIST.
COMPAT_SRCS := $(sort $(wildcard tests/compat32/*.c))
COMPAT_BINS := $(patsubst tests/compat32/%.c,$(B)/tests/%,$(COMPAT_SRCS))
COMPAT_CFLAGS := -m32 -static -O2 -g -Wall -Wextra -Werror

# libmshare (userspace/libmshare/Makefile builds into O=): the static
# library is what the tests, the CLI and the samples link.
LIB_O     := $(B)/libmshare
LIBMSHARE := $(LIB_O)/libmshare.a
LIB_SRCS  := $(shell find userspace/libmshare -type f 2>/dev/null)
USER_CFLAGS := -isystem $(B)/hdr/include

# Dynamically linked programs that tests run under mshare-run (an
# LD_PRELOAD library cannot reach a static program): in build/tests, not
# in LIST.  run-vm.sh gives the guest their loader and libraries.
DYN_SRCS := $(sort $(wildcard tests/dyn/*.c))
DYN_BINS := $(patsubst tests/dyn/%.c,$(B)/tests/%,$(DYN_SRCS))
DYN_CFLAGS := -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -isystem $(B)/hdr/include \
	-I$(TOP)/tests -I$(TOP)/userspace/libmshare/include

# The kernel's own mm selftests (tools/testing/selftests/mm of the same
# source), the ones tests/mm-selftests/list names, static, in build/tests/mm
# with the list; tests/mm_selftests.sh runs them in the guest.
MM_LIST := tests/mm-selftests/list
MM_BINS := $(sort $(shell awk '!/^\#/ && $$1 != "SETUP" && NF { for (i = 3; i <= NF; i++) if ($$i ~ /^\.\//) { print substr($$i, 3); break } }' $(MM_LIST)))
MM_ST   := $(K)/tools/testing/selftests/mm

# Programs the guest has in PATH (/tests/bin): the CLI, mshare-run (with
# its preload library) and the samples.
CLI_SRCS := $(shell find userspace/mshare -type f 2>/dev/null)
RUN_O    := $(B)/mshare-run
RUN_SRCS := $(shell find userspace/mshare-run -type f 2>/dev/null)
SAMPLE_SRCS := $(sort $(wildcard samples/mshare/*.c))
SAMPLE_BINS := $(patsubst samples/mshare/%.c,$(B)/samples/%,$(SAMPLE_SRCS))
SAMPLE_CFLAGS := -static -O2 -g -Wall -Wextra -Werror -isystem $(B)/hdr/include \
	-I$(TOP)/userspace/libmshare/include -I$(TOP)/samples/mshare

.PHONY: all deps kernel kernel-tree kernel-prod kernel-tree-prod lib tests samples check run bench bench-pgbench vm-run soak trinity host-tests clean distclean

all: kernel tests

deps:
	@$(P) deps $(TOP)/harness/deps.sh

# kernel-tree and the kbuild run always: both are incremental themselves.
kernel-tree: deps
	@$(P) kernel-tree $(TOP)/harness/kernel-tree.sh

kernel: kernel-tree
	@$(P) kernel-build $(TOP)/harness/kernel-build.sh debug

kernel-tree-prod: deps
	@$(P) kernel-tree-prod $(TOP)/harness/kernel-tree.sh prod

kernel-prod: kernel-tree-prod
	@$(P) kernel-build-prod $(TOP)/harness/kernel-build.sh prod

$(HDR):
	@echo "no $(HDR): build a kernel first (make kernel or make kernel-prod)" >&2; exit 1

$(LIBMSHARE): $(LIB_SRCS) $(HDR)
	@$(MAKE) -s -C userspace/libmshare O=$(LIB_O) EXTRA_CFLAGS="$(USER_CFLAGS)"

$(B)/bin/mshare: $(CLI_SRCS) $(LIBMSHARE)
	@mkdir -p $(B)/bin
	@$(MAKE) -s -C userspace/mshare O=$(B)/bin LIBMSHARE=$(LIBMSHARE) \
		EXTRA_CFLAGS="$(USER_CFLAGS) -static"

# The launcher is static, like the CLI; libmshare-run.so is made with it.
$(RUN_O)/mshare-run: $(RUN_SRCS) $(CLI_SRCS) $(LIB_SRCS) $(LIBMSHARE)
	@mkdir -p $(RUN_O)
	@$(MAKE) -s -C userspace/mshare-run O=$(RUN_O) LIBMSHARE=$(LIBMSHARE) \
		EXTRA_CFLAGS="$(USER_CFLAGS)" STATIC=1

$(DYN_BINS): $(B)/tests/%: tests/dyn/%.c $(wildcard tests/*.h) $(LIBMSHARE) $(HDR)
	@mkdir -p $(B)/tests
	$(CC) $(DYN_CFLAGS) -o $@ $< $(LIBMSHARE)

$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(LIBMSHARE) $(HDR)
	@mkdir -p $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDLIBS)

$(COMPAT_BINS): $(B)/tests/%: tests/compat32/%.c
	@mkdir -p $(B)/tests
	$(CC) $(COMPAT_CFLAGS) -o $@ $<

$(B)/tests/%: tests/%.sh
	@mkdir -p $(B)/tests
	install -m 755 $< $@

$(B)/samples/%: samples/mshare/%.c $(wildcard samples/mshare/*.h) $(LIBMSHARE) $(HDR)
	@mkdir -p $(B)/samples
	$(CC) $(SAMPLE_CFLAGS) -o $@ $< $(LIBMSHARE) -luring -lpthread

$(B)/tests/mm/.built: $(MM_LIST) $(B)/bzImage
	@mkdir -p $(B)/tests/mm
	@$(MAKE) -s -C $(MM_ST) OUTPUT=$(B)/tests/mm KHDR_INCLUDES="-isystem $(B)/hdr/include" \
		EXTRA_CFLAGS=-static $(addprefix $(B)/tests/mm/,$(MM_BINS)) > $(B)/mm-selftests-build.log 2>&1 || \
		{ tail -n 40 $(B)/mm-selftests-build.log; exit 1; }
	@cp $(MM_LIST) $(B)/tests/mm/list
	@echo 1500 > $(B)/tests/mm_selftests.timeout
	@touch $@

lib: kernel
	@$(MAKE) -s $(LIBMSHARE)

tests: kernel
	@$(P) tests $(MAKE) -s test-bins

samples: kernel
	@$(MAKE) -s $(SAMPLE_BINS)

# Everything userspace the guest gets, in /tests (programs in LIST) and
# /tests/bin (the CLI and the samples, in PATH).
.PHONY: test-bins
test-bins: $(TEST_BINS) $(COMPAT_BINS) $(DYN_BINS) $(B)/bin/mshare $(RUN_O)/mshare-run $(SAMPLE_BINS) $(B)/tests/mm/.built
	@mkdir -p $(B)/tests/bin
	@cp $(B)/bin/mshare $(RUN_O)/mshare-run $(RUN_O)/libmshare-run.so $(SAMPLE_BINS) $(B)/tests/bin/
	@install -m 755 bench/bench-smoke.sh $(B)/tests/bin/bench-smoke
	@for t in $(notdir $(TEST_BINS)); do echo $$t; done > $(B)/tests/LIST

host-tests:
	@bash tests/host/test_tapcheck.sh

check: tests kernel-prod
	@$(TOP)/harness/check.sh

run: kernel-prod
	@$(MAKE) -s $(SAMPLE_BINS)
	@VM_KERNEL=prod $(TOP)/harness/demo.sh

# make bench [QUICK=1] [N="1 10 100"] [S="256M 1G"]: see harness/bench.sh.
bench: kernel-prod
	@$(MAKE) -s $(SAMPLE_BINS) $(B)/bin/mshare $(RUN_O)/mshare-run
	@QUICK="$(QUICK)" BENCH_N="$(N)" BENCH_S="$(S)" $(TOP)/harness/bench.sh

# One boot: mshare_fuzz (SEED, SEED+1, ... in chunks) and mshare_stress in
# turn for DURATION (30m, 2h, 900s), gated like make check.
DURATION ?= 30m
soak: tests
	@DURATION='$(DURATION)' SEED='$(SEED)' CHUNK='$(CHUNK)' FUZZ_ARGS='$(FUZZ_ARGS)' \
		$(TOP)/harness/soak.sh

# Debian's trinity over the mm syscalls inside an attachment (harness/trinity.sh)
TRINITY_SECONDS ?= 300
trinity: kernel
	@$(TOP)/harness/trinity.sh $(TRINITY_SECONDS) $(SEED)

vm-run: tests
	@test -n "$(CMD)" || { echo "usage: make vm-run CMD='command' [FILES=dir] [KERNEL=debug|prod]"; exit 2; }
	@printf '%s\n' 'cd /files 2>/dev/null || cd /tmp' '$(subst ','\'',$(CMD))' > $(B)/vm-run.job
	@$(TOP)/harness/run-vm.sh --name vm-run --kernel $(or $(KERNEL),debug) $(if $(FILES),--files $(FILES)) $(B)/vm-run.job

# PostgreSQL, unmodified, plainly and under mshare-run in one boot of the
# prod kernel; a table of both with ratios (build/pgbench.txt).  QUICK=1:
# small and short.  make bench runs it too (its pgbench group).
bench-pgbench: kernel-prod
	@$(MAKE) -s $(B)/bin/mshare $(RUN_O)/mshare-run
	@QUICK=$(QUICK) $(TOP)/bench/pgbench.sh

clean:
	rm -rf $(B)/tests $(B)/samples $(B)/initramfs $(B)/*.initramfs.gz $(B)/*.log
	-$(MAKE) -s -C $(K) clean 2>/dev/null
	-$(MAKE) -s -C $(B)/linux-prod clean 2>/dev/null

distclean:
	rm -rf $(B)
