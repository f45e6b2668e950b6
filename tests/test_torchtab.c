/*
 * test_torchtab.c - the table of PyTorch globals (src/torch/torchtab.h) and
 * the modules that read it: the table is sorted so that its binary search
 * finds every row; every column fits its row's role; every storage class
 * maps to the element type its name says, exactly as the dtype object of
 * that type does; the dtype module's lookups give the table's answers; and
 * the safety policy, given torchtab_allowed(), classifies as allowed
 * exactly the rows marked allowed and nothing outside the table.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "pickle/policy.h"
#include "torch/dtype.h"
#include "torch/torchtab.h"

TestSuite(torchtab);

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int compare_rows(const torch_global *a, const torch_global *b)
{
    int c = strcmp(a->module, b->module);
    return c != 0 ? c : strcmp(a->name, b->name);
}

static size_t count_role(torch_role role)
{
    size_t n = 0;
    for (size_t i = 0; i < torchtab_count(); i++)
        n += torchtab_row(i)->role == role;
    return n;
}

/* ---- the table itself ------------------------------------------------------ */

Test(torchtab, rows_sorted_without_duplicates)
{
    cr_assert_gt(torchtab_count(), 0);
    for (size_t i = 1; i < torchtab_count(); i++) {
        const torch_global *a = torchtab_row(i - 1), *b = torchtab_row(i);
        cr_expect_lt(compare_rows(a, b), 0, "row %zu (%s.%s) must come after row %zu (%s.%s)",
                     i - 1, a->module, a->name, i, b->module, b->name);
    }
    cr_assert_null(torchtab_row(torchtab_count()));
}

Test(torchtab, find_returns_every_row)
{
    for (size_t i = 0; i < torchtab_count(); i++) {
        const torch_global *g = torchtab_row(i);
        cr_expect_eq(torchtab_find(g->module, g->name), g, "%s.%s not found", g->module, g->name);
    }
}

Test(torchtab, find_matches_exactly)
{
    static const struct {
        const char *module, *name;
    } misses[] = {
        {"torch", "floatstorage"},
        {"torch", "FloatStorageX"},
        {"torch", "FloatStorag"},
        {"torch.cuda", "FloatStorage"},
        {"torch.storage", "FloatStorage"},
        {"torch", "Storage"},
        {"torch", "TypedStorage"},
        {"torch", ""},
        {"", "Size"},
        {"torchx", "Size"},
        {"torch", "size"},
        {"Torch", "Size"},
        {"torch._utils", "_rebuild_tensor_v4"},
        {"torch._utils", "_rebuild_tenso"},
        {"torch", "_rebuild_tensor_v2"},
        {"torch._utils", "Size"},
        {"torch", "load"},
        {"collections", "OrderedDict"},
        {"torch.nn", "Parameter"},
        {"torch", "Parameter"},
        {"torch", "float128"},
    };
    for (size_t i = 0; i < COUNT(misses); i++)
        cr_expect_null(torchtab_find(misses[i].module, misses[i].name), "%s.%s found",
                       misses[i].module, misses[i].name);
}

Test(torchtab, columns_fit_the_role)
{
    for (size_t i = 0; i < torchtab_count(); i++) {
        const torch_global *g = torchtab_row(i);
        switch (g->role) {
        case TORCH_REBUILD:
            cr_expect_neq(g->rebuild, TORCH_RB_NONE, "%s.%s", g->module, g->name);
            cr_expect_eq(g->dtype, -1, "%s.%s", g->module, g->name);
            /* a reason exactly when the tensor cannot be converted */
            cr_expect_eq(g->why != NULL, g->rebuild == TORCH_RB_UNSUPPORTED, "%s.%s", g->module,
                         g->name);
            /* what the converter reads, the policy accepts */
            if (g->rebuild != TORCH_RB_UNSUPPORTED)
                cr_expect_eq(g->allowed, 1, "%s.%s", g->module, g->name);
            break;
        case TORCH_STORAGE:
        case TORCH_DTYPE:
            cr_expect_eq(g->rebuild, TORCH_RB_NONE, "%s.%s", g->module, g->name);
            cr_expect_str_eq(g->module, "torch");
            if (g->dtype >= 0)
                cr_expect(g->dtype < C2S_DTYPE_COUNT && g->why == NULL, "%s.%s", g->module,
                          g->name);
            else
                cr_expect(g->dtype == -1 && g->why != NULL && *g->why != '\0', "%s.%s", g->module,
                          g->name);
            break;
        default:
            cr_expect_eq(g->rebuild, TORCH_RB_NONE, "%s.%s", g->module, g->name);
            cr_expect_eq(g->dtype, -1, "%s.%s", g->module, g->name);
            cr_expect_null(g->why, "%s.%s", g->module, g->name);
            cr_expect_eq(g->allowed, 1, "%s.%s", g->module, g->name);
        }
        if (g->role == TORCH_STORAGE)
            cr_expect_eq(g->allowed, 1, "%s.%s", g->module, g->name);
    }
}

Test(torchtab, role_counts_and_names)
{
    cr_assert_eq(count_role(TORCH_REBUILD), 17);
    cr_assert_eq(count_role(TORCH_STORAGE), 18);
    cr_assert_eq(count_role(TORCH_DTYPE), 55);
    cr_assert_eq(count_role(TORCH_LAYOUT), 6);
    cr_assert_eq(count_role(TORCH_QSCHEME), 5);
    cr_assert_eq(count_role(TORCH_SIZE), 1);
    cr_assert_eq(count_role(TORCH_INERT), 4);
    cr_assert_eq(count_role(TORCH_MODULE), 155);
    cr_assert_eq(torchtab_count(), 261);
    const torch_global *size = torchtab_find("torch", "Size");
    cr_assert_not_null(size);
    cr_assert_eq(size->role, TORCH_SIZE);
    cr_assert_str_eq(torchtab_role_name(TORCH_REBUILD), "rebuild");
    cr_assert_str_eq(torchtab_role_name(TORCH_STORAGE), "storage");
    cr_assert_str_eq(torchtab_role_name(TORCH_DTYPE), "dtype");
    cr_assert_str_eq(torchtab_role_name(TORCH_LAYOUT), "layout");
    cr_assert_str_eq(torchtab_role_name(TORCH_QSCHEME), "qscheme");
    cr_assert_str_eq(torchtab_role_name(TORCH_SIZE), "size");
    cr_assert_str_eq(torchtab_role_name(TORCH_INERT), "inert");
    cr_assert_str_eq(torchtab_role_name(TORCH_MODULE), "module");
}

Test(torchtab, rebuild_kinds)
{
    static const struct {
        const char *module, *name;
        torch_rebuild kind;
    } rows[] = {
        {"torch._utils", "_rebuild_tensor", TORCH_RB_V1},
        {"torch._utils", "_rebuild_tensor_v2", TORCH_RB_V2},
        {"torch._utils", "_rebuild_tensor_v3", TORCH_RB_V3},
        {"torch._utils", "_rebuild_parameter", TORCH_RB_PARAM},
        {"torch._utils", "_rebuild_parameter_with_state", TORCH_RB_PARAM},
        {"torch._tensor", "_rebuild_from_type", TORCH_RB_FROM_TYPE},
        {"torch._tensor", "_rebuild_from_type_v2", TORCH_RB_FROM_TYPE},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const torch_global *g = torchtab_find(rows[i].module, rows[i].name);
        cr_assert_not_null(g, "%s.%s", rows[i].module, rows[i].name);
        cr_expect_eq(g->role, TORCH_REBUILD);
        cr_expect_eq(g->rebuild, rows[i].kind, "%s.%s", rows[i].module, rows[i].name);
    }
    const torch_global *q = torchtab_find("torch._utils", "_rebuild_qtensor");
    cr_assert_not_null(q);
    cr_expect_eq(q->rebuild, TORCH_RB_QTENSOR);
    cr_expect_eq(q->allowed, 1);
    cr_expect_null(q->why);
}

/* ---- storage classes and dtypes ------------------------------------------- */

/* Each storage class and the dtype object of the element type it names
 * (legacy names: Char is int8, Byte uint8; an untyped storage counts bytes). */
static const struct {
    const char *storage, *dtype;
} STORAGE_DTYPES[] = {
    {"DoubleStorage", "float64"},
    {"FloatStorage", "float32"},
    {"HalfStorage", "float16"},
    {"BFloat16Storage", "bfloat16"},
    {"LongStorage", "int64"},
    {"IntStorage", "int32"},
    {"ShortStorage", "int16"},
    {"CharStorage", "int8"},
    {"ByteStorage", "uint8"},
    {"UntypedStorage", "uint8"},
    {"BoolStorage", "bool"},
    {"ComplexFloatStorage", "complex64"},
    {"ComplexDoubleStorage", "complex128"},
    {"QInt8Storage", "qint8"},
    {"QUInt8Storage", "quint8"},
    {"QInt32Storage", "qint32"},
    {"QUInt4x2Storage", "quint4x2"},
    {"QUInt2x4Storage", "quint2x4"},
};

Test(torchtab, every_storage_class_maps_to_the_dtype_it_names)
{
    cr_assert_eq(COUNT(STORAGE_DTYPES), count_role(TORCH_STORAGE),
                 "a storage row was added: list the dtype it names here");
    for (size_t i = 0; i < COUNT(STORAGE_DTYPES); i++) {
        const char *sname = STORAGE_DTYPES[i].storage, *dname = STORAGE_DTYPES[i].dtype;
        const torch_global *s = torchtab_find("torch", sname), *d = torchtab_find("torch", dname);
        cr_assert(s != NULL && s->role == TORCH_STORAGE, "%s", sname);
        cr_assert(d != NULL && d->role == TORCH_DTYPE, "%s", dname);
        cr_expect_eq(s->dtype, d->dtype, "%s gives %d, torch.%s %d", sname, s->dtype, dname,
                     d->dtype);
        if (s->dtype < 0)
            cr_expect_str_eq(s->why, d->why, "%s", sname);
    }
}

/* The dtype module answers from the table, for every row and only for rows
 * of the role asked about. */
Test(torchtab, dtype_lookups_read_the_table)
{
    for (size_t i = 0; i < torchtab_count(); i++) {
        const torch_global *g = torchtab_row(i);
        int is_torch = strcmp(g->module, "torch") == 0;
        for (int storage = 0; storage <= 1; storage++) {
            c2s_dtype dt = C2S_DTYPE_COUNT;
            const char *why = NULL;
            c2s_dtype_lookup got = storage ? c2s_dtype_from_storage_class(g->name, &dt, &why)
                                           : c2s_dtype_from_torch_name(g->name, &dt, &why);
            torch_role role = storage ? TORCH_STORAGE : TORCH_DTYPE;
            if (!is_torch || g->role != role) {
                /* other modules' names are not torch.<name> */
                if (is_torch)
                    cr_expect_eq(got, C2S_DTYPE_UNKNOWN, "%s.%s", g->module, g->name);
                continue;
            }
            if (g->dtype >= 0) {
                cr_expect_eq(got, C2S_DTYPE_FOUND, "%s", g->name);
                cr_expect_eq((int)dt, g->dtype, "%s", g->name);
            } else {
                cr_expect_eq(got, C2S_DTYPE_UNSUPPORTED, "%s", g->name);
                cr_expect_str_eq(why, g->why, "%s", g->name);
            }
        }
    }
    c2s_dtype dt;
    cr_expect_eq(c2s_dtype_from_storage_class("float32", &dt, NULL), C2S_DTYPE_UNKNOWN);
    cr_expect_eq(c2s_dtype_from_torch_name("FloatStorage", &dt, NULL), C2S_DTYPE_UNKNOWN);
    cr_expect_eq(c2s_dtype_from_torch_name("Size", &dt, NULL), C2S_DTYPE_UNKNOWN);
    cr_expect_eq(c2s_dtype_from_torch_name("strided", &dt, NULL), C2S_DTYPE_UNKNOWN);
}

/* Every element type has an allowed dtype row in the table (the canonical
 * name torch.save writes), so every type the writer knows can be read. */
Test(torchtab, every_dtype_has_an_allowed_canonical_row)
{
    for (int d = 0; d < C2S_DTYPE_COUNT; d++) {
        int found = 0;
        for (size_t i = 0; i < torchtab_count(); i++) {
            const torch_global *g = torchtab_row(i);
            found += g->role == TORCH_DTYPE && g->dtype == d && g->allowed &&
                     strcmp(g->module, "torch") == 0;
        }
        cr_expect_geq(found, 1, "no allowed torch dtype row for %s", c2s_dtype_name((c2s_dtype)d));
    }
}

/* ---- the policy's classifier ----------------------------------------------- */

Test(torchtab, policy_allows_exactly_the_allowed_rows)
{
    for (size_t i = 0; i < torchtab_count(); i++) {
        const torch_global *g = torchtab_row(i);
        c2s_global_class got = policy_classify(g->module, g->name, torchtab_allowed, NULL);
        c2s_global_class want = g->allowed ? C2S_GLOBAL_ALLOWED : C2S_GLOBAL_UNKNOWN;
        cr_expect_eq(got, want, "%s.%s (%s): %s", g->module, g->name, torchtab_role_name(g->role),
                     c2s_global_class_name(got));
        cr_expect_eq(torchtab_allowed(g->module, g->name), g->allowed, "%s.%s", g->module, g->name);
        /* without the table, no PyTorch name is allowed */
        got = policy_classify(g->module, g->name, NULL, NULL);
        cr_expect_eq(got, C2S_GLOBAL_UNKNOWN, "%s.%s without the table: %s", g->module, g->name,
                     c2s_global_class_name(got));
    }
}

Test(torchtab, recognised_rows_not_allowed)
{
    static const struct {
        const char *module, *name;
    } rows[] = {
        {"torch._utils", "_rebuild_wrapper_subclass"},
        {"torch._utils", "_rebuild_device_tensor_from_numpy"},
        {"torch._utils", "_rebuild_device_tensor_from_cpu_tensor"},
        {"torch._utils", "_rebuild_xla_tensor"},
        {"torch._utils", "_rebuild_mlc_tensor"},
        {"torch", "double"},
        {"torch", "float"},
        {"torch", "half"},
        {"torch", "long"},
        {"torch", "int"},
        {"torch", "short"},
        {"torch", "cfloat"},
        {"torch", "cdouble"},
        {"torch", "chalf"},
        {"torch", "float4_e2m1fn_x2"},
        {"torch", "bits8"},
        {"torch", "uint4"},
        {"torch", "int4"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const torch_global *g = torchtab_find(rows[i].module, rows[i].name);
        cr_assert_not_null(g, "%s.%s", rows[i].module, rows[i].name);
        cr_expect_eq(g->allowed, 0, "%s.%s", rows[i].module, rows[i].name);
        cr_expect_eq(policy_classify(rows[i].module, rows[i].name, torchtab_allowed, NULL),
                     C2S_GLOBAL_UNKNOWN, "%s.%s", rows[i].module, rows[i].name);
    }
}

Test(torchtab, pairs_outside_the_table_not_allowed)
{
    static const struct {
        const char *module, *name;
        c2s_global_class want;
    } rows[] = {
        {"torch.cuda", "FloatStorage", C2S_GLOBAL_UNKNOWN},
        {"torch.storage", "FloatStorage", C2S_GLOBAL_UNKNOWN},
        {"torch", "TypedStorage", C2S_GLOBAL_UNKNOWN},
        {"torch", "FloatStorageX", C2S_GLOBAL_UNKNOWN},
        {"torch", "float128", C2S_GLOBAL_UNKNOWN},
        {"torch", "size", C2S_GLOBAL_UNKNOWN},
        {"torchx", "Size", C2S_GLOBAL_UNKNOWN},
        {"torch._utils", "_rebuild_tensor_v4", C2S_GLOBAL_UNKNOWN},
        {"torch.nn", "Parameter", C2S_GLOBAL_UNKNOWN},
        {"torch", "load", C2S_GLOBAL_DANGEROUS},
        {"torch._utils", "_import_dotted_name", C2S_GLOBAL_DANGEROUS},
        {"torch", "cuda.FloatStorage", C2S_GLOBAL_DANGEROUS},
        {"torch", "__builtins__", C2S_GLOBAL_DANGEROUS},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        cr_expect_eq(torchtab_allowed(rows[i].module, rows[i].name), 0, "%s.%s", rows[i].module,
                     rows[i].name);
        c2s_global_class got = policy_classify(rows[i].module, rows[i].name, torchtab_allowed,
                                               NULL);
        cr_expect_eq(got, rows[i].want, "%s.%s: %s", rows[i].module, rows[i].name,
                     c2s_global_class_name(got));
    }
}
