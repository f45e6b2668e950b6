/*
 * ziplayout.h - our own reading of a zip archive's structure.
 *
 * This is the only zip parser of the program (zipsrc.c reads entries at
 * the offsets found here).  Where entries lie, and whether the file holds
 * bytes that no entry accounts for, are exactly the places where a second
 * reader (torch's miniz, Python's zipfile) could see something different
 * from what we convert, so ziplayout_read() parses the end record(s) and
 * the central directory, reads every local header, and reports as findings:
 *
 *   - two entries with the same name, or with names equal without regard
 *     to ASCII case (PyTorch's miniz looks records up that way);
 *   - an entry name holding a NUL byte (C-string readers see another name);
 *   - a local header that disagrees with its central directory record
 *     (name, method, CRC or sizes), or no valid local header at all;
 *   - an encrypted entry;
 *   - a ZIP64 end record with a bad signature (miniz ignores it);
 *   - bytes in front of the first entry, between entries, before the
 *     central directory or after the end record; overlapping entries.
 *
 * What miniz tolerates is tolerated here too: an end record comment length
 * that runs past the end of the file, extra fields that do not parse when
 * no 32-bit field is saturated, DOS times that differ between the local and
 * central headers.  What miniz refuses when it opens an archive (no end
 * record, a central directory or an entry past the end of the file, a
 * STORED entry whose sizes differ, more than one disk) is an error.
 * Everything read from the file is bounds-checked before use.
 */
#ifndef ZIPLAYOUT_H
#define ZIPLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/findings.h"

/* (56 bytes: an archive of 200,000 tensors has 200,000 of these.) */
typedef struct zl_entry {
    char *name;            /* as in the central directory, NUL-terminated; in ziplayout.names */
    uint64_t local_offset; /* of the local header */
    uint64_t data_offset;  /* first byte of the (compressed) data */
    uint64_t comp_size, size;
    uint32_t crc;
    uint16_t method, flags;
    uint32_t name_len;      /* its length, at most 65535 (the name itself may hold a NUL) */
    unsigned char local_ok; /* the local header was found: data_offset is valid */
    /* Bit 3 of flags set (a data descriptor follows the data): whether the
     * descriptor's optional signature is there, as read with the local
     * header when the window held it (ZL_SIG_*); ZL_SIG_UNREAD: read it
     * when the layout is checked. */
    unsigned char descriptor_sig;
} zl_entry;

enum { ZL_SIG_UNREAD, ZL_SIG_PRESENT, ZL_SIG_ABSENT };

typedef struct ziplayout {
    zl_entry *entries; /* central directory order */
    size_t n;
    char *names; /* every entry's name and its NUL, one after another */
    uint64_t cd_offset, cd_size;
    /* Whether no two names compare equal by ziplayout_name_cmp.  Then a
     * record has one answer whichever way it is looked up: by_hash, an
     * open-addressing index (linear probing, hash_cap slots, a power of
     * two) by ziplayout_name_hash; a slot holds the hash's high 32 bits
     * above entry index + 1 (0: empty slot).
     * Else (or when the index could not be allocated) by_hash is NULL and
     * by_name holds the entry indices sorted by ziplayout_name_cmp, exact
     * bytes breaking ties (NULL when the names are distinct and indexed:
     * then every sort by ziplayout_name_cmp, miniz's included, gives one
     * order, which nobody needs). */
    uint32_t *by_name;
    int names_distinct;
    uint64_t *by_hash;
    size_t hash_cap;
} ziplayout;

/* Read the layout of the zip in fd (file_size bytes).  Structural problems
 * are appended to f; the return value is an error only when the archive
 * cannot be read at all. */
c2s_status ziplayout_read(int fd, uint64_t file_size, ziplayout *out, findings *f, c2s_error *err);

/* ziplayout_read in its two halves, for a caller with work to start in
 * between (zipsrc reads data.pkl while the local headers are checked):
 * the end record(s) and the central directory, every entry decoded but no
 * local header read (local_ok 0); then the local headers and the layout.
 * Either frees out when it fails. */
c2s_status ziplayout_read_central(int fd, uint64_t file_size, ziplayout *out, findings *f,
                                  c2s_error *err);
c2s_status ziplayout_read_local(int fd, uint64_t file_size, ziplayout *out, findings *f,
                                c2s_error *err);

void ziplayout_free(ziplayout *zl);

/* Compare two names as miniz does: byte by byte after mapping A-Z to a-z,
 * then by length.  Negative, 0 or positive. */
int ziplayout_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* A hash of the name with A-Z mapped to a-z: equal for names that
 * ziplayout_name_cmp finds equal. */
uint64_t ziplayout_name_hash(const char *name, size_t len);

/* The entry named name (compared by ziplayout_name_cmp) through by_hash;
 * NULL when there is none.  Only when zl->by_hash is not NULL. */
const zl_entry *ziplayout_find_hashed(const ziplayout *zl, const char *name, size_t len);

#endif /* ZIPLAYOUT_H */
