/*
 * test_pvm.c - Criterion tests for the restricted pickle VM (src/pickle/pvm.c).
 *
 * Every pickle is a C literal.  Those longer than a few opcodes were made
 * with CPython 3.11's pickle module; the comment above each names the
 * expression.  Octal escapes are used so that a following digit or hex
 * letter can never extend an escape.  Failures assert the exact message.
 */
#include <criterion/criterion.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle/pvm.h"

static pvm *vm;
static c2s_error err;
static size_t end_offset;

static void teardown(void)
{
    pvm_free(vm);
    vm = NULL;
}

TestSuite(pvm, .fini = teardown);

/* 1 when v is a PVM_CALL whose callable is the global module.name. */
static int pvm_is_call_of(const pvm_value *v, const char *module, const char *name)
{
    return v != NULL && v->kind == PVM_CALL && pvm_is_global(v->u.call.callable, module, name);
}

/* Run data on a fresh machine (the previous one is freed). */
static c2s_status run(const void *data, size_t len, const pvm_limits *limits, pvm_value **out)
{
    pvm_free(vm);
    vm = pvm_new(limits);
    cr_assert_not_null(vm);
    c2s_error_clear(&err);
    *out = NULL;
    end_offset = 0;
    return pvm_run(vm, data, len, out, &end_offset, &err);
}

static pvm_value *load_ok(const void *data, size_t len)
{
    pvm_value *v;
    c2s_status st = run(data, len, NULL, &v);
    cr_assert_eq(st, C2S_OK, "unexpected failure: %s", err.msg);
    cr_assert_not_null(v);
    return v;
}

static void load_fails(const void *data, size_t len, const pvm_limits *limits, const char *msg)
{
    pvm_value *v;
    c2s_status st = run(data, len, limits, &v);
    cr_assert_eq(st, C2S_ERR_INPUT, "expected failure, got status %d", st);
    cr_assert_eq(err.status, C2S_ERR_INPUT);
    cr_assert_str_eq(err.msg, msg);
    /* a limit names its rule, so that the CLI can name its flag */
    if (strstr(msg, "limit exceeded") != NULL)
        cr_assert_neq(err.rule, C2S_RULE_NONE);
    else
        cr_assert_eq(err.rule, C2S_RULE_NONE);
}

#define LOAD(lit) load_ok(lit, sizeof(lit) - 1)
#define FAILS(lit, msg) load_fails(lit, sizeof(lit) - 1, NULL, msg)
#define FAILS_LIMITED(lit, limits, msg) load_fails(lit, sizeof(lit) - 1, limits, msg)

/* ---- value checks ---- */

static void expect_kind(const pvm_value *v, pvm_kind kind)
{
    cr_assert_not_null(v);
    cr_assert_eq(v->kind, kind, "kind is %s, expected %s", pvm_kind_name(v->kind),
                 pvm_kind_name(kind));
}

static void expect_int(const pvm_value *v, int64_t i)
{
    expect_kind(v, PVM_INT);
    cr_assert_eq(v->u.i, i, "int is %lld, expected %lld", (long long)v->u.i, (long long)i);
}

static void expect_bool(const pvm_value *v, int b)
{
    expect_kind(v, PVM_BOOL);
    cr_assert_eq(!!v->u.b, b);
}

static void expect_bytes_of(const pvm_value *v, pvm_kind kind, const char *s, size_t n)
{
    expect_kind(v, kind);
    cr_assert_eq(v->u.str.len, n, "length %zu, expected %zu", v->u.str.len, n);
    cr_assert_eq(memcmp(v->u.str.data, s, n), 0, "content differs");
    cr_assert_eq(v->u.str.data[n], '\0', "not NUL-terminated");
}

static void expect_str(const pvm_value *v, const char *s)
{
    expect_bytes_of(v, PVM_STR, s, strlen(s));
}

#define EXPECT_BYTES(v, lit) expect_bytes_of(v, PVM_BYTES, lit, sizeof(lit) - 1)

static pvm_value **expect_seq(const pvm_value *v, pvm_kind kind, size_t n)
{
    expect_kind(v, kind);
    cr_assert_eq(v->u.seq.len, n, "%zu items, expected %zu", v->u.seq.len, n);
    return v->u.seq.items;
}

static void expect_global(const pvm_value *v, const char *module, const char *name)
{
    expect_kind(v, PVM_GLOBAL);
    cr_assert_str_eq(v->u.global.module, module);
    cr_assert_str_eq(v->u.global.name, name);
}

static void expect_table_entry(size_t i, const char *module, const char *name, const char *raw,
                               unsigned uses, size_t offset)
{
    const pvm_global *g = pvm_global_at(vm, i);
    cr_assert_not_null(g);
    cr_assert_str_eq(g->module, module);
    cr_assert_str_eq(g->name, name);
    cr_assert_str_eq(g->raw_module, raw);
    cr_assert_eq(g->uses, uses, "uses 0x%x, expected 0x%x", g->uses, uses);
    cr_assert_eq(g->first_offset, offset);
}

/* ================================================================== */
/* Scalars                                                              */

Test(pvm, none_and_new_booleans)
{
    expect_kind(LOAD("\200\002N."), PVM_NONE);
    expect_bool(LOAD("\210."), 1);
    expect_bool(LOAD("\211."), 0);
}

Test(pvm, binint_family)
{
    expect_int(LOAD("J\377\377\377\377."), -1);
    expect_int(LOAD("J\000\000\000\200."), INT32_MIN);
    expect_int(LOAD("J\000\200\377\377."), -32768); /* pickle.dumps(-32768, 2) */
    expect_int(LOAD("K\377."), 255);
    expect_int(LOAD("M\000\200."), 32768); /* pickle.dumps(32768, 2) */
    expect_int(LOAD("M\377\377."), 65535);
}

Test(pvm, long1_and_long4)
{
    expect_int(LOAD("\212\000."), 0);
    expect_int(LOAD("\212\001\377."), -1);
    /* pickle.dumps(2**63 - 1, 2) and pickle.dumps(-2**63, 2) */
    expect_int(LOAD("\212\010\377\377\377\377\377\377\377\177."), INT64_MAX);
    expect_int(LOAD("\212\010\000\000\000\000\000\000\000\200."), INT64_MIN);
    /* nine bytes whose top byte only extends the sign still fit */
    expect_int(LOAD("\212\011\376\377\377\377\377\377\377\377\377."), -2);
    expect_int(LOAD("\213\001\000\000\000\005."), 5);
    expect_int(LOAD("\213\000\000\000\000."), 0);
}

Test(pvm, long1_outside_int64_is_bigint_bytes)
{
    /* pickle.dumps(2**63, 2) */
    pvm_value *v = LOAD("\212\011\000\000\000\000\000\000\000\200\000.");
    expect_bytes_of(v, PVM_BIGINT, "\000\000\000\000\000\000\000\200\000", 9);
    /* pickle.dumps(-2**63 - 1, 2) */
    v = LOAD("\212\011\377\377\377\377\377\377\377\177\377.");
    expect_bytes_of(v, PVM_BIGINT, "\377\377\377\377\377\377\377\177\377", 9);
}

Test(pvm, binfloat_is_big_endian)
{
    pvm_value *v = LOAD("G\077\370\000\000\000\000\000\000.");
    expect_kind(v, PVM_FLOAT);
    cr_assert_eq(v->u.f, 1.5);
    v = LOAD("G\300\011\041\373\124\104\055\030."); /* -math.pi */
    expect_kind(v, PVM_FLOAT);
    cr_assert_eq(v->u.f, -3.141592653589793);
}

Test(pvm, text_int)
{
    expect_int(LOAD("I42\012."), 42);
    expect_int(LOAD("I-7\012."), -7);
    expect_int(LOAD("I0\012."), 0);
    expect_int(LOAD("I 12 \012."), 12);
    expect_int(LOAD("I9223372036854775807\012."), INT64_MAX);
    expect_int(LOAD("I-9223372036854775808\012."), INT64_MIN);
    expect_bool(LOAD("I01\012."), 1);
    expect_bool(LOAD("I00\012."), 0);
    /* outside int64: the shortest two's complement, as LONG1 holds it */
    expect_bytes_of(LOAD("I99999999999999999999\012."), PVM_BIGINT,
                    "\377\377\017\143\055\136\307\153\005", 9);
    expect_bytes_of(LOAD("I-9223372036854775809\012."), PVM_BIGINT,
                    "\377\377\377\377\377\377\377\177\377", 9);
}

Test(pvm, text_int_rejects_what_cpython_rejects)
{
    /* CPython 3.11: ValueError: could not convert string to int */
    FAILS("I1x\012.", "pickle: bad INT argument at offset 0");
    FAILS("K\001I08\012.", "pickle: bad INT argument at offset 2");
    FAILS("I1__0\012.", "pickle: bad INT argument at offset 0");
    FAILS("I0x\012.", "pickle: bad INT argument at offset 0");
    FAILS("I1L\012.", "pickle: bad INT argument at offset 0");
    FAILS("I0777777777777777777777777\012.", "pickle: bad INT argument at offset 0");
    FAILS("I \000\012.", "pickle: bad INT argument at offset 0");
    /* UnpicklingError: pickle data was truncated */
    FAILS("I\012.", "pickle: bad INT argument at offset 0");
    FAILS("I12", "pickle: truncated: INT at offset 0 has no end of line");
}

/* load_int: strtol(s, &end, 0), then PyLong_FromString(s, NULL, 0) when
 * strtol stops early or overflows.  Each value is what CPython 3.11's
 * pickle.loads returns for the same bytes. */
Test(pvm, text_int_follows_strtol_then_pylong)
{
    expect_int(LOAD("I010\012."), 8);                   /* 8: C octal */
    expect_int(LOAD("I-010\012."), -8);                 /* -8 */
    expect_int(LOAD("I0x10\012."), 16);                 /* 16 */
    expect_int(LOAD("I0X1f\012."), 31);                 /* 31 */
    expect_int(LOAD("I0o17\012."), 15);                 /* 15 */
    expect_int(LOAD("I0b101\012."), 5);                 /* 5 */
    expect_int(LOAD("I1_000\012."), 1000);              /* 1000 */
    expect_int(LOAD("I0x_1f\012."), 31);                /* 31 */
    expect_int(LOAD("I0_0\012."), 0);                   /* 0 */
    expect_int(LOAD("I00000\012."), 0);                 /* 0 */
    expect_int(LOAD("I\013\0115\011\014\015\012."), 5); /* 5 */
    expect_int(LOAD("I12\000zz\012."), 12);             /* 12: the NUL ends it */
    expect_int(LOAD("I1_0\000zz\012."), 10);            /* 10 */
    expect_int(LOAD("I1 \012."), 1);                    /* 1, not True */
    expect_int(LOAD("I-0x8000000000000000\012."), INT64_MIN);
    /* 18446744073709551616 */
    expect_bytes_of(LOAD("I0x10000000000000000\012."), PVM_BIGINT,
                    "\000\000\000\000\000\000\000\000\001", 9);
    /* -18446744073709551616 */
    expect_bytes_of(LOAD("I-0b1"
                         "0000000000000000000000000000000000000000000000000000000000000000"
                         "\012."),
                    PVM_BIGINT, "\000\000\000\000\000\000\000\000\377", 9);
    /* a line of two bytes whose value is 0 or 1 is a bool:
     * I00 I 0 I-0 I0<NUL> I<NUL><NUL> -> False, I01 I 1 I+1 I1<NUL> -> True */
    expect_bool(LOAD("I 0\012."), 0);
    expect_bool(LOAD("I-0\012."), 0);
    expect_bool(LOAD("I0\000\012."), 0);
    expect_bool(LOAD("I\000\000\012."), 0);
    expect_bool(LOAD("I 1\012."), 1);
    expect_bool(LOAD("I+1\012."), 1);
    expect_bool(LOAD("I1\000\012."), 1);
    /* I<NUL> is 0 (strtol reads nothing and stops at the NUL), not a bool */
    expect_int(LOAD("I\000\012."), 0);
    expect_int(LOAD("I000\012."), 0); /* 0 */
}

Test(pvm, text_int_digit_limit)
{
    /* CPython: 4300 decimal digits read; 4301 is a ValueError */
    char text[4400];
    text[0] = 'L';
    memset(text + 1, '1', 4301);
    memcpy(text + 4302, "\012.", 2);
    load_fails(text, 4304, NULL,
               "pickle: LONG argument at offset 0 has more than 4300 digits "
               "(CPython's limit for int())");
    /* int('1' * 4300).bit_length() is 14282: 1786 bytes with the sign */
    text[4301] = '\012';
    text[4302] = '.';
    pvm_value *v = load_ok(text, 4303);
    expect_kind(v, PVM_BIGINT);
    cr_assert_eq(v->u.str.len, 1786);
    cr_assert_eq((unsigned char)v->u.str.data[0], 199);
}

Test(pvm, text_long)
{
    /* load_long: PyLong_FromString(s, NULL, 0) after cutting one 'L' */
    expect_int(LOAD("L12L\012."), 12);
    expect_int(LOAD("L-5\012."), -5);
    expect_int(LOAD("L0xffL\012."), 255); /* 255 */
    expect_int(LOAD("L00\012."), 0);      /* 0, not a bool */
    expect_int(LOAD("L 1_0 \012."), 10);  /* 10 */
    expect_bytes_of(LOAD("L1180591620717411303424L\012."), PVM_BIGINT,
                    "\000\000\000\000\000\000\000\000\100", 9);
    /* ValueError: invalid literal for int() with base 0 / 10 */
    FAILS("LL\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L010\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L01\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L1LL\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L_1\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L0_7\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L0b\012.", "pickle: bad LONG argument at offset 0");
    FAILS("L\034"
          "5\012.",
          "pickle: bad LONG argument at offset 0");
}

Test(pvm, text_float)
{
    pvm_value *v = LOAD("F1.5\012.");
    expect_kind(v, PVM_FLOAT);
    cr_assert_eq(v->u.f, 1.5);
    v = LOAD("F-2.5e-3\012.");
    cr_assert_eq(v->u.f, -2.5e-3);
    v = LOAD("F-inf\012.");
    cr_assert(isinf(v->u.f) && v->u.f < 0);
    v = LOAD("Fnan\012.");
    cr_assert(isnan(v->u.f));
    v = LOAD("F.5\012.");
    cr_assert_eq(v->u.f, 0.5);
    FAILS("F0x10\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F1.5.\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F\012.", "pickle: bad FLOAT argument at offset 0");
}

static uint64_t float_bits(const pvm_value *v)
{
    expect_kind(v, PVM_FLOAT);
    uint64_t bits;
    memcpy(&bits, &v->u.f, sizeof bits);
    return bits;
}

/* load_float: PyOS_string_to_double must read the whole text.  Bits are
 * those of CPython 3.11's pickle.loads on the same bytes. */
Test(pvm, text_float_is_cpythons)
{
    cr_assert_eq(float_bits(LOAD("F0.1\012.")), 0x3fb999999999999aULL);
    cr_assert_eq(float_bits(LOAD("F1e-999\012.")), 0); /* underflow: 0.0 */
    cr_assert_eq(float_bits(LOAD("F2.4703282292062328e-324\012.")), 1);
    cr_assert_eq(float_bits(LOAD("F1.7976931348623158e308\012.")), 0x7fefffffffffffffULL);
    cr_assert_eq(float_bits(LOAD("F123456789012345678901234567890e-10\012.")),
                 0x43e56a95319d63e1ULL);
    cr_assert_eq(float_bits(LOAD("F9007199254740993\012.")), 0x4340000000000000ULL);
    cr_assert_eq(float_bits(LOAD("Fnan\012.")), 0x7ff8000000000000ULL);
    cr_assert_eq(float_bits(LOAD("F-nan\012.")), 0xfff8000000000000ULL);
    cr_assert_eq(float_bits(LOAD("FiNfInItY\012.")), 0x7ff0000000000000ULL);
    cr_assert_eq(float_bits(LOAD("F1.\012.")), 0x3ff0000000000000ULL);
    cr_assert_eq(float_bits(LOAD("F1.5\000zz\012.")), 0x3ff8000000000000ULL);
    /* OverflowError: value too large to convert to float */
    FAILS("F1e999\012.", "pickle: FLOAT argument at offset 0 is too large for a float");
    FAILS("F-1.7976931348623159e308\012.",
          "pickle: FLOAT argument at offset 0 is too large for a float");
    /* ValueError: could not convert string to float (no spaces, no '_') */
    FAILS("F 1.5\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F1.5 \012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F1_0.5\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F1e\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F1e+\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("Finfinit\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("Fnan(1)\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F.\012.", "pickle: bad FLOAT argument at offset 0");
    FAILS("F\000\012.", "pickle: bad FLOAT argument at offset 0");
}

/* The parse never depends on the process locale (strtod would read "1,5"
 * in de_DE); the machine holds its own "C" locale object. */
Test(pvm, text_float_ignores_the_locale)
{
    const char *set = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (set == NULL)
        set = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    cr_assert_eq(float_bits(LOAD("F1.5\012.")), 0x3ff8000000000000ULL);
    FAILS("F1,5\012.", "pickle: bad FLOAT argument at offset 0");
    setlocale(LC_NUMERIC, "C");
}

/* ================================================================== */
/* Strings and bytes                                                    */

Test(pvm, string_protocol0_escapes)
{
    /* S'it\'s\n\x41\101\t\q' : C escapes, hex, octal, unknown kept */
    expect_str(LOAD("S'it\\'s\\n\\x41\\101\\t\\q'\012."), "it's\nAA\t\\q");
    expect_str(LOAD("S\"a'b\"\012."), "a'b");
    expect_str(LOAD("S''\012."), "");
    /* not UTF-8, so read as latin-1: \xe9 is U+00E9 */
    expect_str(LOAD("S'\\xe9'\012."), "\303\251");
    FAILS("Sabc\012.", "pickle: STRING argument at offset 0 is not quoted");
    FAILS("S'abc\"\012.", "pickle: STRING argument at offset 0 is not quoted");
    FAILS("S'\012.", "pickle: STRING argument at offset 0 is not quoted");
    FAILS("S'\\x4'\012.", "pickle: bad escape in STRING at offset 0");
    FAILS("S'ab\\'\012.", "pickle: bad escape in STRING at offset 0");
}

Test(pvm, binstring_and_short_binstring)
{
    expect_str(LOAD("T\003\000\000\000abc."), "abc");
    /* valid UTF-8 stays as it is; other bytes are latin-1 */
    expect_str(LOAD("U\002\303\251."), "\303\251");
    expect_str(LOAD("U\002\351\377."), "\303\251\303\277");
    FAILS("T\377\377\377\377.", "pickle: negative byte count in BINSTRING at offset 0");
}

Test(pvm, unicode_raw_unicode_escape)
{
    /* Vh\xe9\u20ac\U0001F600 */
    expect_str(LOAD("Vh\351\\u20ac\\U0001F600\012."), "h\303\251\342\202\254\360\237\230\200");
    /* an even run of backslashes is literal, an odd one escapes */
    expect_str(LOAD("V\\\\u0041 \\\\\\u0041 \\x\012."), "\\\\u0041 \\\\A \\x");
    FAILS("V\\u12\012.", "pickle: bad \\u escape in UNICODE at offset 0");
    FAILS("V\\U00110000\012.", "pickle: bad \\u escape in UNICODE at offset 0");
}

/* CPython decodes BINUNICODE with "surrogatepass" (load_counted_binunicode)
 * and UNICODE with raw-unicode-escape (load_unicode): lone surrogates are
 * str there, kept here in their 3-byte form.  Results from CPython 3.11:
 *   X ED A0 80           -> '\\ud800'
 *   X ED A0 BD ED B8 80  -> '\\ud83d\\ude00' (two code points, not U+1F600)
 *   V\\ud83d\\ude00      -> '\\ud83d\\ude00'
 *   c\\xed\\xa0\\x80 ...  -> UnicodeDecodeError (GLOBAL is strict UTF-8) */
Test(pvm, lone_surrogates_are_str)
{
    expect_str(LOAD("X\003\000\000\000\355\240\200."), "\355\240\200");
    expect_str(LOAD("\214\006\355\240\275\355\270\200."), "\355\240\275\355\270\200");
    expect_str(LOAD("\215\005\000\000\000\000\000\000\000a\355\260\200b."), "a\355\260\200b");
    expect_str(LOAD("V\\ud800\012."), "\355\240\200");
    expect_str(LOAD("V\\U0000dfff\012."), "\355\277\277");
    /* two escapes stay two code points */
    expect_str(LOAD("V\\ud83d\\ude00\012."), "\355\240\275\355\270\200");
    /* as a dict key, and as the name of a STACK_GLOBAL */
    pvm_value *d = LOAD("}\214\003\355\240\200K\001s.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(pvm_dict_get_str(d, "\355\240\200"), 1);
    expect_global(LOAD("\214\003mod\214\004x\355\240\200\223."), "mod", "x\355\240\200");
    FAILS("cmod\012x\355\240\200\012.", "pickle: invalid UTF-8 in name in GLOBAL at offset 0");
    /* latin-1 has no surrogates: UnicodeEncodeError in CPython */
    FAILS("c_codecs\012encode\012\214\003\355\240\200\214\006latin1\206R.",
          "pickle: _codecs.encode: U+D800 is not latin-1 (REDUCE at offset 30)");
}

Test(pvm, binunicode_family)
{
    expect_str(LOAD("X\003\000\000\000abc."), "abc");
    expect_str(LOAD("\214\002\303\251."), "\303\251");
    expect_str(LOAD("\215\001\000\000\000\000\000\000\000z."), "z");
    expect_str(LOAD("X\000\000\000\000."), "");
    /* NUL is a valid character and the length says where the str ends */
    expect_bytes_of(LOAD("\214\003a\000b."), PVM_STR, "a\000b", 3);
}

Test(pvm, invalid_utf8_is_rejected)
{
    FAILS("X\002\000\000\000a\377.",
          "pickle: invalid UTF-8 in BINUNICODE at offset 0 (byte 1 of the "
          "string)");
    /* overlong NUL */
    FAILS("\214\002\300\200.", "pickle: invalid UTF-8 in SHORT_BINUNICODE at offset 0 (byte 0 of "
                               "the string)");
    /* above U+10FFFF */
    FAILS("K\001\214\004\364\220\200\200.",
          "pickle: invalid UTF-8 in SHORT_BINUNICODE at offset 2 (byte 0 of "
          "the string)");
    /* half a surrogate */
    FAILS("X\002\000\000\000\355\240.",
          "pickle: invalid UTF-8 in BINUNICODE at offset 0 (byte 0 of the "
          "string)");
    /* cut short sequence */
    FAILS("\215\002\000\000\000\000\000\000\000a\342.",
          "pickle: invalid UTF-8 in BINUNICODE8 at offset 0 (byte 1 of the "
          "string)");
}

Test(pvm, bytes_family)
{
    EXPECT_BYTES(LOAD("C\003a\000b."), "a\000b");
    EXPECT_BYTES(LOAD("B\002\000\000\000hi."), "hi");
    EXPECT_BYTES(LOAD("\216\001\000\000\000\000\000\000\000\377."), "\377");
    EXPECT_BYTES(LOAD("\226\002\000\000\000\000\000\000\000xy."), "xy");
    EXPECT_BYTES(LOAD("C\000."), "");
}

/* ================================================================== */
/* Containers                                                           */

Test(pvm, tuples)
{
    expect_seq(LOAD(")."), PVM_TUPLE, 0);
    pvm_value **t = expect_seq(LOAD("K\001\205."), PVM_TUPLE, 1);
    expect_int(t[0], 1);
    t = expect_seq(LOAD("K\001K\002\206."), PVM_TUPLE, 2);
    expect_int(t[0], 1);
    expect_int(t[1], 2);
    t = expect_seq(LOAD("K\001K\002K\003\207."), PVM_TUPLE, 3);
    expect_int(t[2], 3);
    t = expect_seq(LOAD("(K\001K\002K\003K\004t."), PVM_TUPLE, 4);
    expect_int(t[0], 1);
    expect_int(t[3], 4);
    expect_seq(LOAD("(t."), PVM_TUPLE, 0);
    FAILS("K\001\206.", "pickle: stack underflow in TUPLE2 at offset 2");
    /* the mark hides what is below it */
    FAILS("K\001(K\002\206.", "pickle: stack underflow in TUPLE2 at offset 5");
}

Test(pvm, lists)
{
    pvm_value **l = expect_seq(LOAD("](K\001K\002e."), PVM_LIST, 2);
    expect_int(l[0], 1);
    expect_int(l[1], 2);
    l = expect_seq(LOAD("(K\001l."), PVM_LIST, 1);
    expect_int(l[0], 1);
    l = expect_seq(LOAD("]K\005a."), PVM_LIST, 1);
    expect_int(l[0], 5);
    expect_seq(LOAD("](e."), PVM_LIST, 0);
}

Test(pvm, dicts)
{
    pvm_value *d = LOAD("}(X\001\000\000\000aK\001X\001\000\000\000bK\002u.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.pairs[0].key, "a");
    expect_int(d->u.dict.pairs[0].val, 1);
    expect_str(d->u.dict.pairs[1].key, "b");
    expect_int(d->u.dict.pairs[1].val, 2);
    cr_assert_null(d->u.dict.state);
    expect_int(pvm_dict_get_str(d, "b"), 2);
    cr_assert_null(pvm_dict_get_str(d, "c"));

    d = LOAD("(K\001K\002d.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.pairs[0].key, 1);
    expect_int(d->u.dict.pairs[0].val, 2);

    d = LOAD("}K\007K\010s.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.pairs[0].val, 8);
    FAILS("(K\001d.", "pickle: odd number of items for DICT at offset 3");
}

Test(pvm, dict_equal_scalar_key_replaces_in_place)
{
    /* {'a': 1, 'b': 2} then d['a'] = 3: 'a' keeps its place */
    pvm_value *d = LOAD("}(X\001\000\000\000aK\001X\001\000\000\000bK\002u"
                        "X\001\000\000\000aK\003s.");
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.pairs[0].key, "a");
    expect_int(d->u.dict.pairs[0].val, 3);
    expect_int(d->u.dict.pairs[1].val, 2);

    /* True == 1 in Python; None, bytes and str keys match by value */
    d = LOAD("}(K\001K\012\210K\013NK\001NK\002C\001aK\003C\001aK\004"
             "\214\001aK\005u.");
    cr_assert_eq(d->u.dict.len, 4);
    expect_int(d->u.dict.pairs[0].key, 1);
    expect_int(d->u.dict.pairs[0].val, 11);
    expect_kind(d->u.dict.pairs[1].key, PVM_NONE);
    expect_int(d->u.dict.pairs[1].val, 2);
    EXPECT_BYTES(d->u.dict.pairs[2].key, "a");
    expect_int(d->u.dict.pairs[2].val, 4);
    expect_str(d->u.dict.pairs[3].key, "a");
    expect_int(d->u.dict.pairs[3].val, 5);

    /* tuple keys compare by value too: CPython gives {(): 2} */
    d = LOAD("}()K\001)K\002u.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.pairs[0].val, 2);
    /* a list in a tuple is unhashable (TypeError in CPython): kept apart */
    d = LOAD("}(]\205K\001]\205K\002u.");
    cr_assert_eq(d->u.dict.len, 2);
    /* so is a bytearray, which may still change */
    d = LOAD("}(\226\000\000\000\000\000\000\000\000K\001"
             "\226\000\000\000\000\000\000\000\000K\002u.");
    cr_assert_eq(d->u.dict.len, 2);
}

/* Keys Python finds equal share one entry, keeping the first key and the
 * last value.  CPython 3.11 loads this pickle as
 * {1: 12, (1, 2): 13, (1, True): 14, 1.5: 16}:
 *   1, True and 1.0 are one key; (1, 2) and (1, True) differ; 1.5 twice. */
Test(pvm, dict_keys_equal_as_in_python)
{
    pvm_value *d = LOAD(
        "}K\001K\012s\210K\013sG?\360\000\000\000\000\000\000K\014s"
        "K\001K\002\206K\015sK\001\210\206K\016s"
        "G?\370\000\000\000\000\000\000K\017sG?\370\000\000\000\000\000\000K\020s.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 4);
    expect_int(d->u.dict.pairs[0].key, 1);
    expect_int(d->u.dict.pairs[0].val, 12);
    expect_int(d->u.dict.pairs[1].val, 13);
    expect_int(d->u.dict.pairs[2].val, 14);
    expect_kind(d->u.dict.pairs[3].key, PVM_FLOAT);
    expect_int(d->u.dict.pairs[3].val, 16);
    /* the same global named twice is one key: {<class mod.B>: 2} */
    d = LOAD("}cmod\012B\012K\001scmod\012B\012K\002s.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.pairs[0].val, 2);
}

Test(pvm, sets_and_frozensets)
{
    pvm_value **s = expect_seq(LOAD("\217(K\001K\002K\001\220."), PVM_SET, 3);
    expect_int(s[0], 1);
    expect_int(s[2], 1); /* duplicates are kept */
    s = expect_seq(LOAD("(K\001\221."), PVM_FROZENSET, 1);
    expect_int(s[0], 1);
    expect_seq(LOAD("\217."), PVM_SET, 0);
    FAILS("](K\001\220.", "pickle: ADDITEMS on a list at offset 4");
}

Test(pvm, memo_holds_references)
{
    /* l = [d, d] where d is filled after it was memoized */
    pvm_value *l = LOAD("](}q\000h\000e"
                        "h\000X\001\000\000\000kK\001s0.");
    pvm_value **items = expect_seq(l, PVM_LIST, 2);
    cr_assert_eq(items[0], items[1]);
    expect_kind(items[0], PVM_DICT);
    cr_assert_eq(items[0]->u.dict.len, 1);
    expect_int(pvm_dict_get_str(items[0], "k"), 1);
}

Test(pvm, stack_opcodes)
{
    expect_int(LOAD("K\001(K\002K\0031."), 1); /* POP_MARK */
    expect_int(LOAD("K\001K\0020."), 1);       /* POP */
    expect_int(LOAD("K\001(0."), 1);           /* POP of an empty frame drops the mark */
    pvm_value **t = expect_seq(LOAD("K\0012\206."), PVM_TUPLE, 2); /* DUP */
    cr_assert_eq(t[0], t[1]);
    FAILS("0.", "pickle: stack underflow in POP at offset 0");
    FAILS("2.", "pickle: stack underflow in DUP at offset 0");
    FAILS("K\0011.", "pickle: no MARK for POP_MARK at offset 2");
    expect_int(LOAD("K\001\230."), 1); /* READONLY_BUFFER is a no-op */
    FAILS("\230.", "pickle: stack underflow in READONLY_BUFFER at offset 0");
}

/* As in CPython, None, True, False, the empty tuple and the ints -5..256 are
 * one object each; other ints, and non-empty tuples, are not. */
Test(pvm, singletons_are_shared)
{
    /* (1, 1, None, None, True, True, False, False, (), (), -5, -5, 256, 256) */
    pvm_value **t = expect_seq(LOAD("(K\001K\001NN\210\210\211\211))J\373\377\377\377"
                                    "J\373\377\377\377M\000\001M\000\001t."),
                               PVM_TUPLE, 14);
    for (size_t i = 0; i < 14; i += 2)
        cr_assert_eq(t[i], t[i + 1], "items %zu and %zu", i, i + 1);
    expect_int(t[0], 1);
    expect_kind(t[2], PVM_NONE);
    cr_assert_eq(t[4]->u.b, 1);
    cr_assert_eq(t[6]->u.b, 0);
    expect_seq(t[8], PVM_TUPLE, 0);
    expect_int(t[10], -5);
    expect_int(t[12], 256);
    cr_assert_eq(pvm_object_count(vm), 8); /* seven shared values and the tuple */
    cr_assert_eq(pvm_value_count(vm), 15);
    /* (257, 257, -6, -6, (None,), (None,)) */
    t = expect_seq(LOAD("(M\001\001M\001\001J\372\377\377\377J\372\377\377\377N\205N\205t."),
                   PVM_TUPLE, 6);
    for (size_t i = 0; i < 6; i += 2)
        cr_assert_neq(t[i], t[i + 1], "items %zu and %zu", i, i + 1);
    expect_int(t[0], 257);
    expect_int(t[2], -6);
}

/* Tuple item arrays come from an arena (util/arena.h): many small tuples
 * span several of its blocks, and a tuple bigger than a block gets its own. */
Test(pvm, many_tuples_and_a_big_one)
{
    enum { SMALL = 6000, BIG = 20000 };
    size_t cap = 2 + SMALL * 7 + 2 + BIG * 3 + 3, n = 0;
    unsigned char *p = malloc(cap);
    cr_assert_not_null(p);
    p[n++] = '(';
    for (size_t i = 0; i < SMALL; i++) { /* (i & 0xff, 257 + i % 1000) */
        p[n++] = 'K';
        p[n++] = (unsigned char)(i & 0xff);
        p[n++] = 'M';
        p[n++] = (unsigned char)((257 + i % 1000) & 0xff);
        p[n++] = (unsigned char)((257 + i % 1000) >> 8);
        p[n++] = 0x86; /* TUPLE2 */
    }
    p[n++] = '(';
    for (size_t i = 0; i < BIG; i++) {
        p[n++] = 'M';
        p[n++] = (unsigned char)(i & 0xff);
        p[n++] = (unsigned char)(i >> 8);
    }
    p[n++] = 't';
    p[n++] = 'l';
    p[n++] = '.';
    cr_assert_leq(n, cap);
    pvm_value *v;
    cr_assert_eq(run(p, n, NULL, &v), C2S_OK, "%s", err.msg);
    free(p);
    pvm_value **l = expect_seq(v, PVM_LIST, SMALL + 1);
    for (size_t i = 0; i < SMALL; i++) {
        pvm_value **t = expect_seq(l[i], PVM_TUPLE, 2);
        expect_int(t[0], (int64_t)(i & 0xff));
        expect_int(t[1], (int64_t)(257 + i % 1000));
    }
    pvm_value **big = expect_seq(l[SMALL], PVM_TUPLE, BIG);
    for (size_t i = 0; i < BIG; i++)
        expect_int(big[i], (int64_t)i);
}

Test(pvm, object_ids_are_creation_order)
{
    pvm_value **l = expect_seq(LOAD("](]]e."), PVM_LIST, 2);
    cr_assert_eq(pvm_object_count(vm), 3);
    cr_assert_eq(l[0]->id, 1);
    cr_assert_eq(l[1]->id, 2);
}

/* ================================================================== */
/* Globals                                                              */

Test(pvm, global_maps_python2_modules)
{
    pvm_value *g = LOAD("\200\002c__builtin__\012set\012.");
    expect_global(g, "builtins", "set");
    cr_assert_eq(g->u.global.index, 0);
    cr_assert_eq(pvm_global_count(vm), 1);
    expect_table_entry(0, "builtins", "set", "__builtin__", PVM_USE_REF, 2);
    cr_assert_null(pvm_global_at(vm, 1));
    cr_assert(pvm_is_global(g, "builtins", "set"));
    cr_assert(!pvm_is_global(g, "__builtin__", "set"));

    expect_global(LOAD("ccopy_reg\012_reconstructor\012."), "copyreg", "_reconstructor");
    expect_global(LOAD("cexceptions\012ValueError\012."), "builtins", "ValueError");
    expect_global(LOAD("cexceptions\012StandardError\012."), "builtins", "Exception");
    expect_global(LOAD("c__builtin__\012unicode\012."), "builtins", "str");
    expect_global(LOAD("cUserDict\012UserDict\012."), "collections", "UserDict");
    expect_global(LOAD("ccStringIO\012StringIO\012."), "io", "StringIO");
    expect_global(LOAD("curllib2\012urlopen\012."), "urllib.request", "urlopen");
    /* dotted names are recorded verbatim, never resolved */
    expect_global(LOAD("cfoo.bar\012Baz.qux\012."), "foo.bar", "Baz.qux");
    expect_table_entry(0, "foo.bar", "Baz.qux", "foo.bar", PVM_USE_REF, 0);
}

/* find_class maps Python 2 names only while the last PROTO is below 3
 * (fix_imports); PROTO may come anywhere.  CPython 3.11:
 *   \x80\x03 c__builtin__ set      -> ModuleNotFoundError: '__builtin__'
 *   c__builtin__ set \x80\x03      -> <class 'set'> (mapped at proto 0)
 *   \x80\x03\x80\x02 c__builtin__ set -> <class 'set'> */
Test(pvm, python2_names_map_below_protocol_3)
{
    expect_global(LOAD("\200\003c__builtin__\012set\012."), "__builtin__", "set");
    expect_global(LOAD("\200\004\214\013__builtin__\214\003set\223."), "__builtin__", "set");
    expect_global(LOAD("c__builtin__\012set\012\200\003."), "builtins", "set");
    expect_global(LOAD("\200\003\200\002c__builtin__\012set\012."), "builtins", "set");
}

/* GET / PUT read their index with int(s, 10): spaces, sign, underscores.
 * CPython 3.11 loads "Np1_0\n0g10\n." and "Np+1\n0g 1 \n." as None. */
Test(pvm, text_memo_index_is_a_python_int)
{
    expect_kind(LOAD("Np1_0\0120g10\012."), PVM_NONE);
    expect_kind(LOAD("Np+1\0120g 1 \012."), PVM_NONE);
    expect_kind(LOAD("Np-0\0120g0\012."), PVM_NONE);
    /* ValueError: invalid literal for int() with base 10 */
    FAILS("Np0x1\012.", "pickle: bad PUT argument at offset 1");
    FAILS("Np\012.", "pickle: bad PUT argument at offset 1");
    /* OverflowError: Python int too large to convert to C ssize_t */
    FAILS("Np9223372036854775808\012.", "pickle: bad PUT argument at offset 1");
}

Test(pvm, global_name_checks)
{
    FAILS("c\012set\012.", "pickle: empty module name in GLOBAL at offset 0");
    FAILS("cos\012\012.", "pickle: empty name in GLOBAL at offset 0");
    FAILS("cos\012sys\377\012.", "pickle: invalid UTF-8 in name in GLOBAL at offset 0");
    FAILS("cos\012sys", "pickle: truncated: GLOBAL at offset 0 has no end of "
                        "line");
    FAILS("\214\002o\000\214\001x\223.",
          "pickle: NUL byte in module name in STACK_GLOBAL at offset 7");
}

Test(pvm, stack_global)
{
    pvm_value *g = LOAD("\200\004\214\005torch\224\214\004Size\224\223.");
    expect_global(g, "torch", "Size");
    expect_table_entry(0, "torch", "Size", "torch", PVM_USE_REF, 17);
    /* mapping applies to STACK_GLOBAL too */
    expect_global(LOAD("\214\013__builtin__\214\003set\223."), "builtins", "set");
    FAILS("K\001\214\001a\223.", "pickle: STACK_GLOBAL needs two str, got int and str at offset 5");
    FAILS("\214\001a\223.", "pickle: stack underflow in STACK_GLOBAL at offset 3");
}

Test(pvm, globals_table_dedups_and_records_uses)
{
    /* (foo.Bar(), foo.Bar() with BUILD, foo.Baz via NEWOBJ,
     *  INST foo.Qux, OBJ foo.Quux, a plain reference to foo.Ref) */
    static const char pk[] = "(cfoo\012Bar\012)R"   /* 0: MARK, 1: GLOBAL, 10: ), 11: REDUCE */
                             "cfoo\012Bar\012)R}b"  /* 12: GLOBAL ... 24: BUILD */
                             "cfoo\012Baz\012)\201" /* 25: GLOBAL, 35: NEWOBJ */
                             "(ifoo\012Qux\012"     /* 36: MARK, 37: INST */
                             "(cfoo\012Quux\012o"   /* 46: MARK, 47: GLOBAL, 57: OBJ */
                             "cfoo\012Ref\012"      /* 58: GLOBAL */
                             "t.";
    pvm_value **t = expect_seq(load_ok(pk, sizeof pk - 1), PVM_TUPLE, 6);
    cr_assert_eq(pvm_global_count(vm), 5);
    expect_table_entry(0, "foo", "Bar", "foo", PVM_USE_REF | PVM_USE_REDUCE | PVM_USE_BUILD, 1);
    expect_table_entry(1, "foo", "Baz", "foo", PVM_USE_REF | PVM_USE_NEWOBJ, 25);
    expect_table_entry(2, "foo", "Qux", "foo", PVM_USE_REF | PVM_USE_INST, 37);
    expect_table_entry(3, "foo", "Quux", "foo", PVM_USE_REF | PVM_USE_OBJ, 47);
    expect_table_entry(4, "foo", "Ref", "foo", PVM_USE_REF, 58);

    cr_assert(pvm_is_call_of(t[0], "foo", "Bar"));
    cr_assert_eq(t[0]->how, PVM_USE_REDUCE);
    cr_assert_null(pvm_call_state(t[0]));
    cr_assert(pvm_is_call_of(t[1], "foo", "Bar"));
    expect_kind(pvm_call_state(t[1]), PVM_DICT);
    cr_assert_eq(t[2]->how, PVM_USE_NEWOBJ);
    cr_assert_eq(t[3]->how, PVM_USE_INST);
    cr_assert_eq(t[4]->how, PVM_USE_OBJ);
    cr_assert(!pvm_is_call_of(t[5], "foo", "Ref"));
    cr_assert(!pvm_is_call_of(t[0], "foo", "Baz"));
}

Test(pvm, many_distinct_globals_stay_fast)
{
    enum { N = 200000 };
    size_t cap = (size_t)N * 16 + 16, len = 0, last = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (int i = 0; i < N; i++) {
        last = len;
        len += (size_t)sprintf(buf + len, "cm\012f%d\0120", i);
    }
    len += (size_t)sprintf(buf + len, "cm\012f7\012.");
    pvm_value *v = load_ok(buf, len);
    free(buf);
    expect_global(v, "m", "f7");
    cr_assert_eq(v->u.global.index, 7);
    cr_assert_eq(pvm_global_count(vm), N);
    expect_table_entry(N - 1, "m", "f199999", "m", PVM_USE_REF, last);
}

/* ================================================================== */
/* Calls                                                                */

Test(pvm, reduce_makes_call_with_exact_args)
{
    pvm_value *c = LOAD("cmod\012fn\012(K\001X\001\000\000\000aNtR.");
    expect_kind(c, PVM_CALL);
    expect_global(c->u.call.callable, "mod", "fn");
    pvm_value **a = expect_seq(c->u.call.args, PVM_TUPLE, 3);
    expect_int(a[0], 1);
    expect_str(a[1], "a");
    expect_kind(a[2], PVM_NONE);
    cr_assert_null(pvm_call_kwargs(c));
    cr_assert_null(pvm_call_state(c));
    cr_assert_null(pvm_call_listitems(c));
    cr_assert_null(pvm_call_dictitems(c));
    cr_assert_eq(c->how, PVM_USE_REDUCE);
    expect_table_entry(0, "mod", "fn", "mod", PVM_USE_REF | PVM_USE_REDUCE, 0);

    FAILS("cmod\012fn\012R.", "pickle: stack underflow in REDUCE at offset 8");
    FAILS("cmod\012fn\012]R.", "pickle: REDUCE arguments are a list, not a tuple, at offset 9");
}

Test(pvm, call_of_a_non_global)
{
    /* getattr(x, 'y')() : the callable is itself a call */
    pvm_value *c = LOAD("cbuiltins\012getattr\012(K\001\214\001ytR)R.");
    expect_kind(c, PVM_CALL);
    cr_assert(pvm_is_call_of(c->u.call.callable, "builtins", "getattr"));
    cr_assert(!pvm_is_call_of(c, "builtins", "getattr"));
    expect_seq(c->u.call.args, PVM_TUPLE, 0);
}

Test(pvm, newobj_ex_and_inst_and_obj)
{
    pvm_value *c = LOAD("cmod\012C\012)}K\001K\002s\222.");
    expect_kind(c, PVM_CALL);
    cr_assert_eq(c->how, PVM_USE_NEWOBJ);
    expect_kind(pvm_call_kwargs(c), PVM_DICT);
    cr_assert_eq(pvm_call_kwargs(c)->u.dict.len, 1);
    FAILS("cmod\012C\012)]\222.", "pickle: NEWOBJ_EX keyword arguments are a list, not a dict, at "
                                  "offset 9");

    c = LOAD("(K\001imod\012Cls\012.");
    cr_assert(pvm_is_call_of(c, "mod", "Cls"));
    cr_assert_eq(c->how, PVM_USE_INST);
    expect_int(expect_seq(c->u.call.args, PVM_TUPLE, 1)[0], 1);
    expect_table_entry(0, "mod", "Cls", "mod", PVM_USE_REF | PVM_USE_INST, 3);
    FAILS("imod\012Cls\012.", "pickle: no MARK for INST at offset 0");

    c = LOAD("(cmod\012Cls\012K\001K\002o.");
    cr_assert(pvm_is_call_of(c, "mod", "Cls"));
    cr_assert_eq(c->how, PVM_USE_OBJ);
    expect_seq(c->u.call.args, PVM_TUPLE, 2);
    FAILS("(o.", "pickle: stack underflow in OBJ at offset 1");
}

Test(pvm, fill_opcodes_on_a_call_are_recorded)
{
    pvm_value *c = LOAD("cmod\012C\012)RK\001a(K\002K\003eK\004K\005s.");
    expect_kind(c, PVM_CALL);
    pvm_value **l = expect_seq(pvm_call_listitems(c), PVM_LIST, 3);
    expect_int(l[0], 1);
    expect_int(l[2], 3);
    expect_kind(pvm_call_dictitems(c), PVM_DICT);
    cr_assert_eq(pvm_call_dictitems(c)->u.dict.len, 1);
    expect_int(pvm_call_dictitems(c)->u.dict.pairs[0].key, 4);
    expect_int(pvm_call_dictitems(c)->u.dict.pairs[0].val, 5);
}

/* do_setitems calls __setitem__ on whatever is below: a list takes int
 * indices inside it, as CPython 3.11 shows:
 *   ]K1a K2a K0 K5 s          -> [5, 2]
 *   ]K1a K2a J-1 K5 s         -> [1, 5]
 *   ]K1a K2a NEWTRUE K5 s     -> [1, 5]       (True is index 1)
 *   ]K1a (K0 K5 K1 K6 u       -> [5, 6]... on a two-item list */
Test(pvm, setitem_on_a_list_assigns_by_index)
{
    pvm_value **l = expect_seq(LOAD("]K\001aK\002aK\000K\005s."), PVM_LIST, 2);
    expect_int(l[0], 5);
    expect_int(l[1], 2);
    l = expect_seq(LOAD("]K\001aK\002aJ\377\377\377\377K\005s."), PVM_LIST, 2);
    expect_int(l[1], 5);
    l = expect_seq(LOAD("]K\001aK\002a\210K\005s."), PVM_LIST, 2);
    expect_int(l[1], 5);
    l = expect_seq(LOAD("]K\001aK\002a(K\000K\005K\001K\006u."), PVM_LIST, 2);
    expect_int(l[0], 5);
    expect_int(l[1], 6);
    /* IndexError: list assignment index out of range */
    FAILS("]K\001aJ\376\377\377\377K\005s.",
          "pickle: SETITEM index out of range for a list of 1 items at offset 11");
    /* TypeError: list indices must be integers or slices, not str */
    FAILS("]K\001a\214\001aK\005s.", "pickle: SETITEM on a list with a str index at offset 9");
}

/* SETITEMS and DICT with more pairs than the VM hashes ahead (dict_set_pairs):
 * keys 0..6 again and again, then True, which is the key 1.  As CPython:
 *   d = {}; for i in range(20): d[i % 7] = i
 *   d[True] = 99  ->  {0: 14, 1: 99, 2: 16, 3: 17, 4: 18, 5: 19, 6: 13} */
Test(pvm, many_pairs_with_repeated_keys)
{
    for (int dict_op = 0; dict_op < 2; dict_op++) {
        unsigned char b[128];
        size_t n = 0;
        if (!dict_op)
            b[n++] = '}';
        b[n++] = '(';
        for (int i = 0; i < 20; i++) {
            b[n++] = 'K';
            b[n++] = (unsigned char)(i % 7);
            b[n++] = 'K';
            b[n++] = (unsigned char)i;
        }
        b[n++] = 0x88; /* NEWTRUE */
        b[n++] = 'K';
        b[n++] = 99;
        b[n++] = dict_op ? 'd' : 'u';
        b[n++] = '.';
        const pvm_value *d = load_ok(b, n);
        expect_kind(d, PVM_DICT);
        cr_assert_eq(d->u.dict.len, 7);
        const int64_t want[7] = {14, 99, 16, 17, 18, 19, 13};
        for (int k = 0; k < 7; k++) {
            expect_int(d->u.dict.pairs[k].key, k);
            expect_int(d->u.dict.pairs[k].val, want[k]);
        }
    }
}

/* Keys of every length from 0 to 20 (whole words of 8 bytes and tails of
 * each size), sharing their first bytes, each set twice: equal keys are
 * found again whatever their length, different ones are kept apart.
 *   d = {}; for r in range(2): for n in range(21): d["k" * n] = r * 100 + n */
Test(pvm, str_keys_of_every_length_set_twice)
{
    unsigned char b[2048];
    size_t n = 0;
    b[n++] = '}';
    b[n++] = '(';
    for (int round = 0; round < 2; round++)
        for (int len = 0; len <= 20; len++) {
            b[n++] = 0x8c; /* SHORT_BINUNICODE */
            b[n++] = (unsigned char)len;
            memset(b + n, 'k', (size_t)len);
            n += (size_t)len;
            b[n++] = 'K';
            b[n++] = (unsigned char)(round * 100 + len);
        }
    b[n++] = 'u';
    b[n++] = '.';
    const pvm_value *d = load_ok(b, n);
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 21);
    for (int len = 0; len <= 20; len++) {
        cr_assert_eq(d->u.dict.pairs[len].key->u.str.len, (size_t)len);
        expect_int(d->u.dict.pairs[len].val, 100 + len);
    }
}

/* An empty APPENDS / SETITEMS / ADDITEMS does nothing whatever the target
 * (do_append, do_setitems, load_additems: "nothing to do"); CPython 3.11
 * loads ")(e." as () and "K\x01(\x90." as 1. */
Test(pvm, empty_fill_is_a_no_op_on_anything)
{
    expect_seq(LOAD(")(e."), PVM_TUPLE, 0);
    expect_int(LOAD("K\001(u."), 1);
    expect_int(LOAD("K\001(\220."), 1);
    expect_kind(LOAD("N(e."), PVM_NONE);
    expect_seq(LOAD("](\220."), PVM_LIST, 0);
}

/* Opaque objects: Python calls their extend / append / add / __setitem__.
 * A call result records the items; a global or persistent id takes them
 * unrecorded. */
Test(pvm, fill_opaque_objects)
{
    pvm_value *c = LOAD("cmod\012C\012)R(K\001K\002\220K\003a.");
    pvm_value **l = expect_seq(pvm_call_listitems(c), PVM_LIST, 3);
    expect_int(l[0], 1);
    expect_int(l[2], 3);
    expect_global(LOAD("cmod\012C\012K\001a(K\002K\003uK\004K\005s(K\006\220."), "mod", "C");
    expect_kind(LOAD("N\214\001x\206Q(K\001eK\001K\002s."), PVM_PERSID);
}

/* bytearray (BYTEARRAY8) has extend and __setitem__ taking bytes:
 *   bytearray(b'a') (K5 K6 e    -> bytearray(b'a\x05\x06')
 *   bytearray(b'a') J-1 K7 s     -> bytearray(b'\x07')
 *   bytearray(b'a') (K1 M256 e   -> ValueError: byte must be in range(0, 256)
 *   bytearray(b'a') K1 K5 s      -> IndexError: bytearray index out of range
 * while bytes (SHORT_BINBYTES) has neither. */
Test(pvm, fill_a_bytearray)
{
#define BA "\226\001\000\000\000\000\000\000\000a"
    EXPECT_BYTES(LOAD(BA "(K\005K\006e."), "a\005\006");
    EXPECT_BYTES(LOAD(BA "\210a."), "a\001");
    EXPECT_BYTES(LOAD(BA "J\377\377\377\377K\007s."), "\007");
    FAILS(BA "(K\001M\000\001e.",
          "pickle: APPENDS on a bytearray with a int that is not a byte at offset 16");
    FAILS(BA "K\001K\005s.",
          "pickle: SETITEM index out of range for a bytearray of 1 bytes at offset 14");
    FAILS("C\001aK\005a.", "pickle: APPEND on a bytes at offset 5");
#undef BA
}

/* ADDITEMS adds to a set, including one made by set.__new__ (NEWOBJ),
 * which ignores its arguments: CPython 3.11 loads
 * "cbuiltins\nset\n(K\x01K\x02t\x81(K\x03\x90." as {3}. */
Test(pvm, additems_on_sets)
{
    expect_seq(LOAD("\217(K\001K\002\220."), PVM_SET, 2);
    pvm_value **items = expect_seq(LOAD("cbuiltins\012set\012(K\001K\002t\201(K\003\220."), PVM_SET,
                                   1);
    expect_int(items[0], 3);
    /* AttributeError: 'frozenset' / 'tuple' object has no attribute 'add' */
    FAILS("(\221(K\001\220.", "pickle: ADDITEMS on a frozenset at offset 5");
    FAILS(")(K\001\220.", "pickle: ADDITEMS on a tuple at offset 4");
}

Test(pvm, fill_opcode_errors)
{
    FAILS("]K\001K\002s.", "pickle: SETITEM index out of range for a list of 0 items at offset 5");
    FAILS(")K\001a.", "pickle: APPEND on a tuple at offset 3");
    FAILS("}(K\001u.", "pickle: odd number of items for SETITEMS at offset 4");
    FAILS("]K\001e.", "pickle: no MARK for APPENDS at offset 3");
    FAILS("](K\001a.", "pickle: stack underflow in APPEND at offset 4");
    FAILS("(K\001e.", "pickle: stack underflow in APPENDS at offset 3");
}

Test(pvm, build_targets)
{
    pvm_value *d = LOAD("}K\001K\002s}X\001\000\000\000xK\011sb.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(pvm_dict_get_str(d->u.dict.state, "x"), 9);
    cr_assert_null(pvm_dict_get_str(d, "x"));

    /* a second BUILD replaces the state */
    pvm_value *c = LOAD("cmod\012C\012)RK\001bK\002b.");
    expect_int(pvm_call_state(c), 2);

    FAILS("Nb.", "pickle: stack underflow in BUILD at offset 1");
}

/* load_build with no __setstate__: state None, or (None, {}), changes
 * nothing, so any object takes it; a state to store needs a __dict__ or
 * settable attributes, which plain values lack.  CPython 3.11:
 *   ]Nb  )N}tb  K1Nb  NNb             -> [], (), 1, None
 *   ]}b                                -> AttributeError: no '__dict__'
 *   K1 (None, {'a': 1}) b              -> AttributeError: no attribute 'a'
 *   K1 (None, None) b                  -> slot state is not a dictionary */
Test(pvm, build_with_an_empty_state)
{
    expect_seq(LOAD("]Nb."), PVM_LIST, 0);
    expect_seq(LOAD(")N}\206b."), PVM_TUPLE, 0);
    expect_int(LOAD("K\001Nb."), 1);
    expect_kind(LOAD("NNb."), PVM_NONE);
    expect_str(LOAD("\214\001xN}\206b."), "x");
    FAILS("]}b.", "pickle: BUILD on a list at offset 2");
    FAILS("K\001N}\214\001aK\001s\206b.", "pickle: BUILD on a int at offset 11");
    FAILS("K\001NN\206b.", "pickle: BUILD on a int at offset 5");
}

/* BUILD on a global sets attributes of a class, function or module (slot
 * state is setattr): recorded as a use of the global. */
Test(pvm, build_on_a_global_is_recorded)
{
    expect_global(LOAD("cmod\012C\012N}\214\001aK\001s\206b."), "mod", "C");
    expect_table_entry(0, "mod", "C", "mod", PVM_USE_REF | PVM_USE_BUILD, 0);
    expect_kind(LOAD("N\214\001x\206Q}b."), PVM_PERSID);
}

/* ================================================================== */
/* Interpreted container builders                                       */

Test(pvm, ordered_dict_then_build_state_is_not_items)
{
    /* od = OrderedDict(a=1); pickle.dumps(od, 2) followed by a BUILD of
     * {'_metadata': {}} as torch.save leaves it */
    pvm_value *d = LOAD("\200\002ccollections\012OrderedDict\012q\000)Rq\001"
                        "(X\001\000\000\000aq\002K\001u"
                        "}X\011\000\000\000_metadata}sb.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(pvm_dict_get_str(d, "a"), 1);
    cr_assert_null(pvm_dict_get_str(d, "_metadata"));
    expect_kind(pvm_dict_get_str(d->u.dict.state, "_metadata"), PVM_DICT);
    expect_table_entry(0, "collections", "OrderedDict", "collections", PVM_USE_REF | PVM_USE_REDUCE,
                       2);
}

Test(pvm, ordered_dict_from_pairs)
{
    pvm_value *d = LOAD("ccollections\012OrderedDict\012"
                        "](X\001\000\000\000aK\001\206X\001\000\000\000bK\002"
                        "\206X\001\000\000\000aK\003\206e\205R.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.pairs[0].key, "a");
    expect_int(d->u.dict.pairs[0].val, 3);
    expect_int(pvm_dict_get_str(d, "b"), 2);

    /* shapes that are not interpreted stay calls */
    cr_assert(pvm_is_call_of(LOAD("ccollections\012OrderedDict\012K\001\205R."), "collections",
                             "OrderedDict"));
    cr_assert(pvm_is_call_of(LOAD("ccollections\012OrderedDict\012(K\001\205tR."), "collections",
                             "OrderedDict"));
    /* __new__ alone (dict_new) leaves it empty whatever the args */
    expect_kind(LOAD("ccollections\012OrderedDict\012)\205\201."), PVM_DICT);
    expect_kind(LOAD("ccollections\012OrderedDict\012)\201."), PVM_DICT);
}

Test(pvm, codecs_encode_makes_bytes)
{
    /* pickle.dumps(b'\x00\xffab', 2) */
    pvm_value *b = LOAD("\200\002c_codecs\012encode\012q\000X\005\000\000\000"
                        "\000\303\277abq\001X\006\000\000\000latin1q\002\206q"
                        "\003Rq\004.");
    EXPECT_BYTES(b, "\000\377ab");
    expect_table_entry(0, "_codecs", "encode", "_codecs", PVM_USE_REF | PVM_USE_REDUCE, 2);
    EXPECT_BYTES(LOAD("c_codecs\012encode\012\214\001z\214\007latin-1\206R."), "z");
    /* other encodings stay calls */
    cr_assert(pvm_is_call_of(LOAD("c_codecs\012encode\012\214\001z\214\005utf-8\206R."), "_codecs",
                             "encode"));
    FAILS("c_codecs\012encode\012X\002\000\000\000\304\200"
          "X\006\000\000\000latin1\206R.",
          "pickle: _codecs.encode: U+0100 is not latin-1 (REDUCE at offset "
          "35)");
}

Test(pvm, empty_bytes_call_protocol2)
{
    /* pickle.dumps(b'', 2) */
    EXPECT_BYTES(LOAD("\200\002c__builtin__\012bytes\012q\000)Rq\001."), "");
    expect_table_entry(0, "builtins", "bytes", "__builtin__", PVM_USE_REF | PVM_USE_REDUCE, 2);
    cr_assert(pvm_is_call_of(LOAD("cbuiltins\012bytes\012K\001\205R."), "builtins", "bytes"));
}

Test(pvm, set_and_frozenset_calls)
{
    /* pickle.dumps({1}, 2) */
    pvm_value **s = expect_seq(LOAD("\200\002c__builtin__\012set\012q\000]q"
                                    "\001K\001a\205q\002Rq\003."),
                               PVM_SET, 1);
    expect_int(s[0], 1);
    expect_table_entry(0, "builtins", "set", "__builtin__", PVM_USE_REF | PVM_USE_REDUCE, 2);
    /* pickle.dumps(frozenset([7]), 2) */
    s = expect_seq(LOAD("\200\002c__builtin__\012frozenset\012q\000]q\001K"
                        "\007a\205q\002Rq\003."),
                   PVM_FROZENSET, 1);
    expect_int(s[0], 7);
    expect_seq(LOAD("cbuiltins\012set\012)R."), PVM_SET, 0);
    expect_seq(LOAD("cbuiltins\012frozenset\012(K\001K\002t\205R."), PVM_FROZENSET, 2);
    /* set(5) is not a container build */
    cr_assert(pvm_is_call_of(LOAD("cbuiltins\012set\012K\005\205R."), "builtins", "set"));
}

/* Only the standard library's container builds are interpreted: a call that
 * builds a tuple subclass in Python (torch.Size((2, 3))) stays a call, with
 * its argument tuple intact; the tensor map reads it (test_tmap.c). */
Test(pvm, tuple_subclass_call_stays_a_call)
{
    pvm_value *v = LOAD("ctorch\012Size\012K\002K\003\206\205R.");
    cr_assert(pvm_is_call_of(v, "torch", "Size"));
    cr_assert_eq(v->how, PVM_USE_REDUCE);
    cr_assert_null(pvm_call_kwargs(v));
    cr_assert_null(pvm_call_state(v));
    pvm_value **a = expect_seq(v->u.call.args, PVM_TUPLE, 1);
    pvm_value **t = expect_seq(a[0], PVM_TUPLE, 2);
    expect_int(t[0], 2);
    expect_int(t[1], 3);
    expect_table_entry(0, "torch", "Size", "torch", PVM_USE_REF | PVM_USE_REDUCE, 0);
    /* Size, 2, 3, (2, 3), ((2, 3),) and the call: nothing copied */
    cr_assert_eq(pvm_object_count(vm), 6);
}

/* ================================================================== */
/* Whole pickles                                                        */

/*
 * A torch.save-style state dict, protocol 2, made with stand-ins for torch:
 *   sd = OrderedDict(w=<tensor>); sd._metadata = OrderedDict({'': {'version': 1}})
 * where the tensor reduces to
 *   torch._utils._rebuild_tensor_v2(storage, 0, (2, 3), (3, 1), False, OrderedDict())
 * and persistent_id(storage) = ('storage', torch.FloatStorage, '0', 'cpu', 6).
 */
static const char TORCH_P2[] =
    "\200\002ccollections\012OrderedDict\012q\000)Rq\001X\001\000\000\000wq"
    "\002ctorch._utils\012_rebuild_tensor_v2\012q\003((X\007\000\000\000stor"
    "ageq\004ctorch\012FloatStorage\012q\005X\001\000\000\0000q\006X\003\000"
    "\000\000cpuq\007K\006tq\010QK\000K\002K\003\206q\011K\003K\001\206q\012"
    "\211h\000)Rq\013tq\014Rq\015s}q\016X\011\000\000\000_metadataq\017h\000)"
    "Rq\020X\000\000\000\000q\021}q\022X\007\000\000\000versionq\023K\001sssb.";

Test(pvm, torch_tensor_protocol2)
{
    pvm_value *sd = load_ok(TORCH_P2, sizeof TORCH_P2 - 1);
    cr_assert_eq(end_offset, sizeof TORCH_P2 - 1);
    expect_kind(sd, PVM_DICT);
    cr_assert_eq(sd->u.dict.len, 1);

    pvm_value *t = pvm_dict_get_str(sd, "w");
    cr_assert(pvm_is_call_of(t, "torch._utils", "_rebuild_tensor_v2"));
    cr_assert_eq(t->how, PVM_USE_REDUCE);
    pvm_value **a = expect_seq(t->u.call.args, PVM_TUPLE, 6);

    expect_kind(a[0], PVM_PERSID);
    pvm_value **pid = expect_seq(a[0]->u.persid.pid, PVM_TUPLE, 5);
    expect_str(pid[0], "storage");
    expect_global(pid[1], "torch", "FloatStorage");
    expect_str(pid[2], "0");
    expect_str(pid[3], "cpu");
    expect_int(pid[4], 6);

    expect_int(a[1], 0);
    pvm_value **size = expect_seq(a[2], PVM_TUPLE, 2);
    expect_int(size[0], 2);
    expect_int(size[1], 3);
    pvm_value **stride = expect_seq(a[3], PVM_TUPLE, 2);
    expect_int(stride[0], 3);
    expect_int(stride[1], 1);
    expect_bool(a[4], 0);
    expect_kind(a[5], PVM_DICT);
    cr_assert_eq(a[5]->u.dict.len, 0);

    pvm_value *meta = pvm_dict_get_str(sd->u.dict.state, "_metadata");
    expect_kind(meta, PVM_DICT);
    pvm_value *root = pvm_dict_get_str(meta, "");
    expect_int(pvm_dict_get_str(root, "version"), 1);

    cr_assert_eq(pvm_global_count(vm), 3);
    expect_table_entry(0, "collections", "OrderedDict", "collections", PVM_USE_REF | PVM_USE_REDUCE,
                       2);
    expect_table_entry(1, "torch._utils", "_rebuild_tensor_v2", "torch._utils",
                       PVM_USE_REF | PVM_USE_REDUCE, 41);
    expect_table_entry(2, "torch", "FloatStorage", "torch", PVM_USE_REF, 92);
}

Test(pvm, protocol4_frame_memoize_short_binunicode)
{
    /* pickle.dumps({'abc': [1, 'abc'], 'k': (1.5, None)}, 4) */
    pvm_value *d = LOAD("\200\004\225#\000\000\000\000\000\000\000}\224(\214"
                        "\003abc\224]\224(K\001h\001e\214\001k\224G\077\370"
                        "\000\000\000\000\000\000N\206\224u.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.pairs[0].key, "abc");
    pvm_value **l = expect_seq(d->u.dict.pairs[0].val, PVM_LIST, 2);
    expect_int(l[0], 1);
    cr_assert_eq(l[1], d->u.dict.pairs[0].key); /* MEMOIZE 1 / BINGET 1 */
    pvm_value **t = expect_seq(pvm_dict_get_str(d, "k"), PVM_TUPLE, 2);
    cr_assert_eq(t[0]->u.f, 1.5);
    expect_kind(t[1], PVM_NONE);
}

Test(pvm, protocol0_text_opcodes)
{
    /* pickle.dumps([1, 'h\xe9\n', {'a': (True,)}, 2**70], 0) */
    pvm_value **l = expect_seq(LOAD("(lp0\012I1\012aVh\351\134u000a\012p1\012a"
                                    "(dp2\012Va\012p3\012(I01\012tp4\012saL11"
                                    "80591620717411303424L\012a."),
                               PVM_LIST, 4);
    expect_int(l[0], 1);
    expect_str(l[1], "h\303\251\n");
    expect_kind(l[2], PVM_DICT);
    pvm_value **t = expect_seq(pvm_dict_get_str(l[2], "a"), PVM_TUPLE, 1);
    expect_bool(t[0], 1);
    expect_bytes_of(l[3], PVM_BIGINT, "\000\000\000\000\000\000\000\000\100", 9);

    /* PUT / GET text forms share the object */
    t = expect_seq(LOAD("((lp7\012g7\012t."), PVM_TUPLE, 2);
    cr_assert_eq(t[0], t[1]);
    expect_seq(LOAD("((lp007\012g7\012t."), PVM_TUPLE, 2);
    FAILS("Np-1\012.", "pickle: negative memo index in PUT at offset 1");
    FAILS("Npx\012.", "pickle: bad PUT argument at offset 1");
    FAILS("g5\012.", "pickle: memo index 5 not defined (GET at offset 0)");

    /* TUPLE and DICT with MARK, INST */
    pvm_value *c = LOAD("(S'x'\012I2\012d(i__builtin__\012object\012.");
    cr_assert(pvm_is_call_of(c, "builtins", "object"));
    expect_table_entry(0, "builtins", "object", "__builtin__", PVM_USE_REF | PVM_USE_INST, 11);
}

Test(pvm, persistent_ids)
{
    pvm_value *p = LOAD("Pfoo 1\012.");
    expect_kind(p, PVM_PERSID);
    expect_str(p->u.persid.pid, "foo 1");
    FAILS("Pf\351\012.", "pickle: PERSID argument at offset 0 is not ASCII");

    p = LOAD("K\005Q.");
    expect_kind(p, PVM_PERSID);
    expect_int(p->u.persid.pid, 5);
    FAILS("Q.", "pickle: stack underflow in BINPERSID at offset 0");
}

/* pvm_persid_at lists exactly the PVM_PERSID nodes, in the order made: the
 * walk over every node that it replaces finds the same ones.  Here
 * (PERSID 'a', [BINPERSID 7, BINPERSID 7 again], PERSID 'b') with other
 * nodes in between, and a pickle that fails after its first id. */
Test(pvm, persistent_ids_in_the_order_made)
{
    pvm_value *p = LOAD("(Pa\012]K\007QaK\007Qa\214\001xPb\012t.");
    expect_kind(p, PVM_TUPLE);
    cr_assert_eq(pvm_persid_count(vm), 4);
    size_t found = 0;
    for (size_t i = 0; i < pvm_object_count(vm); i++) {
        const pvm_value *v = pvm_node_at(vm, i);
        if (v->kind != PVM_PERSID)
            continue;
        cr_assert_lt(found, 4);
        cr_expect_eq(pvm_persid_at(vm, found), v, "id %zu", found);
        found++;
    }
    cr_expect_eq(found, 4);
    expect_str(pvm_persid_at(vm, 0)->u.persid.pid, "a");
    expect_int(pvm_persid_at(vm, 1)->u.persid.pid, 7);
    expect_int(pvm_persid_at(vm, 2)->u.persid.pid, 7);
    cr_expect_neq(pvm_persid_at(vm, 1), pvm_persid_at(vm, 2), "each call its own id");
    expect_str(pvm_persid_at(vm, 3)->u.persid.pid, "b");
    FAILS("K\001QK\002Q\215.", "pickle: truncated: BINUNICODE8 at offset 6 needs 8 bytes, 1 left");
    cr_expect_eq(pvm_persid_count(vm), 2, "the ids made before the failure");
}

Test(pvm, end_offset_stops_at_stop)
{
    pvm_value *v = LOAD("K\001.garbage\377");
    expect_int(v, 1);
    cr_assert_eq(end_offset, 3);
    /* extra values on the stack at STOP are fine */
    expect_int(LOAD("K\001K\002."), 2);
    cr_assert_eq(end_offset, 5);
}

Test(pvm, frame_and_proto)
{
    expect_int(LOAD("\200\005\225\003\000\000\000\000\000\000\000K\001."), 1);
    expect_int(LOAD("\200\000K\001."), 1);
    FAILS("\225\020\000\000\000\000\000\000\000K\001.",
          "pickle: truncated: FRAME at offset 0 needs 16 bytes, 3 left");
    FAILS("\225\001\000", "pickle: truncated: FRAME at offset 0 needs 8 "
                          "bytes, 2 left");
    FAILS("\200\006.", "pickle: unsupported protocol 6 (PROTO at offset 0)");
    FAILS("\200", "pickle: truncated: PROTO at offset 0 needs 1 bytes, 0 "
                  "left");
}

/* ================================================================== */
/* Malformed input                                                      */

Test(pvm, unknown_opcode)
{
    FAILS("K\001\377.", "pickle: unknown opcode 0xff at offset 2");
    FAILS("\000", "pickle: unknown opcode 0x00 at offset 0");
}

Test(pvm, bad_memo_index)
{
    FAILS("h\007.", "pickle: memo index 7 not defined (BINGET at offset 0)");
    FAILS("q\000.", "pickle: stack underflow in BINPUT at offset 0");
    FAILS("(\224.", "pickle: stack underflow in MEMOIZE at offset 1");
}

Test(pvm, huge_memo_index_needs_no_huge_table)
{
    /* LONG_BINPUT 4000000000 (0xEE6B2800) then LONG_BINGET of it */
    pvm_value **t = expect_seq(LOAD("K\007r\000\050\153\356j\000\050\153\356"
                                    "\206."),
                               PVM_TUPLE, 2);
    expect_int(t[0], 7);
    cr_assert_eq(t[0], t[1]);
    FAILS("K\007r\000\050\153\356j\001\050\153\356.",
          "pickle: memo index 4000000001 not defined (LONG_BINGET at offset "
          "7)");
    /* MEMOIZE numbers entries by count, not by the highest index */
    t = expect_seq(LOAD("K\007r\377\377\377\377K\010\224h\001"
                        "j\377\377\377\377\206."),
                   PVM_TUPLE, 2);
    expect_int(t[0], 8);
    expect_int(t[1], 7);
}

/* Memo indexes move from the hash map to the dense array as the memo fills:
 * LONG_BINPUT 5000 and BINPUT 200 (sparse while the memo is nearly empty),
 * then the entries 0..299 but 200, which make the array cover 200; then
 * GET of indexes 200, 0 and 299 and a LONG_BINGET of index 5000 set before
 * it all (stays sparse); MEMOIZE then numbers its entry 301 (the count of
 * entries in both). */
Test(pvm, memo_indexes_move_from_hash_to_array)
{
    uint8_t p[4096];
    size_t n = 0;
    p[n++] = '(';              /* MARK: the tuple's items */
    p[n++] = 'K', p[n++] = 77; /* BININT1 77 */
    p[n++] = 'r';              /* LONG_BINPUT 5000 */
    p[n++] = 5000 & 0xff, p[n++] = 5000 >> 8, p[n++] = 0, p[n++] = 0;
    p[n++] = '0';                                                        /* POP */
    p[n++] = 'K', p[n++] = 88, p[n++] = 'q', p[n++] = 200, p[n++] = '0'; /* 88 BINPUT 200 POP */
    for (unsigned i = 0; i < 300; i++) {
        if (i == 200)
            continue;
        p[n++] = 'M', p[n++] = (uint8_t)i, p[n++] = (uint8_t)(i >> 8); /* BININT2 i */
        p[n++] = 'r';
        p[n++] = (uint8_t)i, p[n++] = (uint8_t)(i >> 8), p[n++] = 0, p[n++] = 0;
        p[n++] = '0';
    }
    p[n++] = 'K', p[n++] = 99, p[n++] = 0x94, p[n++] = '0';         /* 99 MEMOIZE POP */
    p[n++] = 'j', p[n++] = 200, p[n++] = 0, p[n++] = 0, p[n++] = 0; /* LONG_BINGET 200 */
    p[n++] = 'h', p[n++] = 0;                                       /* BINGET 0 */
    p[n++] = 'j', p[n++] = 299 & 0xff, p[n++] = 299 >> 8, p[n++] = 0, p[n++] = 0;
    p[n++] = 'j', p[n++] = 5000 & 0xff, p[n++] = 5000 >> 8, p[n++] = 0, p[n++] = 0;
    p[n++] = 'j', p[n++] = 301 & 0xff, p[n++] = 301 >> 8, p[n++] = 0, p[n++] = 0;
    p[n++] = 't', p[n++] = '.';
    cr_assert_lt(n, sizeof p);
    pvm_value **t = expect_seq(load_ok(p, n), PVM_TUPLE, 5);
    expect_int(t[0], 88); /* moved into the array, still there */
    expect_int(t[1], 0);
    expect_int(t[2], 299);
    expect_int(t[3], 77);
    expect_int(t[4], 99);
}

/* A dense memo entry holds a node's id, found again through the chunks
 * of nodes: 10,000 ints (not the shared small ones) put at 0..9999, so
 * that their nodes lie in three chunks; a get of the first, both sides of
 * a chunk boundary and the last; index 5 put again (its new value
 * replaces the old) and index 6 put again with a shared None. */
Test(pvm, memo_entries_found_across_node_chunks)
{
    enum { N = 10000 };
    size_t cap = 16 * N + 64, n = 0;
    uint8_t *p = malloc(cap);
    cr_assert_not_null(p);
    for (unsigned i = 0; i < N; i++) {
        unsigned v = 1000 + i;
        p[n++] = 'M', p[n++] = (uint8_t)v, p[n++] = (uint8_t)(v >> 8); /* BININT2 v */
        p[n++] = 'r';
        p[n++] = (uint8_t)i, p[n++] = (uint8_t)(i >> 8), p[n++] = 0, p[n++] = 0;
        p[n++] = '0';
    }
    p[n++] = 'M', p[n++] = 0x39, p[n++] = 0x30; /* 12345, put at 5 again */
    p[n++] = 'q', p[n++] = 5, p[n++] = '0';
    p[n++] = 'N', p[n++] = 'q', p[n++] = 6, p[n++] = '0'; /* None at 6 */
    p[n++] = '(';
    const unsigned gets[] = {0, 4095, 4096, 8191, 8192, N - 1, 5, 6};
    for (size_t k = 0; k < sizeof gets / sizeof gets[0]; k++) {
        p[n++] = 'j';
        p[n++] = (uint8_t)gets[k], p[n++] = (uint8_t)(gets[k] >> 8), p[n++] = 0, p[n++] = 0;
    }
    p[n++] = 't', p[n++] = '.';
    cr_assert_lt(n, cap);
    pvm_value **t = expect_seq(load_ok(p, n), PVM_TUPLE, 8);
    for (size_t k = 0; k < 6; k++)
        expect_int(t[k], 1000 + (int64_t)gets[k]);
    expect_int(t[6], 12345);
    expect_kind(t[7], PVM_NONE);
    free(p);
}

Test(pvm, truncated_lengths)
{
    FAILS("X\377\377\377\377abc.",
          "pickle: truncated: BINUNICODE at offset 0 needs 4294967295 bytes, "
          "4 left");
    FAILS("K\001X\001\000", "pickle: truncated: BINUNICODE at offset 2 needs "
                            "4 bytes, 2 left");
    FAILS("\216\377\377\377\377\377\377\377\377.", "pickle: truncated: BINBYTES8 at offset 0 needs "
                                                   "18446744073709551615 bytes, 1 left");
    FAILS("\213\000\000\000\200.", "pickle: negative byte count in LONG4 at offset 0");
    FAILS("\212\005\001\002.", "pickle: truncated: LONG1 at offset 0 needs 5 "
                               "bytes, 3 left");
    FAILS("J\001\002", "pickle: truncated: BININT at offset 0 needs 4 bytes, "
                       "2 left");
    FAILS("G\001", "pickle: truncated: BINFLOAT at offset 0 needs 8 bytes, "
                   "1 left");
}

Test(pvm, missing_stop)
{
    FAILS("K\001", "pickle: no STOP opcode");
    FAILS("", "pickle: no STOP opcode");
}

Test(pvm, stop_on_empty_stack)
{
    FAILS(".", "pickle: stack underflow in STOP at offset 0");
    FAILS("K\001(.", "pickle: stack underflow in STOP at offset 3");
}

Test(pvm, buffers_and_extensions_are_refused)
{
    FAILS("\200\005\227.", "pickle: NEXT_BUFFER at offset 2: out-of-band "
                           "buffers are not supported");
    FAILS("\202\001.", "pickle: extension code 1 is not registered (EXT1 at "
                       "offset 0)");
    FAILS("\203\001\002.", "pickle: extension code 513 is not registered "
                           "(EXT2 at offset 0)");
    FAILS("\204\377\377\377\377.", "pickle: extension code -1 is not "
                                   "registered (EXT4 at offset 0)");
}

Test(pvm, cycles_do_not_hang)
{
    /* l = []; l.append(l) through DUP */
    pvm_value *l = LOAD("]2a.");
    pvm_value **items = expect_seq(l, PVM_LIST, 1);
    cr_assert_eq(items[0], l);
    /* and through the memo, with a dict holding itself too */
    l = LOAD("]q\000h\000a}q\001h\001h\001s0.");
    cr_assert_eq(expect_seq(l, PVM_LIST, 1)[0], l);
    pvm_value *d = LOAD("}q\001K\001h\001s.");
    cr_assert_eq(d->u.dict.pairs[0].val, d);
}

Test(pvm, machine_runs_once)
{
    pvm_value *v;
    cr_assert_eq(run("N.", 2, NULL, &v), C2S_OK);
    c2s_error e2;
    cr_assert_eq(pvm_run(vm, (const uint8_t *)"N.", 2, &v, NULL, &e2), C2S_ERR_INPUT);
    cr_assert_str_eq(e2.msg, "pickle: internal error: machine already used");
}

/* ================================================================== */
/* Limits                                                               */

Test(pvm, object_limit)
{
    pvm_limits lim = {.max_objects = 3};
    FAILS_LIMITED("]]]].", &lim, "pickle: limit exceeded: more than 3 objects");
    pvm_value *v;
    cr_assert_eq(run("]]].", 4, &lim, &v), C2S_OK, "%s", err.msg);
    /* items copied by set(list) count too */
    FAILS_LIMITED("cbuiltins\012set\012(K\001K\002K\003l\205R.", &lim,
                  "pickle: limit exceeded: more than 3 objects");
}

/* Reuses of a shared node (None, True, False, (), ints -5..256) count as
 * objects too: the limit means what it meant when each was a node. */
Test(pvm, object_limit_counts_shared_values)
{
    pvm_limits lim = {.max_objects = 3};
    FAILS_LIMITED("K\001K\001K\001K\001.", &lim, "pickle: limit exceeded: more than 3 objects");
    FAILS_LIMITED("NNNN.", &lim, "pickle: limit exceeded: more than 3 objects");
    FAILS_LIMITED("\210\210\210\210.", &lim, "pickle: limit exceeded: more than 3 objects");
    FAILS_LIMITED("))))).", &lim, "pickle: limit exceeded: more than 3 objects");
    pvm_value *v;
    cr_assert_eq(run("K\001K\001K\001.", 7, &lim, &v), C2S_OK, "%s", err.msg);
    cr_assert_eq(pvm_object_count(vm), 1);
    cr_assert_eq(pvm_value_count(vm), 3);
}

Test(pvm, string_limit)
{
    pvm_limits lim = {.max_string = 4};
    FAILS_LIMITED("X\005\000\000\000hello.", &lim,
                  "pickle: limit exceeded: more than 4 bytes in one string");
    FAILS_LIMITED("I123456789012345678901\012.", &lim,
                  "pickle: limit exceeded: more than 4 bytes in one string");
    /* latin-1 decoding doubles high bytes, and the result counts */
    FAILS_LIMITED("U\003\351\351\351.", &lim,
                  "pickle: limit exceeded: more than 4 bytes in one string");
    pvm_value *v;
    static const char four[] = "X\004\000\000\000hell.";
    cr_assert_eq(run(four, sizeof four - 1, &lim, &v), C2S_OK, "%s", err.msg);
    expect_str(v, "hell");
}

Test(pvm, memo_stack_and_container_limits)
{
    pvm_limits memo = {.max_memo = 2};
    FAILS_LIMITED("Nq\000q\001q\000q\002.", &memo,
                  "pickle: limit exceeded: more than 2 memo entries");
    pvm_limits stack = {.max_stack = 3};
    FAILS_LIMITED("(NNN.", &stack, "pickle: limit exceeded: more than 3 stack entries");
    pvm_limits items = {.max_container = 2};
    FAILS_LIMITED("](NNNe.", &items, "pickle: limit exceeded: more than 2 items in one container");
    FAILS_LIMITED("(NNNt.", &items, "pickle: limit exceeded: more than 2 items in one container");
}

Test(pvm, large_dict_with_replacements)
{
    enum { N = 100000 };
    size_t len = 0;
    char *buf = malloc((size_t)N * 20 + 16);
    cr_assert_not_null(buf);
    buf[len++] = '}';
    for (int round = 0; round < 2; round++) {
        buf[len++] = '(';
        for (int i = 0; i < N; i++) {
            buf[len++] = 'J';
            memcpy(buf + len, &(int32_t){i}, 4); /* little-endian hosts */
            len += 4;
            buf[len++] = 'J';
            memcpy(buf + len, &(int32_t){i + round}, 4);
            len += 4;
        }
        buf[len++] = 'u';
    }
    buf[len++] = '.';
    pvm_value *d = load_ok(buf, len);
    free(buf);
    cr_assert_eq(d->u.dict.len, N);
    expect_int(d->u.dict.pairs[N - 1].key, N - 1);
    expect_int(d->u.dict.pairs[N - 1].val, N);
}

Test(pvm, kind_names)
{
    cr_assert_str_eq(pvm_kind_name(PVM_DICT), "dict");
    cr_assert_str_eq(pvm_kind_name(PVM_TUPLE), "tuple");
    cr_assert_str_eq(pvm_kind_name(PVM_CALL), "call");
    cr_assert_str_eq(pvm_kind_name(PVM_NONE), "None");
    cr_assert_null(pvm_dict_get_str(NULL, "x"));
    cr_assert(!pvm_is_global(NULL, "a", "b"));
    pvm_free(NULL);
}

/* ---- hazards: what CPython would call or set beyond the calls of globals ---- */

/* Load pk and assert its hazards: count in all, the kept ones exactly want[]. */
static void expect_hazards(const char *pk, size_t len, size_t count, const char *const *want)
{
    load_ok(pk, len);
    cr_assert_eq(pvm_hazard_count(vm), count, "%zu hazards, first: %s", pvm_hazard_count(vm),
                 pvm_hazard_count(vm) > 0 ? pvm_hazard_at(vm, 0) : "-");
    for (size_t i = 0; i < count && i < PVM_HAZARDS_KEPT; i++)
        cr_assert_str_eq(pvm_hazard_at(vm, i), want[i]);
}

#define HAZARDS(pk, ...)                                                              \
    expect_hazards(pk, sizeof pk - 1,                                                 \
                   sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), \
                   (const char *const[]){__VA_ARGS__})
#define NO_HAZARD(pk) expect_hazards(pk, sizeof pk - 1, 0, NULL)

/* A call whose callable is not a global: CPython calls the object (a
 * module instance runs its forward), which no global's uses show. */
Test(pvm, hazard_call_of_a_value_that_is_not_a_global)
{
    HAZARDS("cfoo\012Bar\012)R)R.", "REDUCE at offset 12 calls a call, not a global");
    HAZARDS("(]o.", "OBJ at offset 2 calls a list, not a global");
    /* torch's legacy persistent id ('module', cls, file, source) is cls:
     * NEWOBJ on it is a NEWOBJ of the class (a pickled nn.Module) */
    NO_HAZARD("(X\006\000\000\000modulecfoo\012M\012NNtQ)\201.");
    expect_table_entry(0, "foo", "M", "foo", PVM_USE_REF | PVM_USE_NEWOBJ, 12);
    /* six of them: four kept, all counted */
    HAZARDS("(]o0(]o0(]o0(]o0(]o0(]o0N.", "OBJ at offset 2 calls a list, not a global",
            "OBJ at offset 6 calls a list, not a global",
            "OBJ at offset 10 calls a list, not a global",
            "OBJ at offset 14 calls a list, not a global", "", "");
}

/* load_build looks __setstate__ up on the object at every BUILD: a dunder
 * set by one BUILD is called by the next.  pickle.dump builds an object
 * once; a global's or a storage's attributes are never set by it. */
Test(pvm, hazard_build_states)
{
    HAZARDS("cfoo\012Bar\012)R}X\014\000\000\000__setstate__NsbK\001b.",
            "BUILD at offset 31 sets attribute '__setstate__' on a call",
            "BUILD at offset 34 builds a call's result built already");
    HAZARDS("}}X\011\000\000\000__class__Nsb.",
            "BUILD at offset 18 sets attribute '__class__' on a dict");
    /* the key is the file's text: nothing but printable ASCII is quoted */
    HAZARDS("cfoo\012Bar\012)R}X\010\000\000\000__\033[2J__Nsb.",
            "BUILD at offset 27 sets attribute '?' on a call");
    HAZARDS("cfoo\012Bar\012N}X\001\000\000\000aNs\206b.",
            "BUILD at offset 20 sets attributes of the global foo.Bar");
    NO_HAZARD("cfoo\012Bar\012Nb.");
    HAZARDS("NQ}X\005\000\000\000dtypeK\001sb.",
            "BUILD at offset 16 sets attributes of a persistent id's object");
    NO_HAZARD("NQ}b.");
    /* an ordinary instance state and OrderedDict's _metadata: no hazard */
    NO_HAZARD("cfoo\012Bar\012)R}X\001\000\000\000aK\001sb.");
    NO_HAZARD("ccollections\012OrderedDict\012)R}X\011\000\000\000_metadataNsb.");
}

/* _rebuild_from_type(_v2)(func, new_type, args, state) calls func(*args):
 * func counts as called, new_type as instantiated; a state setting one of
 * torch.Tensor's data descriptors (v2: setattr) or a dunder is a hazard. */
Test(pvm, hazard_rebuild_from_type)
{
    NO_HAZARD("ctorch._tensor\012_rebuild_from_type_v2\012(cfoo\012f\012cfoo\012T\012)}tR.");
    expect_table_entry(1, "foo", "f", "foo", PVM_USE_REF | PVM_USE_REDUCE, 38);
    expect_table_entry(2, "foo", "T", "foo", PVM_USE_REF | PVM_USE_NEWOBJ | PVM_USE_BUILD, 45);
    /* new_type torch.Tensor: func(*args) alone, nothing instantiated */
    NO_HAZARD("ctorch._tensor\012_rebuild_from_type_v2\012(cfoo\012f\012ctorch\012Tensor\012)}tR.");
    expect_table_entry(2, "torch", "Tensor", "torch", PVM_USE_REF, 45);
    HAZARDS("ctorch._tensor\012_rebuild_from_type_v2\012(]ctorch\012Tensor\012)}tR.",
            "torch._tensor._rebuild_from_type_v2 (REDUCE at offset 56) is given a list as func, "
            "not a global");
    HAZARDS("ctorch._tensor\012_rebuild_from_type_v2\012(cfoo\012f\012cfoo\012T\012)}"
            "X\004\000\000\000realNstR.",
            "torch._tensor._rebuild_from_type_v2 (REDUCE at offset 66) sets attribute 'real' on "
            "the tensor");
    /* the slot half of a (dict, slots) state too */
    HAZARDS("ctorch._tensor\012_rebuild_from_type_v2\012(cfoo\012f\012cfoo\012T\012)(N}"
            "X\004\000\000\000dataNsttR.",
            "torch._tensor._rebuild_from_type_v2 (REDUCE at offset 69) sets attribute 'data' on "
            "the tensor");
    /* a subclass's own attribute is data */
    NO_HAZARD("ctorch._tensor\012_rebuild_from_type_v2\012(cfoo\012f\012cfoo\012T\012)}"
              "X\003\000\000\000tagNstR.");
    /* v1 assigns the dict as __dict__: 'real' there is inert, a dunder is not */
    NO_HAZARD("ctorch._tensor\012_rebuild_from_type\012(cfoo\012f\012cfoo\012T\012)}"
              "X\004\000\000\000realNstR.");
    /* PyTorch 2's _rebuild_parameter_with_state setattr()s its state too */
    HAZARDS("ctorch._utils\012_rebuild_parameter_with_state\012(cfoo\012f\012\211}}"
            "X\004\000\000\000dataNstR.",
            "torch._utils._rebuild_parameter_with_state (REDUCE at offset 67) sets attribute "
            "'data' on the tensor");
    NO_HAZARD("ctorch._utils\012_rebuild_parameter_with_state\012(cfoo\012f\012\211}}"
              "X\003\000\000\000tagNstR.");
    HAZARDS("ctorch._tensor\012_rebuild_from_type\012(cfoo\012f\012cfoo\012T\012)}"
            "X\011\000\000\000__class__NstR.",
            "torch._tensor._rebuild_from_type (REDUCE at offset 68) sets attribute '__class__' "
            "on the tensor");
}

/* load_append calls the object's own extend or append, load_additems its
 * add, looked up on the object when the opcode runs; APPEND, SETITEM and
 * ADDITEMS on a global change a module-level object, on a persistent id a
 * storage (SETITEM writes its bytes). */
Test(pvm, hazard_items_of_objects)
{
    HAZARDS("cfoo\012Bar\012)R}X\006\000\000\000extendNsb(K\001e.",
            "APPENDS at offset 29 calls the 'extend' its object's BUILD state set");
    HAZARDS("cfoo\012Bar\012)R}X\003\000\000\000addNsb(K\001\220.",
            "ADDITEMS at offset 26 calls the 'add' its object's BUILD state set");
    /* set after the items went in: the lookup found the class's method */
    NO_HAZARD("cfoo\012Bar\012)R(K\001e}X\006\000\000\000extendNsb.");
    NO_HAZARD("cfoo\012Bar\012)R}X\003\000\000\000addNsb(K\001e.");
    NO_HAZARD("cfoo\012Bar\012)R(K\001e.");
    HAZARDS("NQK\000K\011s.", "SETITEM at offset 6 changes the items of a persistent id");
    HAZARDS("cfoo\012Bar\012K\001a.", "APPEND at offset 11 changes the items of a global");
}

/* A container a call took as an argument or a BUILD as its state is marked
 * taken, and changed once APPEND or SETITEM change it after that (pvm.h):
 * CPython's callee saw it as it was. */
Test(pvm, containers_taken_then_changed)
{
    const pvm_value *v = LOAD("]q\000K\001a.");
    cr_assert_eq(v->how, 0);
    v = LOAD("cfoo\012f\012(]q\000tR0h\000.");
    cr_assert_eq(v->how, PVM_TAKEN);
    v = LOAD("cfoo\012f\012(]q\000tR0h\000K\001a.");
    cr_assert_eq(v->how, PVM_TAKEN | PVM_CHANGED_AFTER_TAKEN);
    /* a BUILD's state, then a SETITEM on it */
    v = LOAD("cfoo\012Bar\012)R}q\000b0h\000X\001\000\000\000aK\001s.");
    expect_kind(v, PVM_DICT);
    cr_assert_eq(v->how, PVM_TAKEN | PVM_CHANGED_AFTER_TAKEN);
}

/* What a state dict's keys hold is read once and kept until APPEND or
 * SETITEM change the dict: a key added after one BUILD is seen by the next. */
Test(pvm, hazard_state_keys_read_again_after_a_change)
{
    HAZARDS("cfoo\012Bar\012)Rq\001}q\000b0h\000X\014\000\000\000__setstate__Ns0h\001h\000b.",
            "BUILD at offset 44 sets attribute '__setstate__' on a call",
            "BUILD at offset 44 builds a call's result built already");
}

/* A BUILD state a mapping call with arguments makes: keys unread. */
Test(pvm, hazard_state_made_by_a_mapping_call)
{
    HAZARDS("cfoo\012Bar\012)Rcbuiltins\012dict\012(]tRb.",
            "BUILD at offset 30 sets attributes from a call's result");
    /* a TorchScript object's state (a tensor, True) for its own __setstate__ */
    NO_HAZARD("cfoo\012Bar\012)Rcfoo\012T\012)R\210\206b.");
}
