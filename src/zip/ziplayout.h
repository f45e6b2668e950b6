/*
 * ziplayout.h - our own reading of a zip archive's structure.
 *
 * libzip reads entries; it does not say where they lie in the file or
 * whether the file holds bytes that no entry accounts for.  Those are
 * exactly the places where a second reader (torch's miniz, Python's
 * zipfile) could see something different from what we convert, so
 * ziplayout_read() parses the end record(s) and the central directory
 * itself, reads every local header, and reports as findings:
 *
 *   - two entries with the same name;
 *   - a local header that disagrees with its central directory record
 *     (name, method, CRC or sizes);
 *   - an encrypted entry;
 *   - bytes in front of the first entry, between entries, before the
 *     central directory or after the end record; overlapping entries.
 *
 * A structure too broken to read (no end record, records past the end of
 * the file, more than one disk) is an error instead.  Everything read from
 * the file is bounds-checked before use.
 */
#ifndef ZIPLAYOUT_H
#define ZIPLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/findings.h"

typedef struct zl_entry {
    char *name;             /* as in the central directory, NUL-terminated */
    uint64_t local_offset;  /* of the local header */
    uint64_t data_offset;   /* first byte of the (compressed) data */
    uint64_t comp_size, size;
    uint32_t crc;
    uint16_t method, flags;
} zl_entry;

typedef struct ziplayout {
    zl_entry *entries;      /* central directory order */
    size_t n;
    uint64_t cd_offset, cd_size;
} ziplayout;

/* Read the layout of the zip in fd (file_size bytes).  Structural problems
 * are appended to f; the return value is an error only when the archive
 * cannot be read at all. */
c2s_status ziplayout_read(int fd, uint64_t file_size, ziplayout *out, findings *f,
                          c2s_error *err);

void ziplayout_free(ziplayout *zl);

#endif /* ZIPLAYOUT_H */
