/*
 * test_hostile.c - the hostile corpus (fixtures/hostile/, MANIFEST.tsv).
 *
 * For every file the manifest names: `--scan --json` must give its verdict,
 * exactly its offending globals (module.name and class, no more, no fewer),
 * and a finding of its kind (a CRC mismatch is damage, in "damage"); the
 * scan's exit code must match the verdict (3 unsafe, 1 corrupt or
 * unreadable, 0 safe); and converting it must exit 3 (unsafe), 1 (corrupt,
 * unreadable, or safe but holding no tensors) or 0 (safe), leaving no file
 * behind unless it succeeded.  Where the manifest records
 * what PyTorch 1.13 did with a file (column torch113, measured when the
 * fixtures were made), our verdict must not be kinder than torch's reading:
 * a payload torch ran is an offender of ours, a file torch refuses is not
 * safe.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>

#include "run_util.h"
#include "test_util.h"

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir();
    cr_assert_not_null(dir);
}
static void teardown(void)
{
    tu_rmdir(dir);
    dir = NULL;
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

typedef struct outcome {
    int code; /* the exit status, or 128 + the signal */
    char *out, *err;
} outcome;

/* Run the program with args (NULL-terminated); capture stdout and stderr. */
static outcome run(const char *const *args)
{
    tr_result r = tr_finish(tr_start(tr_bin(), dir, NULL, args), dir);
    return (outcome){r.signo ? 128 + r.signo : r.code, r.out, r.err};
}

static void outcome_free(outcome *r)
{
    free(r->out);
    free(r->err);
}

/* The text a finding of this kind contains. */
static const char *finding_text(const char *kind)
{
    static const struct {
        const char *kind, *text;
    } KINDS[] = {
        {"after_stop", "bytes after its STOP opcode"},
        {"second_pickle", "several data.pkl records"},
        {"extra_pkl", "extra pickle record"},
        {"duplicate_name", "two zip entries are named"},
        {"header_mismatch", "its local header"},
        {"encrypted", "is encrypted"},
        {"crc", "CRC-32 mismatch"},
        {"front_data", "in front of"},
        {"gap_data", "bytes that belong to no zip entry before entry"},
        {"case_name", "have the same name without regard to case"},
        {"nul_name", "holds a NUL byte"},
        {"bad_local", "has no valid local header"},
        {"bad_zip64", "ZIP64 end record at offset"},
        {"dir_attr", "is marked as a directory yet holds"},
        {"frame_overrun", "before the end of its FRAME"},
        {"torch_reads_other", "torch.load reads this"},
        {"call_not_global", ", not a global"},
        {"sets_attribute", "sets attribute"},
        {"built_twice", "built already"},
        {"global_attrs", "sets attributes of the global"},
        {"own_method", "its object's BUILD state set"},
        {"items_of_object", "changes the items of a"},
    };
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(KINDS[i].kind, kind) == 0)
            return KINDS[i].text;
    cr_assert_fail("unknown finding kind '%s' in MANIFEST.tsv", kind);
    return NULL;
}

/* Every refused global in the report is an offender and vice versa. */
static void check_offenders(const char *file, const cJSON *globals, char *offenders)
{
    size_t expected = 0, refused = 0;
    const cJSON *g;
    cJSON_ArrayForEach(g, globals)
    {
        const char *cls = cJSON_GetObjectItem(g, "class")->valuestring;
        if (strcmp(cls, "dangerous") == 0 || strcmp(cls, "unknown") == 0)
            refused++;
    }
    for (char *tok = strtok(offenders, ","); tok && strcmp(tok, "-") != 0;
         tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        cr_assert_not_null(eq, "%s: bad offender '%s'", file, tok);
        *eq = '\0';
        int found = 0;
        cJSON_ArrayForEach(g, globals)
        {
            char full[600];
            snprintf(full, sizeof full, "%s.%s", cJSON_GetObjectItem(g, "module")->valuestring,
                     cJSON_GetObjectItem(g, "name")->valuestring);
            if (strcmp(full, tok) == 0 &&
                strcmp(cJSON_GetObjectItem(g, "class")->valuestring, eq + 1) == 0)
                found = 1;
        }
        cr_expect(found, "%s: offender %s (%s) not reported", file, tok, eq + 1);
        expected++;
    }
    cr_expect_eq(refused, expected, "%s: %zu refused globals reported, manifest lists %zu", file,
                 refused, expected);
}

static void check_scan(const char *path, const char *verdict, char *offenders, const char *finding)
{
    outcome r = run((const char *const[]){"--scan", "--json", path, NULL});
    int want = strcmp(verdict, "unsafe") == 0 ? 3 : strcmp(verdict, "safe") == 0 ? 0 : 1;
    cr_expect_eq(r.code, want, "%s: --scan exit %d", path, r.code);
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s: --scan --json printed: %s", path, r.out);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "verdict")->valuestring, verdict, "%s", path);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "file")->valuestring, path);
    check_offenders(path, cJSON_GetObjectItem(j, "globals"), offenders);
    const cJSON *fs = cJSON_GetObjectItem(j, "findings"), *f;
    const cJSON *damage = cJSON_GetObjectItem(j, "damage");
    cr_assert(cJSON_IsArray(damage), "%s: no damage array", path);
    if (strcmp(finding, "crc") == 0) { /* damage, not a finding */
        cr_expect_eq(cJSON_GetArraySize(fs), 0, "%s: unexpected findings", path);
        int seen = 0;
        cJSON_ArrayForEach(f, damage) seen |= strstr(f->valuestring, finding_text(finding)) != NULL;
        cr_expect(seen, "%s: no CRC damage", path);
    } else if (strcmp(finding, "-") == 0) {
        cr_expect_eq(cJSON_GetArraySize(fs), 0, "%s: unexpected findings", path);
    } else {
        int seen = 0;
        cJSON_ArrayForEach(f, fs) seen |= strstr(f->valuestring, finding_text(finding)) != NULL;
        cr_expect(seen, "%s: no '%s' finding", path, finding);
    }
    cJSON_Delete(j);
    outcome_free(&r);
}

/* Safe files that hold no checkpoint: converting them fails (exit 1). */
static int holds_no_tensors(const char *path)
{
    static const char *const NAMES[] = {"bare_pickle_clean.pt", "epoch_only.pt",
                                        "epoch_only.pkl",       "safetensors_good.safetensors",
                                        "npy_plain.npy",        "npz_plain.npz"};
    const char *base = strrchr(path, '/') + 1;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(base, NAMES[i]) == 0)
            return 1;
    return 0;
}

static void check_convert(const char *path, const char *verdict)
{
    char *out = tu_path(dir, "out.safetensors");
    outcome r = run((const char *const[]){"-o", out, path, NULL});
    if (strcmp(verdict, "safe") == 0 && holds_no_tensors(path)) {
        cr_expect_eq(r.code, 1, "%s: exit %d: %s", path, r.code, r.err);
        cr_expect(strstr(r.err, "not a PyTorch checkpoint") != NULL ||
                      strstr(r.err, "no tensors") != NULL ||
                      strstr(r.err, "already a safetensors file") != NULL ||
                      strstr(r.err, "a NumPy array file") != NULL,
                  "%s: %s", path, r.err);
    } else if (strcmp(verdict, "safe") == 0) {
        cr_expect_eq(r.code, 0, "%s: exit %d: %s", path, r.code, r.err);
        unlink(out);
    } else {
        char prefix[600];
        snprintf(prefix, sizeof prefix, "ckpt2safetensors: error: %s: %s", path,
                 strcmp(verdict, "unsafe") == 0 ? "refused by the safety policy: " : "");
        cr_expect_eq(r.code, strcmp(verdict, "unsafe") == 0 ? 3 : 1, "%s: exit %d", path, r.code);
        cr_expect(strncmp(r.err, prefix, strlen(prefix)) == 0, "%s: stderr %s", path, r.err);
        cr_expect_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "%s: not one line", path);
    }
    cr_expect_eq(tu_count_entries(dir), 0, "%s left a file behind", path);
    outcome_free(&r);
    free(out);
}

Test(hostile, every_manifest_row)
{
    FILE *m = fopen("fixtures/hostile/MANIFEST.tsv", "r");
    cr_assert_not_null(m, "run from the repository root");
    char line[2048];
    cr_assert_not_null(fgets(line, sizeof line, m)); /* header */
    int rows = 0, unsafe = 0, safe = 0;
    while (fgets(line, sizeof line, m)) {
        char *file = strtok(line, "\t"), *verdict = strtok(NULL, "\t");
        char *offenders = strtok(NULL, "\t"), *finding = strtok(NULL, "\t");
        cr_assert(file && verdict && offenders && finding, "bad MANIFEST row %d", rows + 1);
        char path[512];
        snprintf(path, sizeof path, "fixtures/hostile/%s", file);
        check_convert(path, verdict);
        check_scan(path, verdict, offenders, finding);
        rows++;
        unsafe += strcmp(verdict, "unsafe") == 0;
        safe += strcmp(verdict, "safe") == 0;
    }
    fclose(m);
    cr_assert_geq(rows, 83, "only %d rows", rows);
    cr_assert_geq(unsafe, 50);
    cr_assert_geq(safe, 4);
}

/* The rows PyTorch 1.13 was run on agree with what it did. */
Test(hostile, torch113_column)
{
    FILE *m = fopen("fixtures/hostile/MANIFEST.tsv", "r");
    cr_assert_not_null(m, "run from the repository root");
    char line[2048];
    cr_assert_not_null(fgets(line, sizeof line, m));
    cr_assert_str_eq(line, "file\tverdict\toffenders\tfinding\tdescription\ttorch113\n");
    int measured = 0, ran = 0, refused = 0;
    while (fgets(line, sizeof line, m)) {
        line[strcspn(line, "\n")] = '\0';
        char *cols[6] = {0};
        char *at = line;
        for (int i = 0; i < 6 && at; i++) {
            cols[i] = at;
            at = strchr(at, '\t');
            if (at)
                *at++ = '\0';
        }
        cr_assert_not_null(cols[5], "%s: no torch113 column", cols[0]);
        if (strcmp(cols[5], "-") == 0)
            continue;
        measured++;
        cr_assert(strncmp(cols[5], "loads; ", 7) == 0 || strncmp(cols[5], "refuses: ", 9) == 0,
                  "%s: torch113 '%s' (was torch importable?)", cols[0], cols[5]);
        if (strstr(cols[5], "ran the payload") != NULL) {
            ran++;
            cr_expect_str_eq(cols[1], "unsafe", "%s", cols[0]);
            cr_expect(strcmp(cols[2], "-") != 0,
                      "%s: torch ran the payload, "
                      "the manifest names no offender",
                      cols[0]);
        }
        if (strncmp(cols[5], "refuses: ", 9) == 0) {
            refused++;
            cr_expect_str_neq(cols[1], "safe", "%s", cols[0]);
        }
    }
    fclose(m);
    cr_assert_geq(measured, 11);
    cr_assert_geq(ran, 2);
    cr_assert_geq(refused, 2);
}

/* Exact texts for the families of reading-as-torch-reads fixtures. */
static void expect_scan_text(const char *file, int code, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "fixtures/hostile/%s", file);
    outcome r = run((const char *const[]){"--scan", "-q", path, NULL});
    cr_expect_eq(r.code, code, "%s: exit %d", file, r.code);
    char want[1024];
    snprintf(want, sizeof want, "%s: %s\n", path, text);
    cr_expect_str_eq(r.out, want);
    outcome_free(&r);
}

Test(hostile, read_as_torch_reads)
{
    expect_scan_text("outside_archive_dir.pt", 1,
                     "unreadable: zip entry 'other/readme.txt' is "
                     "outside the archive directory 'archive/': PyTorch refuses such a file");
    expect_scan_text("case_swapped_data_pkl.pt", 3, "unsafe (zip): 1 dangerous global, 1 finding");
    expect_scan_text("case_swapped_storage.pt", 3, "unsafe (zip): 1 finding");
    expect_scan_text("empty_archive_name.pt", 3, "unsafe (zip): 1 dangerous global");
    expect_scan_text("comment_overrun.pt", 0, "safe (zip): 3 globals, none refused");
    expect_scan_text("truncated_extra_field.pt", 0, "safe (zip): 3 globals, none refused");
    expect_scan_text("dos_time_mismatch.pt", 0, "safe (zip): 3 globals, none refused");
    expect_scan_text("nul_in_unread_name.pt", 3, "unsafe (zip): 1 finding");
    expect_scan_text("bad_local_header_unread.pt", 3, "unsafe (zip): 2 findings");
    expect_scan_text("bad_local_header_storage.pt", 3, "unsafe (zip): 2 findings");
    expect_scan_text("bad_zip64_end_record.pt", 3, "unsafe (zip): 2 findings");

    /* the pickle judged is the one torch ran, named as torch names it */
    outcome r = run(
        (const char *const[]){"--scan", "fixtures/hostile/case_swapped_data_pkl.pt", NULL});
    cr_expect(strstr(r.out, "  dangerous  builtins.print                   REDUCE        "
                            "archive/DATA.PKL offset 2\n") != NULL,
              "%s", r.out);
    /* the other one is judged too, under its own name */
    cr_expect(strstr(r.out, "  allowed    collections.OrderedDict          REDUCE        "
                            "archive/data.pkl offset 113\n"
                            "  finding    zip entries 'archive/DATA.PKL' and 'archive/data.pkl' "
                            "have the same name without regard to case (PyTorch finds records "
                            "that way)\n") != NULL,
              "%s", r.out);
    outcome_free(&r);
    r = run((const char *const[]){"--scan", "fixtures/hostile/empty_archive_name.pt", NULL});
    cr_expect(strstr(r.out, "  dangerous  builtins.print  REDUCE        /data.pkl offset 2\n") !=
                  NULL,
              "%s", r.out);
    outcome_free(&r);
    r = run((const char *const[]){"--scan", "fixtures/hostile/bad_zip64_end_record.pt", NULL});
    cr_expect(strstr(r.out, "  finding    the ZIP64 end record at offset 480 has a bad signature "
                            "(PyTorch ignores it and reads the plain end record)\n") != NULL,
              "%s", r.out);
    outcome_free(&r);
    r = run((const char *const[]){"--scan", "fixtures/hostile/bad_local_header_storage.pt", NULL});
    cr_expect(strstr(r.out, "  finding    zip entry 'archive/data/0' has no valid local header "
                            "(bad signature)\n") != NULL,
              "%s", r.out);
    outcome_free(&r);
}

Test(hostile, scan_exit_code_is_the_worst_outcome)
{
    outcome r = run((const char *const[]){"--scan", "-q", "fixtures/sample.ckpt",
                                          "fixtures/bad/not_zip.pt", NULL});
    cr_assert_eq(r.code, 1);
    cr_assert_str_eq(r.out, "fixtures/sample.ckpt: safe (zip): 4 globals, none refused\n"
                            "fixtures/bad/not_zip.pt: unreadable: not a PyTorch checkpoint: "
                            "not a zip archive\n");
    outcome_free(&r);
    r = run((const char *const[]){"--scan", "-q", "fixtures/bad/not_zip.pt",
                                  "fixtures/hostile/reduce_posix_system.pt", "fixtures/sample.ckpt",
                                  NULL});
    cr_assert_eq(r.code, 3);
    outcome_free(&r);
    r = run((const char *const[]){"--scan", "-q", "fixtures/sample.ckpt", NULL});
    cr_assert_eq(r.code, 0);
    outcome_free(&r);
}

Test(hostile, scan_text_report)
{
    outcome r = run(
        (const char *const[]){"--scan", "fixtures/hostile/after_stop_payload.pt", NULL});
    cr_assert_eq(r.code, 3);
    cr_assert_str_eq(
        r.out,
        "fixtures/hostile/after_stop_payload.pt: unsafe (zip): 1 dangerous global, 1 finding\n"
        "  allowed    torch._utils._rebuild_tensor_v2  REDUCE        archive/data.pkl offset 15\n"
        "  allowed    torch.FloatStorage               referenced    archive/data.pkl offset 62\n"
        "  allowed    collections.OrderedDict          REDUCE        archive/data.pkl offset 113\n"
        "  dangerous  posix.system                     sweep         archive/data.pkl offset 146\n"
        "  finding    archive/data.pkl has 61 bytes after its STOP opcode\n");
    cr_assert_str_empty(r.err);
    outcome_free(&r);
}

Test(hostile, refusal_message_names_the_global_and_the_remedy)
{
    char *out = tu_path(dir, "o.safetensors");
    outcome r = run(
        (const char *const[]){"-o", out, "fixtures/hostile/reduce_posix_system.pt", NULL});
    cr_assert_eq(r.code, 3);
    cr_assert(strstr(r.err, "refused by the safety policy: dangerous global posix.system (REDUCE) "
                            "in archive/data.pkl at offset ") != NULL,
              "%s", r.err);
    outcome_free(&r);
    r = run((const char *const[]){"-o", out, "fixtures/good/subclass.pt", NULL});
    cr_assert_eq(r.code, 3);
    cr_assert_str_eq(r.err, "ckpt2safetensors: error: fixtures/good/subclass.pt: refused by the "
                            "safety policy: unknown global __main__.MyTensor (NEWOBJ,BUILD) in "
                            "archive/data.pkl at offset 91; to accept it as data: "
                            "--allow-global __main__.MyTensor\n");
    outcome_free(&r);
    cr_assert_eq(tu_count_entries(dir), 0);
    free(out);
}

Test(hostile, permissive_and_allow_global)
{
    char *out = tu_path(dir, "o.safetensors");
    /* unknown globals: accepted by --permissive or by exact --allow-global */
    outcome r = run(
        (const char *const[]){"-q", "--permissive", "-o", out, "fixtures/good/subclass.pt", NULL});
    cr_assert_eq(r.code, 0, "%s", r.err);
    outcome_free(&r);
    unlink(out);
    r = run((const char *const[]){"-q", "--allow-global", "__main__.MyTensorX", "-o", out,
                                  "fixtures/good/subclass.pt", NULL});
    cr_assert_eq(r.code, 3, "a near name must not allow it");
    outcome_free(&r);
    /* dangerous globals: refused whatever the options */
    r = run((const char *const[]){"--permissive", "--allow-global", "posix.system", "-o", out,
                                  "fixtures/hostile/reduce_posix_system.pt", NULL});
    cr_assert_eq(r.code, 3);
    outcome_free(&r);
    /* structural findings too */
    r = run((const char *const[]){"--permissive", "-o", out, "fixtures/hostile/gap_data.pt", NULL});
    cr_assert_eq(r.code, 3);
    outcome_free(&r);
    cr_assert_eq(tu_count_entries(dir), 0);
    free(out);
}

/* What torch calls beyond the calls of globals (pvm.h's hazards) refuses a
 * file even when every global in it is accepted: each fixture's payload
 * ran under PyTorch 1.13 (MANIFEST.tsv's torch113 column). */
Test(hostile, hazards_refuse_whatever_globals_are_allowed)
{
    static const struct {
        const char *file, *allow, *finding;
    } CASES[] = {
        {"build_setstate_twice.pt", "torch.utils.collect_env.run",
         "archive/data.pkl: BUILD at offset 227 sets attribute '__setstate__' on a dict"},
        {"reduce_on_module_instance.pt", "torch.utils.collect_env.run",
         "archive/data.pkl: REDUCE at offset 354 calls a call, not a global"},
        {"build_global_attributes.pt", "torch.*",
         "archive/data.pkl: BUILD at offset 85 sets attributes of the global torch._utils"},
        {"append_own_extend.pt", "torch.utils.collect_env.run",
         "archive/data.pkl: APPENDS at offset 277 calls the 'extend' its object's BUILD state "
         "set"},
        {"setitem_on_storage.pt", "torch.*",
         "archive/data.pkl: SETITEM at offset 57 changes the items of a persistent id"},
        {"fromtype_state_real.pt", "torch.*",
         "archive/data.pkl: torch._tensor._rebuild_from_type_v2 (REDUCE at offset 336) sets "
         "attribute 'real' on the tensor"},
    };
    char *out = tu_path(dir, "o.safetensors");
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char path[256], want[1024];
        snprintf(path, sizeof path, "fixtures/hostile/%s", CASES[i].file);
        outcome r = run((const char *const[]){"--permissive", "--allow-global", CASES[i].allow,
                                              "-o", out, path, NULL});
        cr_expect_eq(r.code, 3, "%s: exit %d", path, r.code);
        snprintf(want, sizeof want, "ckpt2safetensors: error: %s: refused by the safety policy: %s",
                 path, CASES[i].finding);
        cr_expect(strncmp(r.err, want, strlen(want)) == 0, "%s: %s", path, r.err);
        outcome_free(&r);
    }
    cr_assert_eq(tu_count_entries(dir), 0);
    free(out);
}

/* --scan --json of one fixture, parsed; the exit code in *code. */
static cJSON *scan_json(const char *file, const char *opt, const char *arg, int *code)
{
    char path[256];
    snprintf(path, sizeof path, "fixtures/hostile/%s", file);
    outcome r = opt ? run((const char *const[]){"--scan", "--json", opt, arg, path, NULL})
                    : run((const char *const[]){"--scan", "--json", path, NULL});
    *code = r.code;
    cJSON *j = cJSON_Parse(r.out);
    cr_assert_not_null(j, "%s: %s", file, r.out);
    outcome_free(&r);
    return j;
}

/* The global module.name of the report (NULL when absent). */
static const cJSON *global_named(const cJSON *j, const char *module, const char *name)
{
    const cJSON *g;
    cJSON_ArrayForEach(
        g,
        cJSON_GetObjectItem(j, "globals")) if (strcmp(cJSON_GetObjectItem(g, "module")->valuestring,
                                                      module) == 0 &&
                                               strcmp(cJSON_GetObjectItem(g, "name")->valuestring,
                                                      name) == 0) return g;
    return NULL;
}

/* A machine stopped by a limit still reports what the rest of the pickle
 * names (the sweep), and the limit is the reported error: never a pass. */
Test(hostile, limit_stopped_pickle_is_swept)
{
    int code;
    cJSON *j = scan_json("limit_then_payload.pt", "--max-stack", "100", &code);
    cr_expect_eq(code, 3);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "verdict")->valuestring, "unsafe");
    const cJSON *g = global_named(j, "posix", "system");
    cr_assert_not_null(g);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "class")->valuestring, "dangerous");
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(g, "swept")));
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(g, "uses")), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "pickle")->valuestring, "archive/data.pkl");
    cr_expect(strstr(cJSON_GetObjectItem(j, "error")->valuestring, "--max-stack") != NULL, "%s",
              cJSON_GetObjectItem(j, "error")->valuestring);
    cJSON_Delete(j);
    /* without the limit the machine itself sees the call */
    j = scan_json("limit_then_payload.pt", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    g = global_named(j, "posix", "system");
    cr_assert_not_null(g);
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(g, "swept")));
    cr_expect_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(g, "uses"), 0)->valuestring, "REDUCE");
    cJSON_Delete(j);
}

Test(hostile, every_pickle_is_judged_under_its_name)
{
    int code;
    cJSON *j = scan_json("config_pkl_payload.pt", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    const cJSON *g = global_named(j, "builtins", "print");
    cr_assert_not_null(g);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "pickle")->valuestring, "archive/model/config.pkl");
    cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(g, "swept")));
    cJSON_Delete(j);
    j = scan_json("upper_pkl_payload.pt", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    g = global_named(j, "posix", "system");
    cr_assert_not_null(g);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "pickle")->valuestring, "archive/extra/x.PKL");
    cJSON_Delete(j);
    /* NumPy: an object array's pickle, in a .npy file and in an .npz member */
    j = scan_json("npy_object_payload.npy", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "format")->valuestring, "npy");
    g = global_named(j, "posix", "system");
    cr_assert_not_null(g);
    cr_expect_eq(cJSON_GetObjectItem(g, "offset")->valuedouble, 130); /* header: 128 bytes */
    cJSON_Delete(j);
    j = scan_json("npz_object_payload.npz", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    g = global_named(j, "posix", "system");
    cr_assert_not_null(g);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "pickle")->valuestring, "b.npy");
    cJSON_Delete(j);
    expect_scan_text("npz_plain.npz", 0, "safe (zip): 0 globals, none refused");
    /* a bare stream: the second pickle, after the first STOP, by the sweep */
    j = scan_json("bare_list_then_requests_get.pkl", NULL, NULL, &code);
    cr_expect_eq(code, 3);
    g = global_named(j, "requests.api", "get");
    cr_assert_not_null(g);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(g, "swept")));
    cr_expect_eq(cJSON_GetObjectItem(g, "offset")->valuedouble, 12); /* [1, 2] is 10 bytes */
    cJSON_Delete(j);
}

Test(hostile, damage_is_corrupt_not_unsafe)
{
    expect_scan_text(
        "crc_storage_field.pt", 1,
        "corrupt: archive/data/0: CRC-32 mismatch "
        "(archive says e0845754, data gives 1f7ba8ab): the file was altered or damaged");
    expect_scan_text("safetensors_good.safetensors", 0,
                     "safe (safetensors): 0 globals, none "
                     "refused");
    expect_scan_text("safetensors_corrupt.safetensors", 1,
                     "corrupt: safetensors header: "
                     "safetensors: the tensors end at 8 but the data buffer holds 6 bytes");
    expect_scan_text("truncated_download.pt", 1,
                     "corrupt: corrupt zip archive: no end of "
                     "central directory record (truncated?)");
    char *out = tu_path(dir, "o.safetensors");
    outcome r = run((const char *const[]){"-o", out, "fixtures/hostile/crc_data_pkl.pt", NULL});
    cr_expect_eq(r.code, 1);
    cr_expect(strstr(r.err, "archive/data.pkl: CRC-32 mismatch") != NULL, "%s", r.err);
    outcome_free(&r);
    cr_expect_eq(tu_count_entries(dir), 0);
    free(out);
}

Test(hostile, named_references_and_pickles_without_tensors)
{
    /* only named, yet unknown: torch calls values a pickle hands it */
    expect_scan_text("torch_function_reference.pt", 3, "unsafe (zip): 1 unknown global");
    expect_scan_text("os_system_reference.pt", 3, "unsafe (zip): 1 dangerous global");
    expect_scan_text("epoch_only.pkl", 0,
                     "safe (not a zip (legacy load path)): 0 globals, none "
                     "refused");
    int code;
    cJSON *j = scan_json("torch_function_reference.pt", NULL, NULL, &code);
    const cJSON *g = global_named(j, "torch.nn.functional", "relu");
    cr_assert_not_null(g);
    cr_expect_str_eq(cJSON_GetObjectItem(g, "class")->valuestring, "unknown");
    cJSON_Delete(j);
    j = scan_json("epoch_only.pt", NULL, NULL, &code);
    cr_expect_eq(code, 0);
    cr_expect_str_eq(cJSON_GetObjectItem(j, "verdict")->valuestring, "safe");
    cr_expect_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
                     "no tensors found under the top level");
    cJSON_Delete(j);
}
