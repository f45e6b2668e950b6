# Makefile - ckpt2safetensors
#
#   make            build ./ckpt2safetensors (objects under build/)
#   make demo       build, then convert and list the bundled sample checkpoint
#   make test       build and run the test suite, then again under ASan+UBSan
#   make install    install the program and man page under PREFIX (/usr/local)
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

LIB_SRC  = src/error.c src/findings.c src/dtype.c src/ziplayout.c src/zipsrc.c src/pvm.c \
           src/policy.c src/tmap.c src/stw.c src/scan.c \
           src/outfile.c src/checkpoint.c src/convert.c src/crcpipe.c \
           src/dtconv.c src/verify.c src/stread.c src/sha256.c
TOOL_SRC = src/tool_main.c src/tool_opts.c src/tool_msgs.c src/tool_list.c src/tool_scan.c
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

$(B)/%.o: src/%.c | $(B)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B) $(B)/asan:
	mkdir -p $@

-include $(wildcard $(B)/*.d $(B)/asan/*.d)

# ---- tests -------------------------------------------------------------
# One Criterion binary with every suite; the CLI tests run ./ckpt2safetensors
# (or the sanitizer build of it, through C2S_BIN).

$(B)/tests: $(TEST_SRC) tests/pickle_builder.h $(B)/libc2s.a | $(B)
	$(CC) $(CFLAGS) -o $@ $(TEST_SRC) $(B)/libc2s.a $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

$(B)/asan/%.o: src/%.c | $(B)/asan
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

clean:
	rm -rf $(B) ckpt2safetensors
