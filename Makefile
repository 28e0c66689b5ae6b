# lhyve - bhyve for Linux.  See README.md.
#
#   make            build everything (installs missing Debian packages first)
#   make check      build, then run every test (also under ASan+UBSan)
#   make demo       build, then boot the demo guest on the console
#   make bench      build, then measure speed against QEMU TCG (docs/bench.md)
#   make bench-kvm  build, then lhyve/KVM against QEMU/KVM in a nested guest
#   make debian-image  debootstrap a Debian 12 system image (docs/debian.md)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
O	?= build
SAN	?=

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wformat=2 -Wvla \
	-g -D_GNU_SOURCE -Iinclude -Ivmm -Ivmm/backend/emu -Ilib/libvmmapi -Ibhyve -Ibhyveload -Itests/unit -Itests/lib
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_OPT := -O2
endif
CFLAGS	+= $(CFLAGS_BASE) $(CFLAGS_OPT)
# bhyveload decompresses Linux kernels with the libraries of each format;
# virtio-net's slirp backend is libslirp.
LDLIBS	:= -lpthread -lz -llzma -lzstd -llz4 -lbz2 -lslirp
LDFLAGS	+= $(LDFLAGS_SAN)

VMM_SRCS	:= $(wildcard vmm/*.c vmm/io/*.c vmm/backend/emu/*.c vmm/backend/kvm/*.c)
VMMAPI_SRCS	:= $(wildcard lib/libvmmapi/*.c)
BHYVE_SRCS	:= $(filter-out bhyve/bhyverun.c,$(wildcard bhyve/*.c))
LOAD_SRCS	:= $(filter-out bhyveload/bhyveload.c,$(wildcard bhyveload/*.c))
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)

VMM_OBJS	:= $(VMM_SRCS:%.c=$(O)/obj/%.o)
VMMAPI_OBJS	:= $(VMMAPI_SRCS:%.c=$(O)/obj/%.o)
BHYVE_OBJS	:= $(BHYVE_SRCS:%.c=$(O)/obj/%.o)
LOAD_OBJS	:= $(LOAD_SRCS:%.c=$(O)/obj/%.o)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
# tests/diff: the software CPU against the host CPU (test_*.c are binaries).
DIFF_MAINS	:= $(wildcard tests/diff/test_*.c)
DIFF_OBJS	:= $(patsubst %.c,$(O)/obj/%.o,$(filter-out $(DIFF_MAINS) tests/diff/coverage.c,$(wildcard tests/diff/*.c)))
DIFF_BINS	:= $(DIFF_MAINS:tests/diff/%.c=$(O)/tests/%)

PROGS	:= $(O)/bhyve $(O)/bhyveload $(O)/bhyvectl $(O)/simple-loader
LIBS	:= $(O)/libvmmapi.a $(O)/libvmm.a

.PHONY: all setup check demo install clean guests bench bench-kvm fuzz diff-long coverage \
	debian-image
# Keep objects make considers intermediate (test objects): no rebuilds, no noise.
.SECONDARY:
all: setup $(PROGS) $(UNIT_BINS) $(DIFF_BINS) guests

# Installs what the build and tests need, once, from Debian's registry.
setup:
	@scripts/setup.sh

$(O)/obj/%.o: %.c | setup
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/libvmm.a: $(VMM_OBJS)
	@rm -f $@; ar rcs $@ $^
$(O)/libvmmapi.a: $(VMMAPI_OBJS)
	@rm -f $@; ar rcs $@ $^
$(O)/libbhyve.a: $(BHYVE_OBJS)
	@rm -f $@; ar rcs $@ $^
$(O)/libload.a: $(LOAD_OBJS)
	@rm -f $@; ar rcs $@ $^

# Devices register themselves in a linker section: link every device object
# (a plain archive would drop the ones nothing references by name).
WHOLE_BHYVE = -Wl,--whole-archive $(O)/libbhyve.a -Wl,--no-whole-archive
$(O)/bhyve: $(O)/obj/bhyve/bhyverun.o $(O)/libbhyve.a $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $< $(WHOLE_BHYVE) $(LIBS) $(LDLIBS)
$(O)/bhyveload: $(O)/obj/bhyveload/bhyveload.o $(O)/libload.a $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/bhyvectl: $(O)/obj/bhyvectl/bhyvectl.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(O)/simple-loader: $(O)/obj/examples/loader/simple-loader.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	$(if $(SAN),,@ln -sf ../../$(O)/simple-loader examples/loader/simple-loader)

# The decoder test checks instruction lengths against Capstone.
$(O)/tests/test_decode: LDLIBS += -lcapstone
# The decoder oracle compares whole decodes with Zydis (docs/decoder-oracle.md).
$(O)/tests/test_decode_oracle: LDLIBS += -lZydis
# The x87 test's reference for the transcendentals is binary128 (libquadmath, GCC's).
$(O)/tests/test_x87: LDLIBS += -lquadmath
TESTLIB_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(wildcard tests/lib/*.c))
$(O)/tests/%: $(O)/obj/tests/unit/%.o $(TESTLIB_OBJS) $(O)/libbhyve.a $(O)/libload.a $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TESTLIB_OBJS) $(WHOLE_BHYVE) $(O)/libload.a $(LIBS) $(LDLIBS)

$(DIFF_BINS): $(O)/tests/%: $(O)/obj/tests/diff/%.o $(DIFF_OBJS) $(TESTLIB_OBJS) $(O)/libbhyve.a $(O)/libload.a $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(DIFF_OBJS) $(TESTLIB_OBJS) $(WHOLE_BHYVE) $(O)/libload.a $(LIBS) $(LDLIBS)

# The differential test at length: millions of cases (make check runs thousands).
diff-long: $(DIFF_BINS)
	@for t in $(DIFF_BINS); do DIFF_ITERS=$${DIFF_ITERS:-40000} $$t || exit 1; done

# docs/cpu-coverage.md: opcode forms decoded, implemented, diff-tested.
# -rdynamic: the report names handlers with dladdr().
$(O)/cpu-coverage: $(O)/obj/tests/diff/coverage.o $(DIFF_OBJS) $(LIBS)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $^ $(LDLIBS)
coverage: $(O)/cpu-coverage $(O)/tests/test_x87_diff $(O)/tests/test_sse_diff
	@scripts/cpu-coverage $(O)

# Tiny self-checking guests (tests/guest/*.S), assembled to flat binaries.
GUEST_SRCS := $(wildcard tests/guest/*.S)
GUEST_BINS := $(GUEST_SRCS:tests/guest/%.S=$(O)/guests/%.bin)
guests: $(GUEST_BINS)
$(O)/guests/%.bin: tests/guest/%.S tests/guest/guest.h tests/guest/guest.ld
	@mkdir -p $(dir $@)
	$(CC) -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-T,tests/guest/guest.ld \
		-Itests/guest -o $(O)/guests/$*.elf $<
	objcopy -O binary $(O)/guests/$*.elf $@

# libFuzzer targets for the parsers of guest and user data (clang only).
FUZZ_CC	?= clang
FUZZ_FLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Ivmm -Ivmm/backend/emu -Ilib/libvmmapi \
	-Ibhyveload -fsanitize=fuzzer,address,undefined
FUZZ_FLAGS_fuzz_config := -Ibhyve
FUZZ_FLAGS_fuzz_pio := -Ibhyve
FUZZ_FLAGS_fuzz_fwcfg := -Ibhyve
FUZZ_SRCS_fuzz_state := vmm/vmm_state.c vmm/vmm_store.c vmm/vmm_cpustate.c vmm/vmm_cpuid.c
FUZZ_SRCS_fuzz_elf := bhyveload/elf_load.c
FUZZ_SRCS_fuzz_boot32 := bhyveload/boot32_load.c bhyveload/elf_load.c
FUZZ_SRCS_fuzz_bzimage := bhyveload/linux_load.c bhyveload/decompress.c
FUZZ_LIBS_fuzz_bzimage := -llzma -lzstd -llz4 -lbz2
FUZZ_SRCS_fuzz_decode := $(wildcard vmm/backend/emu/*.c) vmm/vmm_cpustate.c vmm/vmm_cpuid.c
FUZZ_SRCS_fuzz_emu := $(FUZZ_SRCS_fuzz_decode)
FUZZ_SRCS_fuzz_apic := vmm/vmm_intr.c vmm/vmm_platform.c $(wildcard vmm/io/*.c)
FUZZ_SRCS_DEVICES := $(BHYVE_SRCS) $(VMMAPI_SRCS) $(VMM_SRCS)
FUZZ_SRCS_fuzz_config := $(FUZZ_SRCS_DEVICES)
FUZZ_SRCS_fuzz_pio := $(FUZZ_SRCS_DEVICES)
FUZZ_FLAGS_fuzz_virtio := -Ibhyve
FUZZ_SRCS_fuzz_virtio := $(FUZZ_SRCS_DEVICES)
FUZZ_SRCS_fuzz_platform := $(wildcard vmm/io/*.c)
$(O)/fuzz/fuzz_platform: $(wildcard vmm/io/*.[ch])
FUZZ_FLAGS_fuzz_virtio_net := -Ibhyve
FUZZ_SRCS_fuzz_virtio_net := $(FUZZ_SRCS_DEVICES)
FUZZ_FLAGS_fuzz_virtio_console := -Ibhyve
FUZZ_SRCS_fuzz_virtio_console := $(FUZZ_SRCS_DEVICES)
FUZZ_SRCS_fuzz_fwcfg := $(FUZZ_SRCS_DEVICES)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(O)/fuzz/%: tests/fuzz/%.c $(wildcard vmm/*.c vmm/io/*.c vmm/backend/emu/*.c bhyveload/*.c bhyve/*.c)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_FLAGS_$*) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*) -lz -lpthread -lslirp
fuzz: $(FUZZ_BINS)

check: all
	@$(MAKE) --no-print-directory O=$(O)/asan SAN=1 $(O)/asan/bhyve $(O)/asan/bhyveload \
		$(O)/asan/bhyvectl $(O)/asan/simple-loader \
		$(UNIT_SRCS:tests/unit/%.c=$(O)/asan/tests/%) \
		$(DIFF_MAINS:tests/diff/%.c=$(O)/asan/tests/%)
	@# A fuzz target that does not build is a failure; only a missing clang skips them.
	@if command -v $(FUZZ_CC) >/dev/null 2>&1; then $(MAKE) --no-print-directory fuzz; \
	else echo "fuzz targets not built ($(FUZZ_CC) missing): their tests are skipped"; fi
	@tests/run.sh $(O) $(O)/asan

demo: all
	@scripts/demo.sh $(O)

# A Debian 12 system with systemd on an ext4 image, cached under
# ~/.cache/lhyve/debian (docs/debian.md); prints the image's path.
debian-image: setup
	@scripts/build-debian-image.sh

bench: all
	@bench/exit-latency $(O)
	@bench/mips $(O)
	@bench/ipi $(O)

# lhyve/KVM against QEMU/KVM, inside a QEMU TCG guest with KVM (docs/bench.md).
bench-kvm: all
	@bench/kvm-nested $(O)

install: $(PROGS) $(LIBS)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(O)/bhyve $(O)/bhyveload $(O)/bhyvectl $(DESTDIR)$(PREFIX)/sbin/
	install -m 755 $(O)/simple-loader $(DESTDIR)$(PREFIX)/sbin/lhyve-simple-loader
	install -m 755 scripts/vmrun.sh $(DESTDIR)$(PREFIX)/sbin/vmrun.sh
	install -m 644 $(O)/libvmmapi.a $(O)/libvmm.a $(DESTDIR)$(PREFIX)/lib/
	install -m 644 lib/libvmmapi/vmmapi.h include/vmm.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 man/bhyve.8 man/bhyveload.8 man/bhyvectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf build examples/loader/simple-loader

-include $(shell find $(O) -name '*.d' 2>/dev/null)
