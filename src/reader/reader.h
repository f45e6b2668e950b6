/*
 * reader.h - one interface for every container format a checkpoint comes in.
 *
 * The input is opened once (rd_input_open): one descriptor, one fstat, the
 * first bytes read with pread.  Every later read of the file goes through
 * that descriptor, so the file that was judged is the file whose bytes are
 * copied, even if the path is replaced in between.
 *
 * A format reader (rd_ops) turns that descriptor into three things:
 *
 *   1. a judgement: every pickle the loader of that format would run is
 *      interpreted by the restricted VM and its globals, with the
 *      structural findings, go into the report (open);
 *   2. a tensor map: names, dtypes, shapes and views over storages, each
 *      storage checked to exist and be long enough (tmap_build on the
 *      pickle's object, or the reader's own map for a format without a
 *      pickle, such as a TensorFlow bundle);
 *   3. storage streams: positioned reads of one storage's bytes, with the
 *      format's integrity check (CRC) finished by rd_stream_verify.
 *
 * rd_open() picks the reader by content (sniff), never by file name, in
 * the order torch.load itself decides: zip archives first (a TorchScript
 * archive, then a torch.save one), then the formats that are no pickle
 * (a TensorFlow index, a safetensors file, a NumPy array), and last,
 * accepting anything, the legacy load path (reader.c lists them).  The
 * engine (src/engine) sees only this interface; adding a format is one
 * rd_ops and one line in reader.c.
 */
#ifndef READER_H
#define READER_H

#include <stdint.h>
#include <sys/types.h>

#include "c2s.h"
#include "pickle/policy.h"
#include "pickle/pvm.h"
#include "torch/tmap.h"
#include "util/findings.h"
#include "zip/zipsrc.h"

#define RD_HEAD_LEN 64

/* The pickle VM run on a zip's data.pkl while rd_open's opening of the
 * archive reads its local headers (zipsrc_beside): the bytes read ahead,
 * the machine, and what pvm_run gave.  The zip reader adopts it when
 * zipsrc_read_pickle hands it those very bytes (rd_input_take_early_run);
 * else it is dropped unused. */
typedef struct rd_early_run {
    pvm_limits limits; /* rd_pvm_limits of the open's options */
    pvm *vm;           /* NULL: no run made (or taken) */
    const uint8_t *data;
    size_t len;
    pvm_value *top;
    size_t end;
    c2s_status st;
    c2s_error err;
    int taken; /* the zip reader adopted it (tests ask) */
} rd_early_run;

/* The input file, opened once. */
typedef struct rd_input {
    int fd;
    uint64_t size;
    dev_t dev; /* identity, to refuse writing over it */
    ino_t ino;
    const char *path;                /* for messages only; never opened again */
    int index_added;                 /* path did not exist: path + ".index" is open */
    int from_fd;                     /* opened from a descriptor: path is only a name */
    unsigned char head[RD_HEAD_LEN]; /* the first bytes */
    size_t nhead;
    /* A zip archive (head "PK\3\4") is opened once, by rd_open before the
     * readers sniff: the TorchScript sniff asks the opened archive, and the
     * reader that takes the file adopts it and the findings of its opening
     * (rd_input_take_zip) instead of reading the central directory and
     * every local header again.  NULL when the file is no zip, or when the
     * opening failed: the reader then opens it itself, for the error. */
    zipsrc *zip;
    findings zip_findings;
    rd_early_run early; /* data.pkl run beside that opening */
} rd_input;

/* Open path read-only, fstat it (a regular file, not empty) and read its
 * first bytes.  A path that does not exist while path + ".index" does is
 * a TensorFlow checkpoint named by its prefix, as TensorFlow names them
 * ("model.ckpt" for model.ckpt.index and its shards): that index is opened
 * instead, once, and index_added says so.  Fails with C2S_ERR_INPUT:
 * "cannot open: ...", "is a directory", "file is empty", ... */
c2s_status rd_input_open(rd_input *in, const char *path, c2s_error *err);

/* The same for a descriptor the caller opened (rd_input_open_fd duplicates
 * it: the caller's stays open and its own).  name is for messages only
 * (NULL: RD_FD_NAME); no other file is ever opened by it, so a format
 * whose data lies in other files (a TensorFlow bundle) cannot be read. */
#define RD_FD_NAME "<descriptor>"
c2s_status rd_input_open_fd(rd_input *in, int fd, const char *name, c2s_error *err);
void rd_input_close(rd_input *in);

/* The zip rd_open opened (in->zip, then NULL; its findings appended to f),
 * or, when there is none, a fresh zipsrc_open_fd of the input. */
c2s_status rd_input_take_zip(rd_input *in, uint64_t max_pickle, zipsrc **out, findings *f,
                             c2s_error *err);

/* The early run of data.pkl (in->early) when it ran on data (len bytes),
 * the pickle zipsrc_read_pickle gave: prefetched is zipsrc_pickle_prefetched
 * (a pointer alone could be a new block where the read-ahead one was
 * freed).  *run then owns its machine; 0 otherwise.  Either way in keeps
 * no run after. */
int rd_input_take_early_run(rd_input *in, int prefetched, const uint8_t *data, size_t len,
                            rd_early_run *run);

/* The early run dropped (its machine freed), if any. */
void rd_input_drop_early_run(rd_input *in);

typedef struct rd_stream rd_stream;

/* What a format reader provides.  impl is the reader's own state. */
typedef struct rd_ops {
    const char *format; /* the report's word for the format ("zip") */
    int legacy_ids;     /* storages named by legacy persistent ids (tmap.h) */
    /* 1 when the input is this reader's format (from in->head). */
    int (*sniff)(const rd_input *in);
    /* Judge: interpret every pickle the loader would run, adding globals and
     * findings to r (which is filled even when this fails); on success
     * *top is the object to map (or NULL when the format has no pickle). */
    c2s_status (*open)(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                       const pvm_value **top, c2s_error *err);
    /* The scan's integrity pass: check every record (CRCs); each mismatch
     * is added to f (the report's damage). */
    c2s_status (*verify_all)(void *impl, findings *f, c2s_error *err);
    /* 1 when verify_all may run on another thread while map or tmap_build
     * and check_storages run (it only reads what they read, and f is its
     * own): c2s_scan then does both at once. */
    int verify_beside_map;
    /* Optional: the format's own tensor map, for a format with no pickle
     * (open gave *top NULL).  When set, ckpt_map calls it instead of
     * tmap_build; m is empty on entry and the map it fills follows tmap.h
     * (names, dtypes, shapes, views over storages; what it leaves out as
     * notes).  It must refuse options it cannot honour (o->key). */
    c2s_status (*map)(void *impl, const c2s_open_options *o, tmap *m, c2s_error *err);
    /* Check that the storages of m exist and hold their bytes. */
    c2s_status (*check_storages)(void *impl, const tmap *m, c2s_error *err);
    c2s_status (*stream_open)(void *impl, const char *key, rd_stream *s, c2s_error *err);
    int (*big_endian)(const void *impl);
    uint64_t (*object_count)(const void *impl); /* pickle objects, for tmap */
    void (*close)(void *impl);
    /* Optional (NULL: none): lines the reader adds to the tensor map's notes,
     * about what it left out of the object it gave to map. */
    const char *const *(*notes)(const void *impl, size_t *n);
    /* Optional (NULL: keep everything): free the object graph open gave
     * (*top) once the tensor map is built and its storages checked; the
     * streams, big_endian and verify_all still work after it. */
    void (*release)(void *impl);
    /* Optional (NULL: none): a thread that faults memory in ahead for the
     * tensor map (the pickle VM's, pvm_slab_supply), or NULL. */
    slab_supply *(*faulter)(void *impl);
} rd_ops;

/* An open reader. */
typedef struct rd {
    const rd_ops *ops;
    void *impl;
} rd;

/* Choose the reader for in and open it (ops->open).  r->format is set. */
c2s_status rd_open(rd *r, rd_input *in, const c2s_open_options *o, c2s_report *rep,
                   const pvm_value **top, c2s_error *err);
void rd_close(rd *r);

/* The options of o (NULL: the defaults) as the pickle VM and the policy
 * take them. */
pvm_limits rd_pvm_limits(const c2s_open_options *o);
policy_options rd_policy(const c2s_open_options *o);

/* The format word of a file no reader could look at (it did not open). */
const char *rd_default_format(void);

c2s_status rd_verify_all(rd *r, findings *f, c2s_error *err);
/* Whether the reader maps its tensors itself (rd_ops.map), and that map. */
int rd_has_map(const rd *r);
c2s_status rd_map(rd *r, const c2s_open_options *o, tmap *m, c2s_error *err);
c2s_status rd_check_storages(rd *r, const tmap *m, c2s_error *err);
int rd_big_endian(const rd *r);
uint64_t rd_object_count(const rd *r);

/* The reader's own notes (none when it has no notes hook). */
const char *const *rd_notes(const rd *r, size_t *n);
/* Free the object graph if the reader can (rd_ops.release); the top object
 * open gave must not be used after it. */
void rd_release(rd *r);
/* ops->faulter's answer, NULL when the reader has none. */
slab_supply *rd_faulter(rd *r);

/*
 * A reader of one storage's bytes.  Callers own the struct (no
 * allocation); the reader fills the member of the union that is its own.
 */
typedef struct rd_stream_ops {
    c2s_status (*read)(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err);
    int (*file_range)(const rd_stream *s, int *fd, uint64_t *offset);
    int (*crc_done)(const rd_stream *s);
    c2s_status (*verify)(rd_stream *s, void *scratch, size_t len, c2s_error *err);
    void (*close)(rd_stream *s);
} rd_stream_ops;

struct rd_stream {
    const rd_stream_ops *ops; /* NULL until opened */
    uint64_t size;            /* bytes in the storage record */
    char name[300];           /* the record's name, for messages */
    /* For ranges read with file_range: the CRC-32 the bytes must have
     * (callers check it themselves, e.g. crcpipe), when recorded. */
    uint32_t crc_expected;
    int crc_recorded;
    union {
        zipsrc_stream zip;
        struct {
            int fd;
            uint64_t base; /* file offset of the first byte */
        } range;
        struct {
            int fd;        /* the data shard */
            uint64_t base; /* offset of the tensor's first byte in it */
            uint32_t crc;  /* running CRC-32C of bytes [0, crc_pos) */
            uint64_t crc_pos;
            uint32_t crc_masked; /* what the index records (masked) */
        } tf;
    } u;
};

/* Open s on the bytes [base, base + size) of fd, stored as they are and with
 * no checksum of their own (a legacy stream's storages). */
void rd_range_stream_open(rd_stream *s, int fd, uint64_t base, uint64_t size, const char *name);

c2s_status rd_stream_open(rd *r, const char *key, rd_stream *s, c2s_error *err);

/* Read exactly n bytes at offset off (off + n <= size). */
c2s_status rd_stream_read(rd_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err);

/* When the bytes lie uncompressed in the input: its descriptor and the file
 * offset of the first byte, so that callers may copy ranges without
 * reading them.  0 otherwise. */
int rd_stream_file_range(const rd_stream *s, int *fd, uint64_t *offset);

/* 1 when every byte has been read in order, so the check is already known. */
int rd_stream_crc_done(const rd_stream *s);

/* Finish the integrity check (reading, through scratch, what was not read
 * in order); a mismatch is C2S_ERR_REFUSED. */
c2s_status rd_stream_verify(rd_stream *s, void *scratch, size_t len, c2s_error *err);

void rd_stream_close(rd_stream *s);

#endif /* READER_H */
