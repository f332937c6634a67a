# mshare: top level.  See README.md.
#
#   make run      build everything, boot the VM, run the SGA demo
#   make check    every test (host side and in the VM); last line "N passed, N failed"
#   make vm-run CMD='...' [FILES=dir]   run your own command on the mshare kernel
#
# Other targets: deps kernel tests initramfs clean distclean host-tests.

TOP    := $(CURDIR)
B      := $(TOP)/build
K      := $(B)/linux
P      := $(TOP)/harness/phase.sh
export BUILD := $(B)

TEST_SRCS := $(sort $(wildcard tests/*.c))
TEST_BINS := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRCS))
TEST_CFLAGS := -static -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-isystem $(K)/tools/testing/selftests -isystem $(B)/hdr/include \
	-I$(TOP)/tests -I$(TOP)/userspace/libmshare/include
TEST_LDLIBS := -lpthread

SAMPLE_SRCS := $(sort $(wildcard samples/mshare/*.c))
SAMPLE_BINS := $(patsubst samples/mshare/%.c,$(B)/samples/%,$(SAMPLE_SRCS))
SAMPLE_CFLAGS := -static -O2 -g -Wall -Wextra -Werror -isystem $(B)/hdr/include

.PHONY: all deps kernel kernel-tree tests samples check run vm-run host-tests clean distclean

all: kernel tests

deps:
	@$(P) deps $(TOP)/harness/deps.sh

# kernel-tree and the kbuild run always: both are incremental themselves.
kernel-tree: deps
	@$(P) kernel-tree $(TOP)/harness/kernel-tree.sh

kernel: kernel-tree
	@$(P) kernel-build $(TOP)/harness/kernel-build.sh

$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/bzImage
	@mkdir -p $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDLIBS)

$(B)/samples/%: samples/mshare/%.c $(B)/bzImage
	@mkdir -p $(B)/samples
	$(CC) $(SAMPLE_CFLAGS) -o $@ $<

tests: kernel
	@$(P) tests $(MAKE) -s test-bins

samples: kernel
	@$(MAKE) -s $(SAMPLE_BINS)

.PHONY: test-bins
test-bins: $(TEST_BINS)
	@for t in $(notdir $(TEST_BINS)); do echo $$t; done > $(B)/tests/LIST

host-tests:
	@bash tests/host/test_tapcheck.sh

check: tests
	@$(TOP)/harness/check.sh

run: tests samples
	@$(TOP)/harness/demo.sh

vm-run: tests
	@test -n "$(CMD)" || { echo "usage: make vm-run CMD='command' [FILES=dir]"; exit 2; }
	@printf '%s\n' 'cd /files 2>/dev/null || cd /tmp' '$(subst ','\'',$(CMD))' > $(B)/vm-run.job
	@$(TOP)/harness/run-vm.sh --name vm-run $(if $(FILES),--files $(FILES)) $(B)/vm-run.job

clean:
	rm -rf $(B)/tests $(B)/samples $(B)/initramfs $(B)/*.initramfs.gz $(B)/*.log
	-$(MAKE) -s -C $(K) clean 2>/dev/null

distclean:
	rm -rf $(B)
