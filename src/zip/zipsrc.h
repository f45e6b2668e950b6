/*
 * zipsrc.h - read access to a torch.save zip archive, read as PyTorch reads it.
 *
 * zipsrc_open_fd() checks that an open file is a plain PyTorch checkpoint
 * archive: a zip (its layout read by ziplayout.c with pread only) whose
 * records are found exactly as torch.load finds them (archive directory from
 * the first central directory entry, every entry under it, names looked up
 * without regard to ASCII case as miniz does), holding a data.pkl (or, for
 * torch 1.0-1.2 TorchScript, a model.json).  A
 * TorchScript archive (torch.jit.save: code/, constants.pkl) opens too;
 * zipsrc_is_torchscript() tells, and zipsrc_read_record() reads its other
 * records by the same lookup rules.  Structural tricks (a second data.pkl, other pickle
 * records, names equal without regard to case, and what ziplayout.c
 * reports) are added to a findings list rather than failing the open: the
 * caller's verdict decides.  It reads the optional "byteorder" record.
 *
 * Storages are read through a zipsrc_stream: positioned reads of the
 * record torch reads for "data/<key>".  STORED entries are read with
 * pread(2) at the data offset found by our own layout reading (thread-safe);
 * DEFLATE entries through zlib, restarted when a read goes backwards.  The
 * stream keeps a running CRC-32 of the bytes read in order from offset 0,
 * so that reading an entry front to back verifies it at no extra cost;
 * zipsrc_stream_verify() finishes the check for entries read only in part.  A recorded CRC of 0 on a STORED entry means "not
 * recorded" (torch.save with CRC computation switched off writes 0).
 */
#ifndef ZIPSRC_H
#define ZIPSRC_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/findings.h"

typedef struct zipsrc zipsrc;

/*
 * Open the file fd refers to (size bytes).  Only pread is used on fd; the
 * zipsrc keeps its own duplicate of it, so the caller keeps ownership of fd
 * and may close it at any time.  Fails with C2S_ERR_INPUT and a message
 * such as "file is empty", "not a zip archive (...)", "PyTorch legacy
 * format (before 1.6) is not supported yet", "no data.pkl record: not a PyTorch checkpoint", "zip
 * entry '...' is outside the archive directory '...': PyTorch refuses such
 * a file".  Findings may have been added even when it fails.  max_pickle
 * bounds the size of data.pkl (0: default 1 GiB).
 */
c2s_status zipsrc_open_fd(int fd, uint64_t size, uint64_t max_pickle, zipsrc **out, findings *f,
                          c2s_error *err);

/* Work for the caller's thread while zipsrc_open_fd_beside reads the local
 * headers on a thread of its own: run(ctx, data, len) is given the bytes
 * of a large STORED data.pkl, the directory's first record, read ahead of
 * the layout pass and not yet checked against it.  It may only read them
 * and must keep what it makes apart: zipsrc_read_pickle decides later
 * whether they are the pickle's (then it gives out the very same pointer,
 * and zipsrc_pickle_prefetched says so).  Not called when there are no
 * such bytes, or no thread. */
typedef struct zipsrc_beside {
    void (*run)(void *ctx, const uint8_t *data, size_t len);
    void *ctx;
} zipsrc_beside;

/* zipsrc_open_fd, with beside->run (beside NULL: none) overlapping the
 * local header pass.  The result, findings and errors are the same. */
c2s_status zipsrc_open_fd_beside(int fd, uint64_t size, uint64_t max_pickle,
                                 const zipsrc_beside *beside, zipsrc **out, findings *f,
                                 c2s_error *err);

/* The archive's records only, for an archive torch does not open as a
 * checkpoint (no data.pkl, no archive directory, ...): its pickle records
 * are still judged (zipsrc_entry_is_other_pickle, zipsrc_read_entry).  No
 * data.pkl is chosen; nothing else of this API may be used on it. */
c2s_status zipsrc_open_records(int fd, uint64_t size, uint64_t max_pickle, zipsrc **out,
                               c2s_error *err);

/* open + fstat + zipsrc_open_fd + close ("is a directory" for a directory). */
c2s_status zipsrc_open(const char *path, uint64_t max_pickle, zipsrc **out, findings *f,
                       c2s_error *err);

/* CRC-check every entry of the archive; mismatches are added to f (the
 * report's list of damage).  The pickle record, when zipsrc_read_pickle
 * has read it whole with its CRC matching, is not read a second time. */
c2s_status zipsrc_verify_all(zipsrc *z, void *scratch, size_t len, findings *f, c2s_error *err);

/* Close; NULL is a no-op. */
void zipsrc_close(zipsrc *z);

/* The top directory of the records ("archive"; may be empty). */
const char *zipsrc_prefix(const zipsrc *z);

/* The name of the entry torch reads as data.pkl, as the archive spells it
 * (e.g. "archive/DATA.PKL" when only the case differs); NULL for a
 * model.json archive. */
const char *zipsrc_pickle_name(const zipsrc *z);

/* 1 when the byteorder record says "big". */
int zipsrc_big_endian(const zipsrc *z);

/* Read data.pkl whole (CRC-checked).  *data is malloc'd, caller frees; on a
 * CRC mismatch (C2S_ERR_INPUT, rule C2S_RULE_CORRUPT) *data still holds the
 * bytes read, so that they can be judged. */
c2s_status zipsrc_read_pickle(zipsrc *z, uint8_t **data, size_t *len, c2s_error *err);

/* 1 when zipsrc_read_pickle gave the bytes read beside the layout pass (a
 * large data.pkl written first, as torch.save writes it; see zipsrc.c):
 * for tests, which check that both ways give the same bytes and errors. */
int zipsrc_pickle_prefetched(const zipsrc *z);

/* Read the record "<archive>/<record>" whole (CRC-checked), found as torch
 * finds records (without regard to ASCII case), bounded like data.pkl by
 * max_pickle.  Fails with "record <archive>/<record> is missing", "... is
 * empty", "... is N bytes, more than the limit of M".  *data is malloc'd. */
c2s_status zipsrc_read_record(zipsrc *z, const char *record, uint8_t **data, size_t *len,
                              c2s_error *err);

/* The name, as the archive spells it, of the entry torch reads as
 * "<archive>/<record>"; NULL when there is none. */
const char *zipsrc_record_name(const zipsrc *z, const char *record);

/* The entries in central directory order, by index: their names, and
 * reading one whole as zipsrc_read_record does (CRC-checked; on a mismatch,
 * rule C2S_RULE_CORRUPT, the bytes are kept in *data to be judged). */
size_t zipsrc_entry_count(const zipsrc *z);
const char *zipsrc_entry_name(const zipsrc *z, size_t i);
c2s_status zipsrc_read_entry(zipsrc *z, size_t i, uint8_t **data, size_t *len, c2s_error *err);

/* 1 for a TorchScript archive of torch 1.0-1.2: no data.pkl, a model.json
 * (the only archive without data.pkl that opens). */
int zipsrc_is_model_json(const zipsrc *z);

/* 1 for a TorchScript archive: a constants.pkl record (found as torch.jit.load
 * finds it) or any entry under "<archive>/code/". */
int zipsrc_is_torchscript(const zipsrc *z);

/* 1 when torch.load would hand the archive to torch.jit.load: a record named
 * exactly "constants.pkl" (torch.load compares the listed names whole). */
int zipsrc_torch_load_sees_script(const zipsrc *z);

/* 1 when entry i is a pickle record other than the one torch reads as
 * data.pkl: its name ends in ".pkl" in any case ("model/config.pkl",
 * "archive/extra/x.PKL", "other/data.pkl") and its local header is valid;
 * or a NumPy array (".npy", the members of an .npz), which holds a pickle
 * when its dtype holds objects.  Pipelines load such records themselves, so
 * they are judged too. */
int zipsrc_entry_is_other_pickle(const zipsrc *z, size_t i);

/* 1 when entry i (not data.pkl) begins with a PROTO opcode of protocol 2
 * to 5, as pickle.dump writes: a pickle whatever its name ("data.txt"). */
int zipsrc_entry_starts_like_pickle(zipsrc *z, size_t i);

/* Uncompressed size of the storage record for key; fails when it is missing. */
c2s_status zipsrc_storage_size(zipsrc *z, const char *key, uint64_t *size, c2s_error *err);

/* The same, for many keys in a row: *hint (0 before the first call) remembers
 * where the last record was found, so that keys looked up in the order of
 * the archive's records cost one comparison each.  Finds what
 * zipsrc_storage_size finds, whatever *hint holds. */
c2s_status zipsrc_storage_size_near(zipsrc *z, const char *key, size_t *hint, uint64_t *size,
                                    c2s_error *err);

/* A reader of one storage record.  Callers own the struct (no allocation). */
typedef struct zipsrc_stream {
    zipsrc *z;
    void *zf;           /* the inflater of a DEFLATE entry */
    uint64_t index;     /* entry index */
    uint64_t size;      /* uncompressed size */
    uint64_t comp_size; /* compressed size */
    uint64_t pos;       /* position of the next sequential read */
    uint32_t crc;       /* running CRC of bytes [0, crc_pos) */
    uint64_t crc_pos;
    uint32_t crc_expected;
    int crc_recorded;
    int raw; /* STORED: read with pread at data_offset */
    uint64_t data_offset;
    char name[300]; /* entry name, for messages */
} zipsrc_stream;

c2s_status zipsrc_stream_open(zipsrc *z, const char *key, zipsrc_stream *s, c2s_error *err);

/* Size of, and a stream over, the record "<archive>/<record>" found as
 * zipsrc_read_record finds it ("record ... is missing" otherwise). */
c2s_status zipsrc_record_size(zipsrc *z, const char *record, uint64_t *size, c2s_error *err);
c2s_status zipsrc_record_stream_open(zipsrc *z, const char *record, zipsrc_stream *s,
                                     c2s_error *err);

/* Read exactly n bytes at offset off (off + n <= size). */
c2s_status zipsrc_stream_read(zipsrc_stream *s, uint64_t off, void *buf, size_t n, c2s_error *err);

/* For a STORED entry: the descriptor and file offset of its first byte, so
 * that callers may copy ranges without reading them (copy_file_range).
 * Returns 0 for compressed entries. */
int zipsrc_stream_file_range(const zipsrc_stream *s, int *fd, uint64_t *offset);

/* 1 when every byte has been read in order, so the CRC is already known. */
int zipsrc_stream_crc_done(const zipsrc_stream *s);

/* Finish the CRC check: reads what was not read in order (using scratch),
 * then compares with the recorded CRC.  A mismatch means the bytes are not
 * the ones the archive was written with: C2S_ERR_INPUT, rule
 * C2S_RULE_CORRUPT, "CRC-32 mismatch". */
c2s_status zipsrc_stream_verify(zipsrc_stream *s, void *scratch, size_t len, c2s_error *err);

void zipsrc_stream_close(zipsrc_stream *s);

#endif /* ZIPSRC_H */
