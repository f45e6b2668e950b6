/*
 * test_torchdiff.c - files the differential campaign against the real
 * torch.load (tests/diff/torch_diff.py) found read differently by us and by
 * PyTorch 1.13, each with the exact verdict, exit codes and message we now
 * give.  The files are in fixtures/hostile/ (made by make_hostile.py, whose
 * MANIFEST.tsv records what torch 1.13 did with each; test_hostile.c checks
 * the offenders and findings of every row).
 */
#include <criterion/criterion.h>

#include "run_util.h"
#include "test_util.h"

TU_SUITE_WITH_DIR(torchdiff);

typedef struct outcome {
    int code;
    char *out, *err;
} outcome;

static outcome run(const char *const *args)
{
    tr_result r = tr_finish(tr_start(tr_bin(), dir, NULL, args), dir);
    return (outcome){r.signo ? 128 + r.signo : r.code, r.out, r.err};
}

/* `--scan -q` says line (after "PATH: ") with exit code scan_code; a plain
 * conversion to DIR/out.safetensors exits convert_code with the message
 * error (after "PATH: "), leaving no output file. */
static void expect(const char *file, int scan_code, const char *line, int convert_code,
                   const char *error)
{
    char path[256], want[2048], out[512];
    snprintf(path, sizeof path, "fixtures/hostile/%s", file);
    outcome r = run((const char *const[]){"--scan", "-q", path, NULL});
    cr_expect_eq(r.code, scan_code, "%s: scan exit %d", file, r.code);
    snprintf(want, sizeof want, "%s: %s\n", path, line);
    cr_expect_str_eq(r.out, want);
    free(r.out);
    free(r.err);
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    r = run((const char *const[]){"-o", out, path, NULL});
    cr_expect_eq(r.code, convert_code, "%s: convert exit %d", file, r.code);
    snprintf(want, sizeof want, "ckpt2safetensors: error: %s: %s\n", path, error);
    cr_expect_str_eq(r.err, want);
    cr_expect_eq(access(out, F_OK), -1, "%s: an output was left", file);
    free(r.out);
    free(r.err);
}

/* torch.load takes these for tars (Python's tarfile accepts a checksum
 * written with a leading space, or the signed sum of the header's bytes)
 * and unpickles the member "storages"; the name field starts a clean legacy
 * stream that a reader not taking the file for a tar converts. */
Test(torchdiff, tar_checksums_tarfile_accepts)
{
    const char *refusal = "refused by the safety policy: dangerous global builtins.print "
                          "(sweep) in tar member storages at offset 1538";
    expect("tar_signed_checksum.pth", 3,
           "unsafe (not a zip (legacy load path)): 1 dangerous global", 3, refusal);
    expect("tar_space_checksum.pth", 3, "unsafe (not a zip (legacy load path)): 1 dangerous global",
           3, refusal);
}

/* miniz "extracts" an entry whose DOS attributes say directory without
 * reading a byte: torch's tensor (or pickle) is an uninitialised buffer,
 * while zip tools and a plain reading see the record's bytes. */
Test(torchdiff, dos_directory_attribute)
{
    expect("dir_attr_storage.pt", 3, "unsafe (zip): 1 finding", 3,
           "refused by the safety policy: zip entry 'archive/data/0' is marked as a directory "
           "yet holds 16 bytes (PyTorch reads none of them)");
    expect("dir_attr_pickle.pt", 3, "unsafe (zip): 1 finding", 3,
           "refused by the safety policy: zip entry 'archive/data.pkl' is marked as a directory "
           "yet holds 144 bytes (PyTorch reads none of them)");
}

/* A legacy pickle that stops inside its protocol-4 FRAME: CPython reads a
 * frame longer than the file's buffer whole, so torch.load's next
 * pickle.load starts at the frame's end (a sys_info payload here), not
 * after the STOP (a clean checkpoint). */
Test(torchdiff, legacy_pickle_stops_inside_its_frame)
{
    expect("legacy_frame_overrun.pth", 3,
           "unsafe (not a zip (legacy load path)): 1 dangerous global, 1 finding", 3,
           "refused by the safety policy: dangerous global builtins.print (sweep) in file at "
           "offset 12019; the pickle at offset 0 stops 11987 bytes before the end of its FRAME "
           "(torch.load reads on from the STOP or from the frame's end, as its read buffer "
           "happens to be)");
}

/* torch.load knows no safetensors file or TensorFlow index: it reads them
 * down its legacy path, a tar first, then pickles from byte 0.  A valid
 * file of those formats can be a tar of payloads or a legacy stream too. */
Test(torchdiff, other_formats_as_torch_load_reads_them)
{
    expect("safetensors_tar.safetensors", 3, "unsafe (safetensors): 1 dangerous global, 1 finding",
           3,
           "refused by the safety policy: dangerous global builtins.print (sweep) in tar member "
           "storages at offset 1026; torch.load reads this safetensors file as a tar of pickles "
           "(Python's tarfile takes its first 512 bytes)");
    expect("tf_index_legacy.index", 3, "unsafe (TensorFlow bundle): 1 dangerous global, 1 finding",
           3,
           "refused by the safety policy: dangerous global builtins.print (sweep) in file at "
           "offset 23; torch.load reads this TensorFlow bundle file as a legacy checkpoint: it "
           "starts with the legacy magic number");

    /* with its data shard beside it, the bundle is whole: still unsafe */
    char *index = tu_path(dir, "m.index"), *shard = tu_path(dir, "m.data-00000-of-00001");
    size_t n = 0;
    unsigned char *raw = tu_read("fixtures/hostile/tf_index_legacy.index", &n);
    cr_assert_not_null(raw);
    cr_assert_eq(tu_write(index, raw, n), 0);
    cr_assert_eq(tu_write(shard, "", 0), 0);
    free(raw);
    outcome r = run((const char *const[]){"--scan", "-q", index, NULL});
    cr_expect_eq(r.code, 3);
    char want[1024];
    snprintf(want, sizeof want, "%s: unsafe (TensorFlow bundle): 1 dangerous global, 1 finding\n",
             index);
    cr_expect_str_eq(r.out, want);
    free(r.out);
    free(r.err);
    free(index);
    free(shard);
}

/* A genuine safetensors file whose header length starts as a pickle: 0x2e4e
 * is "N." (None, then STOP), which torch.load unpickles and then refuses
 * for its wrong magic number; 0x0a63 is GLOBAL, whose module line (the
 * length's other bytes and the JSON) no __import__ could find.  Both are
 * safe. */
Test(torchdiff, safetensors_whose_length_reads_as_a_pickle)
{
    static const uint64_t LENGTHS[] = {0x2e4e, 0x0a63};
    for (size_t k = 0; k < 2; k++) {
        const char *head = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        size_t n = (size_t)LENGTHS[k], total = 8 + n + 4;
        unsigned char *b = malloc(total);
        cr_assert_not_null(b);
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)(LENGTHS[k] >> (8 * i));
        memset(b + 8, ' ', n);
        memcpy(b + 8, head, strlen(head));
        memcpy(b + 8 + n, "\n\0\0\n", 4); /* the tensor's bytes: two newlines */
        char *path = tu_path(dir, "m.safetensors");
        cr_assert_eq(tu_write(path, b, total), 0);
        free(b);
        outcome r = run((const char *const[]){"--scan", "-q", path, NULL});
        char want[1024];
        snprintf(want, sizeof want, "%s: safe (safetensors): 0 globals, none refused\n", path);
        cr_expect_eq(r.code, 0, "length 0x%llx", (unsigned long long)LENGTHS[k]);
        cr_expect_str_eq(r.out, want);
        free(r.out);
        free(r.err);
        free(path);
    }
}

/* A pickle at the start of a TensorFlow index that goes past one of the
 * reader's limits (here lowered to 100 items): Python reads on and calls
 * builtins.print; the reader sweeps the file and refuses it. */
Test(torchdiff, first_pickle_past_a_limit)
{
    const char *path = "fixtures/hostile/tf_index_past_limit.index";
    outcome r = run((const char *const[]){"--scan", "-q", "--max-container", "100", path, NULL});
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.out, "fixtures/hostile/tf_index_past_limit.index: unsafe (TensorFlow "
                            "bundle): 1 dangerous global, 1 finding\n");
    free(r.out);
    free(r.err);
    char out[512];
    snprintf(out, sizeof out, "%s/out.safetensors", dir);
    r = run((const char *const[]){"--max-container", "100", "-o", out, path, NULL});
    cr_expect_eq(r.code, 3);
    cr_expect_str_eq(r.err, "ckpt2safetensors: error: fixtures/hostile/tf_index_past_limit.index: "
                            "refused by the safety policy: dangerous global builtins.print "
                            "(sweep) in file at offset 206; torch.load reads this file as a "
                            "pickle from its first byte, one past the limits of this reader\n");
    free(r.out);
    free(r.err);
}

/* Dict keys holding a NUL byte: torch.load keeps 'w\0a' and 'w\0b' whole,
 * while names made as C strings were cut to 'w' (one tensor's bytes under
 * the other's name, or a name torch never had).  A tensor under such a key
 * is refused; a NUL in the key of anything else is no matter. */
Test(torchdiff, nul_byte_in_a_tensor_name)
{
    expect("nul_in_tensor_name.pt", 1,
           "unreadable: tensor name 'w...' holds a NUL byte (torch.load "
           "keeps the whole dict key): such a name is not converted",
           1,
           "tensor name 'w...' holds a NUL byte (torch.load keeps the whole dict key): such a "
           "name is not converted");
}

/* Legacy storage keys 'a\0x' and 'a\0y' are two storages to torch.load
 * (each its own bytes); cut at the NUL both were 'a', and both tensors got
 * the bytes read last.  A listed key holding a NUL is refused. */
Test(torchdiff, nul_byte_in_legacy_storage_keys)
{
    expect("legacy_storage_keys_nul.pth", 1,
           "unreadable: legacy checkpoint: listed storage key 'a...' holds a NUL byte", 1,
           "legacy checkpoint: listed storage key 'a...' holds a NUL byte");
}

/* A pickled module whose _non_persistent_buffers_set is {'w\0'}: the
 * buffer 'w' beside it is persistent, and state_dict() has it (it was left
 * out when the set's names were compared as C strings). */
Test(torchdiff, non_persistent_buffer_name_with_a_nul)
{
    outcome r = run(
        (const char *const[]){"--list", "fixtures/hostile/nonpersistent_nul_buffer.pt", NULL});
    cr_expect_eq(r.code, 0);
    cr_expect_str_eq(r.out, "NAME    DTYPE        SHAPE                 BYTES\n"
                            "weight  F32          [2, 2]                16\n"
                            "bias    F32          [2]                   8\n"
                            "w       F32          [2]                   8\n"
                            "3 tensors, 32 bytes, root: (top level)\n"
                            "left out: (top level) (1 tensor, attributes of a "
                            "torch.nn.modules.linear.Linear module, not in its state_dict)\n");
    free(r.out);
    free(r.err);
}
