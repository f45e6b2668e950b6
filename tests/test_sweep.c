/*
 * test_sweep.c - Criterion tests for the global sweep (src/pickle/sweep.c).
 *
 * Each pickle is a C literal; the offsets in the expectations are those
 * pickletools.genops (CPython 3.11) gives for the same bytes.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "pickle/sweep.h"

static sweep_report rep;

static void teardown(void)
{
    sweep_report_free(&rep);
}

TestSuite(sweep, .fini = teardown);

static void sweep(const void *data, size_t len, size_t start, const sweep_options *o)
{
    c2s_error err;
    c2s_error_clear(&err);
    sweep_report_free(&rep);
    cr_assert_eq(sweep_pickle(data, len, start, o, &rep, &err), C2S_OK, "%s", err.msg);
}

#define SWEEP(lit) sweep(lit, sizeof(lit) - 1, 0, NULL)

static void expect_text(const uint8_t *p, size_t n, const char *s)
{
    if (s == NULL) {
        cr_assert_null(p);
        return;
    }
    cr_assert_not_null(p, "expected '%s'", s);
    cr_assert(n == strlen(s) && memcmp(p, s, n) == 0, "'%.*s', expected '%s'", (int)n,
              (const char *)p, s);
}

static void expect_global(size_t i, sweep_op op, size_t offset, const char *module,
                          const char *name)
{
    cr_assert_lt(i, rep.count, "only %zu globals", rep.count);
    const sweep_global *g = &rep.globals[i];
    cr_assert_eq(g->op, op);
    cr_assert_eq(g->offset, offset, "offset %zu, expected %zu", g->offset, offset);
    expect_text(g->module, g->module_len, module);
    expect_text(g->name, g->name_len, name);
}

Test(sweep, global_and_inst_lines)
{
    /* protocol 2: PROTO 2, GLOBAL collections OrderedDict, EMPTY_TUPLE,
     * REDUCE, then INST os system with a MARK */
    SWEEP("\200\002ccollections\012OrderedDict\012)R(ios\012system\012.");
    cr_assert_eq(rep.count, 2);
    expect_global(0, SWEEP_GLOBAL, 2, "collections", "OrderedDict");
    expect_global(1, SWEEP_INST, 30, "os", "system");
    cr_assert_eq(rep.globals[0].proto, 2);
    cr_assert_eq(rep.globals[1].after_resync, 0);
    cr_assert_eq(rep.resyncs, 0);
    cr_assert_eq(rep.end, 42);
}

Test(sweep, stack_global_takes_the_last_two_str)
{
    /* protocol 4 as pickle.dumps writes torch.Size: FRAME, SHORT_BINUNICODE
     * torch, MEMOIZE, SHORT_BINUNICODE Size, MEMOIZE, STACK_GLOBAL */
    SWEEP("\200\004\225\021\000\000\000\000\000\000\000"
          "\214\005torch\224\214\004Size\224\223\224.");
    cr_assert_eq(rep.count, 1);
    expect_global(0, SWEEP_STACK_GLOBAL, 26, "torch", "Size");
    cr_assert(rep.globals[0].adjacent);
    cr_assert_eq(rep.globals[0].proto, 4);
}

Test(sweep, stack_global_through_the_memo)
{
    /* "torch" memoized as 0, fetched again by BINGET for a second global;
     * BINUNICODE and UNICODE text count as str too */
    SWEEP("\214\005torch\224\214\001a\223h\000X\001\000\000\000b\223"
          "Vos\012Vpath\012\223.");
    cr_assert_eq(rep.count, 3);
    expect_global(0, SWEEP_STACK_GLOBAL, 11, "torch", "a");
    expect_global(1, SWEEP_STACK_GLOBAL, 20, "torch", "b");
    expect_global(2, SWEEP_STACK_GLOBAL, 31, "os", "path");
    cr_assert(rep.globals[1].adjacent && rep.globals[2].adjacent);
}

Test(sweep, stack_global_operands_not_certain)
{
    /* a POP between: the last two str pushes are reported, not adjacent */
    SWEEP("\214\001aK\001\214\001b0\223.");
    cr_assert_eq(rep.count, 1);
    expect_global(0, SWEEP_STACK_GLOBAL, 9, "a", "b");
    cr_assert_not(rep.globals[0].adjacent);
    /* no str at all, then only one */
    SWEEP("K\001K\002\223.");
    expect_global(0, SWEEP_STACK_GLOBAL, 4, NULL, NULL);
    SWEEP("\214\001xK\002\223.");
    expect_global(0, SWEEP_STACK_GLOBAL, 5, NULL, "x");
    /* escaped text is not the str itself: not determinable */
    SWEEP("V\\u0061\012Vb\012\223.");
    expect_global(0, SWEEP_STACK_GLOBAL, 11, NULL, "b");
}

Test(sweep, unknown_opcode_resynchronises)
{
    /* NONE, an unknown byte 0xff and junk, then GLOBAL os system */
    SWEEP("N\377zz\000cos\012system\012.");
    cr_assert_eq(rep.resyncs, 1);
    cr_assert_eq(rep.count, 1);
    expect_global(0, SWEEP_GLOBAL, 5, "os", "system");
    cr_assert(rep.globals[0].after_resync);

    /* a STACK_GLOBAL pattern after junk: two short str pushes, memoized */
    SWEEP("\000\001\002\214\002os\224\214\006system\224\223.");
    cr_assert_eq(rep.resyncs, 1);
    expect_global(0, SWEEP_STACK_GLOBAL, 17, "os", "system");
    cr_assert(rep.globals[0].adjacent);

    /* text that only looks like an opcode is skipped: 'c' without names */
    SWEEP("\377c\012\012cbuiltins\012eval\012.");
    cr_assert_eq(rep.count, 1);
    expect_global(0, SWEEP_GLOBAL, 4, "builtins", "eval");
}

Test(sweep, stops_at_stop_unless_asked)
{
    static const char p[] = "cmod\012A\012.cmod\012B\012.";
    SWEEP(p);
    cr_assert_eq(rep.count, 1);
    cr_assert_eq(rep.end, 8);
    sweep_options o = {.past_stop = 1};
    sweep(p, sizeof p - 1, 0, &o);
    cr_assert_eq(rep.count, 2);
    expect_global(1, SWEEP_GLOBAL, 8, "mod", "B");
    cr_assert_eq(rep.end, 16);
    /* and starts where it is told */
    sweep(p, sizeof p - 1, 8, NULL);
    cr_assert_eq(rep.count, 1);
    expect_global(0, SWEEP_GLOBAL, 8, "mod", "B");
}

Test(sweep, arguments_are_skipped_by_their_encoding)
{
    /* every argument below contains a 'c' and newlines that a byte scan
     * would take for GLOBAL; none is one */
    SWEEP("C\007cx\012y\012z\012"                         /* SHORT_BINBYTES */
          "B\006\000\000\000cx\012y\012\012"              /* BINBYTES */
          "X\006\000\000\000cx\012y\012\012"              /* BINUNICODE */
          "\212\002c\012"                                 /* LONG1 */
          "J\143\012\012\012"                             /* BININT */
          "G\143\012\143\012\143\012\143\012"             /* BINFLOAT */
          "\226\003\000\000\000\000\000\000\000c\012\012" /* BYTEARRAY8 */
          "S'cx'\012"                                     /* STRING line */
          "cmod\012Real\012.");
    cr_assert_eq(rep.count, 1);
    cr_assert_eq(rep.resyncs, 0);
    expect_global(0, SWEEP_GLOBAL, 67, "mod", "Real");
}

Test(sweep, truncated_and_limited)
{
    SWEEP("cmod\012A\012X\377\000\000\000ab");
    cr_assert_eq(rep.count, 1);
    cr_assert(rep.truncated);
    cr_assert_eq(rep.end, 14);
    SWEEP("cmod\012A");
    cr_assert_eq(rep.count, 0);
    cr_assert(rep.truncated);

    sweep_options o = {.max_globals = 2};
    static const char p[] = "cm\012a\012cm\012b\012cm\012c\012.";
    sweep(p, sizeof p - 1, 0, &o);
    cr_assert_eq(rep.count, 2);
    cr_assert(rep.limited);
    cr_assert_eq(rep.end, 10);
}

Test(sweep, empty_input)
{
    SWEEP("");
    cr_assert_eq(rep.count, 0);
    cr_assert_eq(rep.end, 0);
    sweep("N.", 2, 5, NULL); /* start past the end */
    cr_assert_eq(rep.count, 0);
    cr_assert_eq(rep.end, 2);
}
