# Makefile - ckpt2safetensors
#
#   make            build ./ckpt2safetensors and the library, static and shared
#                   (build/libc2s.a, build/libc2s.so.VERSION; objects under build/)
#   make demo       build, then convert and list the bundled sample checkpoint
#   make test       build and run the test suites (the library's and the
#                   tool's, then both again under ASan+UBSan), replay the fuzz
#                   corpora (make fuzz-replay) and check make install (test-install)
#   make test-plain the test suites once, without sanitizers (the quick check)
#   make test-install  install into a temporary DESTDIR, build and run a program
#                   against the installed library (tests/install/run.sh)
#   make lib        only the library, static and shared
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (needs clang)
#   make valgrind   run the program on every fixture under valgrind
#   make install    install the program, man page, bash completion, the library
#                   (static and shared), include/c2s.h and c2s.pc under PREFIX
#   make uninstall  remove what make install put there
#   make pvm-diff   compare the pickle VM with CPython on generated pickles
#   make torch-diff compare our reading of hostile files with the real torch.load
#   make clean
#
# Dependencies (Debian: libzip-dev libcjson-dev libsnappy-dev libcriterion-dev pkg-config):
# scripts/deps.sh installs them.

CC      ?= cc
PREFIX  ?= /usr/local
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
OPT     ?= -O2 -g
# The library reads zip archives itself (zlib inflates); libzip only writes
# the archives of the tests (tests/zip_builder.h).
PKGS     = libcjson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcjson -lz)
TEST_LIBS  := $(shell pkg-config --libs criterion libzip 2>/dev/null || echo -lcriterion -lzip)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lsnappy -pthread
# Include paths: the library and the tests see its private headers under
# src/; the CLI (src/tool/) sees only the public include/c2s.h, so it can
# use nothing but the public API.
INC      = -Iinclude -Isrc
TOOL_INC = -Iinclude

LIB_DIRS = util zip pickle torch tf st reader engine
LIB_SRC  = $(foreach d,$(LIB_DIRS),$(sort $(wildcard src/$(d)/*.c)))
TOOL_SRC = $(sort $(wildcard src/tool/*.c))
TEST_SRC = $(wildcard tests/test_*.c)
TEST_HDR = $(wildcard tests/*.h)
# Unit tests of the tool's own logic (names, option parsing): their own
# binary, linked with the tool's objects but tool_main.o (no main()).
TOOL_TEST_SRC = $(wildcard tests/tool/test_*.c)

# Objects of the normal build, of the shared library (build/pic/, -fPIC)
# and of the sanitizer build (build/asan/).
B        = build
LIB_OBJ  = $(LIB_SRC:src/%.c=$(B)/%.o)
PIC_OBJ  = $(LIB_SRC:src/%.c=$(B)/pic/%.o)
TOOL_OBJ = $(TOOL_SRC:src/%.c=$(B)/%.o)
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The library's version is C2S_VERSION in include/c2s.h; the soname carries
# its first number (libc2s.so.0 while the API is 0.x).
VERSION   := $(shell sed -n 's/^.define C2S_VERSION "\(.*\)"$$/\1/p' include/c2s.h)
SOVERSION  = $(firstword $(subst ., ,$(VERSION)))
SONAME     = libc2s.so.$(SOVERSION)
SHLIB      = libc2s.so.$(VERSION)

.PHONY: check-structure test-example test-readme format check-format all lib demo test test-plain test-asan test-install install uninstall clean deps

all: ckpt2safetensors lib

lib: $(B)/libc2s.a $(B)/$(SHLIB)

ckpt2safetensors: $(TOOL_OBJ) $(B)/libc2s.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/libc2s.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# Only the c2s_* functions are exported (src/libc2s.map): the library's
# internal names (zipsrc_*, pvm_*, sha256_*, ...) cannot clash with a
# program's own.  -z defs: every symbol the library uses resolves at link
# time against the libraries it names.
$(B)/$(SHLIB): $(PIC_OBJ) src/libc2s.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libc2s.map \
	  -Wl,-z,defs -o $@ $(PIC_OBJ) $(LDFLAGS) $(LDLIBS)

$(B)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC) -MMD -MP -c -o $@ $<

# The CLI's objects (both builds): the public header only.
$(TOOL_OBJ) $(TOOL_SRC:src/%.c=$(B)/asan/%.o): INC = $(TOOL_INC)

$(B)/pic/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC) -fPIC -MMD -MP -c -o $@ $<

$(B) $(B)/asan:
	mkdir -p $@

-include $(wildcard $(B)/*/*.d $(B)/pic/*/*.d $(B)/asan/*/*.d)

# ---- tests -------------------------------------------------------------
# One Criterion binary with every suite; the CLI tests run ./ckpt2safetensors
# (or the sanitizer build of it, through C2S_BIN).

$(B)/tests: $(TEST_SRC) $(TEST_HDR) $(B)/libc2s.a | $(B)
	$(CC) $(CFLAGS) $(INC) -o $@ $(TEST_SRC) $(B)/libc2s.a $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

$(B)/tool-tests: $(TOOL_TEST_SRC) $(TEST_HDR) $(filter-out %/tool_main.o,$(TOOL_OBJ)) \
                 $(B)/libc2s.a | $(B)
	$(CC) $(CFLAGS) $(INC) -o $@ $(TOOL_TEST_SRC) $(filter-out %/tool_main.o,$(TOOL_OBJ)) \
	  $(B)/libc2s.a $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

$(B)/asan/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(INC) $(SAN) -MMD -MP -c -o $@ $<

$(B)/asan/ckpt2safetensors: $(TOOL_SRC:src/%.c=$(B)/asan/%.o) $(LIB_SRC:src/%.c=$(B)/asan/%.o)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/asan/tests: $(TEST_SRC) $(TEST_HDR) $(LIB_SRC:src/%.c=$(B)/asan/%.o) | $(B)/asan
	$(CC) $(CFLAGS) $(INC) $(SAN) -o $@ $(TEST_SRC) $(LIB_SRC:src/%.c=$(B)/asan/%.o) $(LDFLAGS) $(LDLIBS) \
	  $(TEST_LIBS)

ASAN_TOOL_OBJ = $(filter-out %/tool_main.o,$(TOOL_SRC:src/%.c=$(B)/asan/%.o))
$(B)/asan/tool-tests: $(TOOL_TEST_SRC) $(TEST_HDR) $(ASAN_TOOL_OBJ) \
                      $(LIB_SRC:src/%.c=$(B)/asan/%.o) | $(B)/asan
	$(CC) $(CFLAGS) $(INC) $(SAN) -o $@ $(TOOL_TEST_SRC) $(ASAN_TOOL_OBJ) \
	  $(LIB_SRC:src/%.c=$(B)/asan/%.o) $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

test-plain: ckpt2safetensors $(B)/tests $(B)/tool-tests
	C2S_BIN=./ckpt2safetensors $(B)/tests
	$(B)/tool-tests

test-asan: $(B)/asan/ckpt2safetensors $(B)/asan/tests $(B)/asan/tool-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 LSAN_OPTIONS=suppressions=tests/lsan.supp \
	C2S_BIN=$(B)/asan/ckpt2safetensors $(B)/asan/tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(B)/asan/tool-tests

# Install into a temporary DESTDIR, build a program against the installed
# header and c2s.pc (shared, static, and as C++), run it, uninstall.
test-install: all
	sh tests/install/run.sh '$(MAKE)' $(VERSION)

test: check-structure test-plain test-asan test-install test-example test-readme

# The README's example program, built against the library and run.
test-example: $(B)/libc2s.a
	sh tests/install/readme_example.sh $(B) "$(LDLIBS)"

# Every ckpt2safetensors example of the README, run in a sandbox of fixtures.
test-readme: ckpt2safetensors
	sh tests/readme/run_examples.sh ./ckpt2safetensors README.md $(B)/readme

# The sources as .clang-format (clang-format 14) lays them out: `make format`
# rewrites them, `make check-format` fails on any difference.
FORMAT_FILES = $(shell git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'tests/*.c' 'tests/*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# No include cycle, no option names in library messages, the CLI on c2s.h.
check-structure:
	sh scripts/check-structure.sh

# ---- demo, install --------------------------------------------------------

demo: ckpt2safetensors
	./ckpt2safetensors --list fixtures/sample.ckpt
	./ckpt2safetensors -f -o $(B)/sample.safetensors fixtures/sample.ckpt
	@cmp -s $(B)/sample.safetensors fixtures/sample.expected.safetensors && \
	  echo "demo: $(B)/sample.safetensors is byte-identical to the expected file"

deps:
	sh scripts/deps.sh

# Where make install puts things (each may be set on the command line).
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

# c2s.pc is made by install, straight into place, so that it names the
# PREFIX installed to (and `sudo make install` leaves no root-owned file
# under build/).
PC_SUBST = -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
           -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR) \
	  $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 ckpt2safetensors $(DESTDIR)$(BINDIR)/
	install -m 644 man/ckpt2safetensors.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 completion/ckpt2safetensors.bash $(DESTDIR)$(COMPLETIONDIR)/ckpt2safetensors
	install -m 644 $(B)/libc2s.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/$(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SHLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libc2s.so
	install -m 644 include/c2s.h $(DESTDIR)$(INCLUDEDIR)/
	sed $(PC_SUBST) src/c2s.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/c2s.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/c2s.pc

# Exactly what install put there; directories only when they are ours.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ckpt2safetensors $(DESTDIR)$(MANDIR)/man1/ckpt2safetensors.1 \
	  $(DESTDIR)$(COMPLETIONDIR)/ckpt2safetensors \
	  $(DESTDIR)$(LIBDIR)/libc2s.a $(DESTDIR)$(LIBDIR)/$(SHLIB) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libc2s.so \
	  $(DESTDIR)$(INCLUDEDIR)/c2s.h $(DESTDIR)$(PKGCONFIGDIR)/c2s.pc

clean:
	rm -rf $(B) ckpt2safetensors

# ---- the pickle VM against CPython ------------------------------------------
# `make pvm-diff` runs the same small pickles through CPython's C unpickler
# (python3) and the VM and fails on any the VM refuses or reads differently
# (tests/diff/pvm_diff.py explains).  Needs python3, so not part of `make test`.

.PHONY: pvm-diff

$(B)/pvm_repr: tests/diff/pvm_repr.c $(B)/libc2s.a
	$(CC) $(CFLAGS) $(INC) -o $@ $< $(B)/libc2s.a $(LDFLAGS) $(LDLIBS)

pvm-diff: $(B)/pvm_repr
	python3 tests/diff/pvm_diff.py $(B)/pvm_repr 3000 1

# `make torch-diff` builds files torch.load and we may read differently
# (tests/diff/torch_diff_cases.py), loads each with the real PyTorch 1.13
# (/usr/bin/python3, in a child process and a temporary directory; the
# payloads only touch a marker file there) and prints both readings; it
# fails on a payload torch runs where we said safe or converted, or on
# converted tensors that differ (tests/diff/torch_diff.py explains).

.PHONY: torch-diff

torch-diff: ckpt2safetensors
	/usr/bin/python3 tests/diff/torch_diff.py

# ---- fuzzing and valgrind --------------------------------------------------
# tests/fuzz/README.md explains.  One harness per entry point,
# tests/fuzz/fuzz_<name>.c, built twice from the library sources (LIB_SRC):
#   $(B)/asan/fuzz_<name>_replay  $(CC) + ASan/UBSan, main() from replay.c:
#                                 replays the corpus (part of `make test`)
#   $(B)/fuzz/fuzz_<name>         clang + libFuzzer + ASan/UBSan (`make fuzz`)
# `make fuzz` works on a copy of the corpus under $(B)/fuzz-out/<name>/ and
# keeps what it finds there; tests/fuzz/corpus/ is only written by hand.

FUZZ_NAMES      = pvm file scan tf tscode
FUZZ_SECONDS   ?= 60
CLANG          ?= clang
FUZZ_CFLAGS     = $(CFLAGS) $(INC)
FUZZ_SAN        = address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_DEPS       = tests/fuzz/fuzz.h $(wildcard include/*.h src/*/*.h)
# Extra corpus directories, read but never written: the fixtures.
FUZZ_EXTRA_pvm  =
FUZZ_EXTRA_file = fixtures/good fixtures/bad fixtures/legacy/good fixtures/legacy/bad \
                  fixtures/script/good fixtures/script/bad
FUZZ_EXTRA_scan = fixtures/good fixtures/bad fixtures/hostile fixtures/legacy/good fixtures/legacy/bad \
                  fixtures/script/good fixtures/script/bad
FUZZ_EXTRA_tf   = fixtures/tf/good fixtures/tf/hostile
FUZZ_EXTRA_tscode =
FUZZ_ENV        = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1

.PHONY: fuzz fuzz-replay valgrind
# Reached only through the pattern rules below: keep them (not intermediate).
.SECONDARY: $(FUZZ_NAMES:%=$(B)/asan/fuzz_%_replay) $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%) \
            $(LIB_SRC:src/%.c=$(B)/fuzz/%.o)

test: fuzz-replay

fuzz-replay: $(FUZZ_NAMES:%=fuzz-replay-%)

fuzz-replay-%: $(B)/asan/fuzz_%_replay
	$(FUZZ_ENV) $< tests/fuzz/corpus/$* $(FUZZ_EXTRA_$*)

$(B)/asan/fuzz_%_replay: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_DEPS) \
                         $(LIB_SRC:src/%.c=$(B)/asan/%.o) | $(B)/asan
	$(CC) $(CFLAGS) $(INC) $(SAN) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c \
	  $(LIB_SRC:src/%.c=$(B)/asan/%.o) $(LDFLAGS) $(LDLIBS)

fuzz: $(FUZZ_NAMES:%=fuzz-run-%)

fuzz-run-%: $(B)/fuzz/fuzz_% $(B)/asan/fuzz_%_replay
	sh tests/fuzz/run.sh $* $(FUZZ_SECONDS) $(B) tests/fuzz/corpus/$* $(FUZZ_EXTRA_$*)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) $(LIB_SRC:src/%.c=$(B)/fuzz/%.o) | $(B)/fuzz
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ tests/fuzz/fuzz_$*.c \
	  $(LIB_SRC:src/%.c=$(B)/fuzz/%.o) $(LDFLAGS) $(LDLIBS)

$(B)/fuzz/%.o: src/%.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP -c -o $@ $<

$(B)/fuzz:
	mkdir -p $@

-include $(wildcard $(B)/fuzz/*/*.d)

valgrind: ckpt2safetensors
	sh tests/fuzz/valgrind.sh ./ckpt2safetensors

# ---- benchmark ---------------------------------------------------------------
# bench/README.md explains.  Needs hyperfine and GNU time; disk: ~3.2x the size.
BENCH_SIZES ?= 1G 5G
BENCH_CASES ?= f16 bf16 verify transposed

.PHONY: bench bench-crc
bench:
	BENCH_CASES="$(BENCH_CASES)" bash bench/run.sh $(BENCH_SIZES)

# The CRC-32 paths this CPU has, in GB/s (bench/crc_speed.c).
bench-crc: $(B)/crc_speed
	$(B)/crc_speed

$(B)/crc_speed: bench/crc_speed.c $(B)/libc2s.a | $(B)
	$(CC) $(CFLAGS) $(INC) -o $@ bench/crc_speed.c $(B)/libc2s.a $(LDFLAGS) $(LDLIBS)
