# Makefile - ckpt2safetensors
#
#   make            build ./ckpt2safetensors (objects under build/)
#   make demo       build, then convert and list the bundled sample checkpoint
#   make test       build and run the test suite, then again under ASan+UBSan,
#                   then replay the fuzz corpora (make fuzz-replay)
#   make fuzz       run each libFuzzer harness for FUZZ_SECONDS (needs clang)
#   make valgrind   run the program on every fixture under valgrind
#   make install    install the program, man page and bash completion under PREFIX
#   make pvm-diff   compare the pickle VM with CPython on generated pickles
#   make clean
#
# Dependencies (Debian: libzip-dev libcjson-dev libcriterion-dev pkg-config):
# scripts/deps.sh installs them.

CC      ?= cc
PREFIX  ?= /usr/local
CSTD     = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
OPT     ?= -O2 -g
PKGS     = libzip libcjson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzip -lcjson -lz)
TEST_LIBS  := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread

LIB_DIRS = util zip pickle torch st engine
LIB_SRC  = $(foreach d,$(LIB_DIRS),$(sort $(wildcard src/$(d)/*.c)))
TOOL_SRC = $(sort $(wildcard src/tool/*.c))
TEST_SRC = $(wildcard tests/test_*.c)

# Objects of the normal build, and of the sanitizer build (build/asan/).
B        = build
LIB_OBJ  = $(LIB_SRC:src/%.c=$(B)/%.o)
TOOL_OBJ = $(TOOL_SRC:src/%.c=$(B)/%.o)
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: all demo test test-plain test-asan install clean deps

all: ckpt2safetensors

ckpt2safetensors: $(TOOL_OBJ) $(B)/libc2s.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/libc2s.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B) $(B)/asan:
	mkdir -p $@

-include $(wildcard $(B)/*/*.d $(B)/asan/*/*.d)

# ---- tests -------------------------------------------------------------
# One Criterion binary with every suite; the CLI tests run ./ckpt2safetensors
# (or the sanitizer build of it, through C2S_BIN).

$(B)/tests: $(TEST_SRC) tests/pickle_builder.h $(B)/libc2s.a | $(B)
	$(CC) $(CFLAGS) -o $@ $(TEST_SRC) $(B)/libc2s.a $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

$(B)/asan/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -MMD -MP -c -o $@ $<

$(B)/asan/ckpt2safetensors: $(TOOL_SRC:src/%.c=$(B)/asan/%.o) $(LIB_SRC:src/%.c=$(B)/asan/%.o)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/asan/tests: $(TEST_SRC) tests/pickle_builder.h $(LIB_SRC:src/%.c=$(B)/asan/%.o) | $(B)/asan
	$(CC) $(CFLAGS) $(SAN) -o $@ $(TEST_SRC) $(LIB_SRC:src/%.c=$(B)/asan/%.o) $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

test-plain: ckpt2safetensors $(B)/tests
	C2S_BIN=./ckpt2safetensors $(B)/tests

test-asan: $(B)/asan/ckpt2safetensors $(B)/asan/tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	C2S_BIN=$(B)/asan/ckpt2safetensors $(B)/asan/tests

test: test-plain test-asan

# ---- demo, install --------------------------------------------------------

demo: ckpt2safetensors
	./ckpt2safetensors --list fixtures/sample.ckpt
	./ckpt2safetensors -f -o $(B)/sample.safetensors fixtures/sample.ckpt
	@cmp -s $(B)/sample.safetensors fixtures/sample.expected.safetensors && \
	  echo "demo: $(B)/sample.safetensors is byte-identical to the expected file"

deps:
	sh scripts/deps.sh

install: ckpt2safetensors
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 ckpt2safetensors $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/ckpt2safetensors.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 644 completion/ckpt2safetensors.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ckpt2safetensors

clean:
	rm -rf $(B) ckpt2safetensors

# ---- the pickle VM against CPython ------------------------------------------
# `make pvm-diff` runs the same small pickles through CPython's C unpickler
# (python3) and the VM and fails on any the VM refuses or reads differently
# (tests/diff/pvm_diff.py explains).  Needs python3, so not part of `make test`.

.PHONY: pvm-diff

$(B)/pvm_repr: tests/diff/pvm_repr.c $(B)/libc2s.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libc2s.a $(LDFLAGS) $(LDLIBS)

pvm-diff: $(B)/pvm_repr
	python3 tests/diff/pvm_diff.py $(B)/pvm_repr 3000 1

# ---- fuzzing and valgrind --------------------------------------------------
# tests/fuzz/README.md explains.  One harness per entry point,
# tests/fuzz/fuzz_<name>.c, built twice from the library sources (LIB_SRC):
#   $(B)/asan/fuzz_<name>_replay  $(CC) + ASan/UBSan, main() from replay.c:
#                                 replays the corpus (part of `make test`)
#   $(B)/fuzz/fuzz_<name>         clang + libFuzzer + ASan/UBSan (`make fuzz`)
# `make fuzz` works on a copy of the corpus under $(B)/fuzz-out/<name>/ and
# keeps what it finds there; tests/fuzz/corpus/ is only written by hand.

FUZZ_NAMES      = pvm file scan
FUZZ_SECONDS   ?= 60
CLANG          ?= clang
FUZZ_CFLAGS     = $(CFLAGS)
FUZZ_SAN        = address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_DEPS       = tests/fuzz/fuzz.h $(wildcard include/*.h src/*/*.h)
# Extra corpus directories, read but never written: the fixtures.
FUZZ_EXTRA_pvm  =
FUZZ_EXTRA_file = fixtures/good fixtures/bad
FUZZ_EXTRA_scan = fixtures/good fixtures/bad fixtures/hostile
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
	$(CC) $(CFLAGS) $(SAN) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c \
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

.PHONY: bench
bench:
	bash bench/run.sh $(BENCH_SIZES)
