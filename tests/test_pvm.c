/*
 * test_pvm.c - Criterion tests for the restricted pickle VM (src/pickle/pvm.c).
 *
 * Every pickle is a C literal.  Those longer than a few opcodes were made
 * with CPython 3.11's pickle module; the comment above each names the
 * expression.  Octal escapes are used so that a following digit or hex
 * letter can never extend an escape.  Failures assert the exact message.
 */
#include <criterion/criterion.h>

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
static c2s_status run(const void *data, size_t len, const pvm_limits *limits,
                      pvm_value **out)
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

static void load_fails(const void *data, size_t len, const pvm_limits *limits,
                       const char *msg)
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
#define FAILS_LIMITED(lit, limits, msg) \
    load_fails(lit, sizeof(lit) - 1, limits, msg)

/* ---- value checks ---- */

static void expect_kind(const pvm_value *v, pvm_kind kind)
{
    cr_assert_not_null(v);
    cr_assert_eq(v->kind, kind, "kind is %s, expected %s",
                 pvm_kind_name(v->kind), pvm_kind_name(kind));
}

static void expect_int(const pvm_value *v, int64_t i)
{
    expect_kind(v, PVM_INT);
    cr_assert_eq(v->u.i, i, "int is %lld, expected %lld", (long long)v->u.i,
                 (long long)i);
}

static void expect_bool(const pvm_value *v, int b)
{
    expect_kind(v, PVM_BOOL);
    cr_assert_eq(!!v->u.b, b);
}

static void expect_bytes_of(const pvm_value *v, pvm_kind kind, const char *s,
                            size_t n)
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

static void expect_global(const pvm_value *v, const char *module,
                          const char *name)
{
    expect_kind(v, PVM_GLOBAL);
    cr_assert_str_eq(v->u.global.module, module);
    cr_assert_str_eq(v->u.global.name, name);
}

static void expect_table_entry(size_t i, const char *module, const char *name,
                               const char *raw, unsigned uses, size_t offset)
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
    expect_bytes_of(LOAD("I99999999999999999999\012."), PVM_BIGINT,
                    "99999999999999999999", 20);
    expect_bytes_of(LOAD("I-9223372036854775809\012."), PVM_BIGINT,
                    "-9223372036854775809", 20);
}

Test(pvm, text_int_rejects_ambiguous_forms)
{
    FAILS("I1x\012.", "pickle: bad INT argument at offset 0");
    /* octal in the C unpickler, an error in pickle.py */
    FAILS("K\001I010\012.", "pickle: bad INT argument at offset 2");
    FAILS("I\012.", "pickle: bad INT argument at offset 0");
    FAILS("I12", "pickle: truncated: INT at offset 0 has no end of line");
}

Test(pvm, text_long)
{
    expect_int(LOAD("L12L\012."), 12);
    expect_int(LOAD("L-5\012."), -5);
    expect_bytes_of(LOAD("L1180591620717411303424L\012."), PVM_BIGINT,
                    "1180591620717411303424", 22);
    FAILS("LL\012.", "pickle: bad LONG argument at offset 0");
}

Test(pvm, text_float)
{
    pvm_value *v = LOAD("F1.5\012.");
    expect_kind(v, PVM_FLOAT);
    cr_assert_eq(v->u.f, 1.5);
    v = LOAD("F-2.5e-3\012.");
    cr_assert_eq(v->u.f, -2.5e-3);
    v = LOAD("F1e999\012.");
    cr_assert(isinf(v->u.f) && v->u.f > 0);
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
    FAILS("T\377\377\377\377.",
          "pickle: negative byte count in BINSTRING at offset 0");
}

Test(pvm, unicode_raw_unicode_escape)
{
    /* Vh\xe9\u20ac\U0001F600 + surrogate pair \ud83d\ude00 */
    expect_str(LOAD("Vh\351\\u20ac\\U0001F600\\ud83d\\ude00\012."),
               "h\303\251\342\202\254\360\237\230\200\360\237\230\200");
    /* an even run of backslashes is literal, an odd one escapes */
    expect_str(LOAD("V\\\\u0041 \\\\\\u0041 \\x\012."),
               "\\\\u0041 \\\\A \\x");
    FAILS("V\\u12\012.", "pickle: bad \\u escape in UNICODE at offset 0");
    FAILS("V\\ud800\012.", "pickle: bad \\u escape in UNICODE at offset 0");
    FAILS("V\\U00110000\012.",
          "pickle: bad \\u escape in UNICODE at offset 0");
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
    FAILS("\214\002\300\200.",
          "pickle: invalid UTF-8 in SHORT_BINUNICODE at offset 0 (byte 0 of "
          "the string)");
    /* surrogate U+D800 */
    FAILS("K\001\214\003\355\240\200.",
          "pickle: invalid UTF-8 in SHORT_BINUNICODE at offset 2 (byte 0 of "
          "the string)");
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
    expect_str(d->u.dict.keys[0], "a");
    expect_int(d->u.dict.vals[0], 1);
    expect_str(d->u.dict.keys[1], "b");
    expect_int(d->u.dict.vals[1], 2);
    cr_assert_null(d->u.dict.state);
    expect_int(pvm_dict_get_str(d, "b"), 2);
    cr_assert_null(pvm_dict_get_str(d, "c"));

    d = LOAD("(K\001K\002d.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.keys[0], 1);
    expect_int(d->u.dict.vals[0], 2);

    d = LOAD("}K\007K\010s.");
    cr_assert_eq(d->u.dict.len, 1);
    expect_int(d->u.dict.vals[0], 8);
    FAILS("(K\001d.", "pickle: odd number of items for DICT at offset 3");
}

Test(pvm, dict_equal_scalar_key_replaces_in_place)
{
    /* {'a': 1, 'b': 2} then d['a'] = 3: 'a' keeps its place */
    pvm_value *d = LOAD("}(X\001\000\000\000aK\001X\001\000\000\000bK\002u"
                        "X\001\000\000\000aK\003s.");
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.keys[0], "a");
    expect_int(d->u.dict.vals[0], 3);
    expect_int(d->u.dict.vals[1], 2);

    /* True == 1 in Python; None, bytes and str keys match by value */
    d = LOAD("}(K\001K\012\210K\013NK\001NK\002C\001aK\003C\001aK\004"
             "\214\001aK\005u.");
    cr_assert_eq(d->u.dict.len, 4);
    expect_int(d->u.dict.keys[0], 1);
    expect_int(d->u.dict.vals[0], 11);
    expect_kind(d->u.dict.keys[1], PVM_NONE);
    expect_int(d->u.dict.vals[1], 2);
    EXPECT_BYTES(d->u.dict.keys[2], "a");
    expect_int(d->u.dict.vals[2], 4);
    expect_str(d->u.dict.keys[3], "a");
    expect_int(d->u.dict.vals[3], 5);

    /* tuple keys are never merged */
    d = LOAD("}()K\001)K\002u.");
    cr_assert_eq(d->u.dict.len, 2);
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
    expect_int(LOAD("K\001(K\002K\0031."), 1);   /* POP_MARK */
    expect_int(LOAD("K\001K\0020."), 1);         /* POP */
    expect_int(LOAD("K\001(0."), 1);             /* POP of an empty frame drops the mark */
    pvm_value **t = expect_seq(LOAD("K\0012\206."), PVM_TUPLE, 2); /* DUP */
    cr_assert_eq(t[0], t[1]);
    FAILS("0.", "pickle: stack underflow in POP at offset 0");
    FAILS("2.", "pickle: stack underflow in DUP at offset 0");
    FAILS("K\0011.", "pickle: no MARK for POP_MARK at offset 2");
    expect_int(LOAD("K\001\230."), 1); /* READONLY_BUFFER is a no-op */
    FAILS("\230.", "pickle: stack underflow in READONLY_BUFFER at offset 0");
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

    expect_global(LOAD("ccopy_reg\012_reconstructor\012."), "copyreg",
                  "_reconstructor");
    expect_global(LOAD("cexceptions\012ValueError\012."), "builtins",
                  "ValueError");
    expect_global(LOAD("cexceptions\012StandardError\012."), "builtins",
                  "Exception");
    expect_global(LOAD("c__builtin__\012unicode\012."), "builtins", "str");
    expect_global(LOAD("cUserDict\012UserDict\012."), "collections",
                  "UserDict");
    expect_global(LOAD("ccStringIO\012StringIO\012."), "io", "StringIO");
    expect_global(LOAD("curllib2\012urlopen\012."), "urllib.request",
                  "urlopen");
    /* dotted names are recorded verbatim, never resolved */
    expect_global(LOAD("cfoo.bar\012Baz.qux\012."), "foo.bar", "Baz.qux");
    expect_table_entry(0, "foo.bar", "Baz.qux", "foo.bar", PVM_USE_REF, 0);
}

Test(pvm, global_name_checks)
{
    FAILS("c\012set\012.", "pickle: empty module name in GLOBAL at offset 0");
    FAILS("cos\012\012.", "pickle: empty name in GLOBAL at offset 0");
    FAILS("cos\012sys\377\012.",
          "pickle: invalid UTF-8 in name in GLOBAL at offset 0");
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
    expect_global(LOAD("\214\013__builtin__\214\003set\223."), "builtins",
                  "set");
    FAILS("K\001\214\001a\223.",
          "pickle: STACK_GLOBAL needs two str, got int and str at offset 5");
    FAILS("\214\001a\223.", "pickle: stack underflow in STACK_GLOBAL at offset 3");
}

Test(pvm, globals_table_dedups_and_records_uses)
{
    /* (foo.Bar(), foo.Bar() with BUILD, foo.Baz via NEWOBJ,
     *  INST foo.Qux, OBJ foo.Quux, a plain reference to foo.Ref) */
    static const char pk[] =
        "(cfoo\012Bar\012)R"   /* 0: MARK, 1: GLOBAL, 10: ), 11: REDUCE */
        "cfoo\012Bar\012)R}b"  /* 12: GLOBAL ... 24: BUILD */
        "cfoo\012Baz\012)\201" /* 25: GLOBAL, 35: NEWOBJ */
        "(ifoo\012Qux\012"     /* 36: MARK, 37: INST */
        "(cfoo\012Quux\012o"   /* 46: MARK, 47: GLOBAL, 57: OBJ */
        "cfoo\012Ref\012"      /* 58: GLOBAL */
        "t.";
    pvm_value **t = expect_seq(load_ok(pk, sizeof pk - 1), PVM_TUPLE, 6);
    cr_assert_eq(pvm_global_count(vm), 5);
    expect_table_entry(0, "foo", "Bar", "foo",
                       PVM_USE_REF | PVM_USE_REDUCE | PVM_USE_BUILD, 1);
    expect_table_entry(1, "foo", "Baz", "foo", PVM_USE_REF | PVM_USE_NEWOBJ,
                       25);
    expect_table_entry(2, "foo", "Qux", "foo", PVM_USE_REF | PVM_USE_INST, 37);
    expect_table_entry(3, "foo", "Quux", "foo", PVM_USE_REF | PVM_USE_OBJ, 47);
    expect_table_entry(4, "foo", "Ref", "foo", PVM_USE_REF, 58);

    cr_assert(pvm_is_call_of(t[0], "foo", "Bar"));
    cr_assert_eq(t[0]->u.call.how, PVM_USE_REDUCE);
    cr_assert_null(t[0]->u.call.state);
    cr_assert(pvm_is_call_of(t[1], "foo", "Bar"));
    expect_kind(t[1]->u.call.state, PVM_DICT);
    cr_assert_eq(t[2]->u.call.how, PVM_USE_NEWOBJ);
    cr_assert_eq(t[3]->u.call.how, PVM_USE_INST);
    cr_assert_eq(t[4]->u.call.how, PVM_USE_OBJ);
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
    cr_assert_null(c->u.call.kwargs);
    cr_assert_null(c->u.call.state);
    cr_assert_null(c->u.call.listitems);
    cr_assert_null(c->u.call.dictitems);
    cr_assert_eq(c->u.call.how, PVM_USE_REDUCE);
    expect_table_entry(0, "mod", "fn", "mod", PVM_USE_REF | PVM_USE_REDUCE, 0);

    FAILS("cmod\012fn\012R.", "pickle: stack underflow in REDUCE at offset 8");
    FAILS("cmod\012fn\012]R.",
          "pickle: REDUCE arguments are a list, not a tuple, at offset 9");
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
    cr_assert_eq(c->u.call.how, PVM_USE_NEWOBJ);
    expect_kind(c->u.call.kwargs, PVM_DICT);
    cr_assert_eq(c->u.call.kwargs->u.dict.len, 1);
    FAILS("cmod\012C\012)]\222.",
          "pickle: NEWOBJ_EX keyword arguments are a list, not a dict, at "
          "offset 9");

    c = LOAD("(K\001imod\012Cls\012.");
    cr_assert(pvm_is_call_of(c, "mod", "Cls"));
    cr_assert_eq(c->u.call.how, PVM_USE_INST);
    expect_int(expect_seq(c->u.call.args, PVM_TUPLE, 1)[0], 1);
    expect_table_entry(0, "mod", "Cls", "mod", PVM_USE_REF | PVM_USE_INST, 3);
    FAILS("imod\012Cls\012.", "pickle: no MARK for INST at offset 0");

    c = LOAD("(cmod\012Cls\012K\001K\002o.");
    cr_assert(pvm_is_call_of(c, "mod", "Cls"));
    cr_assert_eq(c->u.call.how, PVM_USE_OBJ);
    expect_seq(c->u.call.args, PVM_TUPLE, 2);
    FAILS("(o.", "pickle: stack underflow in OBJ at offset 1");
}

Test(pvm, fill_opcodes_on_a_call_are_recorded)
{
    pvm_value *c = LOAD("cmod\012C\012)RK\001a(K\002K\003eK\004K\005s.");
    expect_kind(c, PVM_CALL);
    pvm_value **l = expect_seq(c->u.call.listitems, PVM_LIST, 3);
    expect_int(l[0], 1);
    expect_int(l[2], 3);
    expect_kind(c->u.call.dictitems, PVM_DICT);
    cr_assert_eq(c->u.call.dictitems->u.dict.len, 1);
    expect_int(c->u.call.dictitems->u.dict.keys[0], 4);
    expect_int(c->u.call.dictitems->u.dict.vals[0], 5);
}

Test(pvm, fill_opcode_errors)
{
    FAILS("]K\001K\002s.", "pickle: SETITEM on a list at offset 5");
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
    expect_int(c->u.call.state, 2);

    FAILS("]Nb.", "pickle: BUILD on a list at offset 2");
    FAILS("K\001Nb.", "pickle: BUILD on a int at offset 3");
    FAILS("Nb.", "pickle: stack underflow in BUILD at offset 1");
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
    expect_table_entry(0, "collections", "OrderedDict", "collections",
                       PVM_USE_REF | PVM_USE_REDUCE, 2);
}

Test(pvm, ordered_dict_from_pairs)
{
    pvm_value *d = LOAD("ccollections\012OrderedDict\012"
                        "](X\001\000\000\000aK\001\206X\001\000\000\000bK\002"
                        "\206X\001\000\000\000aK\003\206e\205R.");
    expect_kind(d, PVM_DICT);
    cr_assert_eq(d->u.dict.len, 2);
    expect_str(d->u.dict.keys[0], "a");
    expect_int(d->u.dict.vals[0], 3);
    expect_int(pvm_dict_get_str(d, "b"), 2);

    /* shapes that are not interpreted stay calls */
    cr_assert(pvm_is_call_of(LOAD("ccollections\012OrderedDict\012K\001\205R."),
                             "collections", "OrderedDict"));
    cr_assert(pvm_is_call_of(
        LOAD("ccollections\012OrderedDict\012(K\001\205tR."), "collections",
        "OrderedDict"));
    /* __new__ alone leaves it empty whatever the args: not interpreted */
    cr_assert(pvm_is_call_of(
        LOAD("ccollections\012OrderedDict\012)\205\201."), "collections",
        "OrderedDict"));
    expect_kind(LOAD("ccollections\012OrderedDict\012)\201."), PVM_DICT);
}

Test(pvm, codecs_encode_makes_bytes)
{
    /* pickle.dumps(b'\x00\xffab', 2) */
    pvm_value *b = LOAD("\200\002c_codecs\012encode\012q\000X\005\000\000\000"
                        "\000\303\277abq\001X\006\000\000\000latin1q\002\206q"
                        "\003Rq\004.");
    EXPECT_BYTES(b, "\000\377ab");
    expect_table_entry(0, "_codecs", "encode", "_codecs",
                       PVM_USE_REF | PVM_USE_REDUCE, 2);
    EXPECT_BYTES(LOAD("c_codecs\012encode\012\214\001z\214\007latin-1\206R."),
                 "z");
    /* other encodings stay calls */
    cr_assert(pvm_is_call_of(
        LOAD("c_codecs\012encode\012\214\001z\214\005utf-8\206R."), "_codecs",
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
    expect_table_entry(0, "builtins", "bytes", "__builtin__",
                       PVM_USE_REF | PVM_USE_REDUCE, 2);
    cr_assert(pvm_is_call_of(LOAD("cbuiltins\012bytes\012K\001\205R."),
                             "builtins", "bytes"));
}

Test(pvm, set_and_frozenset_calls)
{
    /* pickle.dumps({1}, 2) */
    pvm_value **s = expect_seq(LOAD("\200\002c__builtin__\012set\012q\000]q"
                                    "\001K\001a\205q\002Rq\003."),
                               PVM_SET, 1);
    expect_int(s[0], 1);
    expect_table_entry(0, "builtins", "set", "__builtin__",
                       PVM_USE_REF | PVM_USE_REDUCE, 2);
    /* pickle.dumps(frozenset([7]), 2) */
    s = expect_seq(LOAD("\200\002c__builtin__\012frozenset\012q\000]q\001K"
                        "\007a\205q\002Rq\003."),
                   PVM_FROZENSET, 1);
    expect_int(s[0], 7);
    expect_seq(LOAD("cbuiltins\012set\012)R."), PVM_SET, 0);
    expect_seq(LOAD("cbuiltins\012frozenset\012(K\001K\002t\205R."),
               PVM_FROZENSET, 2);
    /* set(5) is not a container build */
    cr_assert(pvm_is_call_of(LOAD("cbuiltins\012set\012K\005\205R."),
                             "builtins", "set"));
}

/* Only the standard library's container builds are interpreted: a call that
 * builds a tuple subclass in Python (torch.Size((2, 3))) stays a call, with
 * its argument tuple intact; the tensor map reads it (test_tmap.c). */
Test(pvm, tuple_subclass_call_stays_a_call)
{
    pvm_value *v = LOAD("ctorch\012Size\012K\002K\003\206\205R.");
    cr_assert(pvm_is_call_of(v, "torch", "Size"));
    cr_assert_eq(v->u.call.how, PVM_USE_REDUCE);
    cr_assert_null(v->u.call.kwargs);
    cr_assert_null(v->u.call.state);
    pvm_value **a = expect_seq(v->u.call.args, PVM_TUPLE, 1);
    pvm_value **t = expect_seq(a[0], PVM_TUPLE, 2);
    expect_int(t[0], 2);
    expect_int(t[1], 3);
    expect_table_entry(0, "torch", "Size", "torch",
                       PVM_USE_REF | PVM_USE_REDUCE, 0);
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
    cr_assert_eq(t->u.call.how, PVM_USE_REDUCE);
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
    expect_table_entry(0, "collections", "OrderedDict", "collections",
                       PVM_USE_REF | PVM_USE_REDUCE, 2);
    expect_table_entry(1, "torch._utils", "_rebuild_tensor_v2",
                       "torch._utils", PVM_USE_REF | PVM_USE_REDUCE, 41);
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
    expect_str(d->u.dict.keys[0], "abc");
    pvm_value **l = expect_seq(d->u.dict.vals[0], PVM_LIST, 2);
    expect_int(l[0], 1);
    cr_assert_eq(l[1], d->u.dict.keys[0]); /* MEMOIZE 1 / BINGET 1 */
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
    expect_bytes_of(l[3], PVM_BIGINT, "1180591620717411303424", 22);

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
    expect_table_entry(0, "builtins", "object", "__builtin__",
                       PVM_USE_REF | PVM_USE_INST, 11);
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

Test(pvm, truncated_lengths)
{
    FAILS("X\377\377\377\377abc.",
          "pickle: truncated: BINUNICODE at offset 0 needs 4294967295 bytes, "
          "4 left");
    FAILS("K\001X\001\000", "pickle: truncated: BINUNICODE at offset 2 needs "
                            "4 bytes, 2 left");
    FAILS("\216\377\377\377\377\377\377\377\377.",
          "pickle: truncated: BINBYTES8 at offset 0 needs "
          "18446744073709551615 bytes, 1 left");
    FAILS("\213\000\000\000\200.",
          "pickle: negative byte count in LONG4 at offset 0");
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
    cr_assert_eq(d->u.dict.vals[0], d);
}

Test(pvm, machine_runs_once)
{
    pvm_value *v;
    cr_assert_eq(run("N.", 2, NULL, &v), C2S_OK);
    c2s_error e2;
    cr_assert_eq(pvm_run(vm, (const uint8_t *)"N.", 2, &v, NULL, &e2),
                 C2S_ERR_INPUT);
    cr_assert_str_eq(e2.msg, "pickle: internal error: machine already used");
}

/* ================================================================== */
/* Limits                                                               */

Test(pvm, object_limit)
{
    pvm_limits lim = {.max_objects = 3};
    FAILS_LIMITED("]]]].", &lim,
                  "pickle: limit exceeded: more than 3 objects");
    pvm_value *v;
    cr_assert_eq(run("]]].", 4, &lim, &v), C2S_OK, "%s", err.msg);
    /* items copied by set(list) count too */
    FAILS_LIMITED("cbuiltins\012set\012(K\001K\002K\003l\205R.", &lim,
                  "pickle: limit exceeded: more than 3 objects");
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
    FAILS_LIMITED("(NNN.", &stack,
                  "pickle: limit exceeded: more than 3 stack entries");
    pvm_limits items = {.max_container = 2};
    FAILS_LIMITED("](NNNe.", &items,
                  "pickle: limit exceeded: more than 2 items in one container");
    FAILS_LIMITED("(NNNt.", &items,
                  "pickle: limit exceeded: more than 2 items in one container");
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
    expect_int(d->u.dict.keys[N - 1], N - 1);
    expect_int(d->u.dict.vals[N - 1], N);
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
