/*
 * zip_builder.h - write small zip archives with libzip, for the tests.
 */
#ifndef ZIP_BUILDER_H
#define ZIP_BUILDER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

typedef struct zb_entry {
    const char *name;
    const void *data;
    size_t len;
    int deflate; /* 0: STORED as torch writes, 1: DEFLATE */
} zb_entry;

/* Write path with the entries; returns 0 on success. */
static inline int zb_write(const char *path, const zb_entry *e, size_t n)
{
    int code = 0;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (za == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(za, e[i].data, e[i].len, 0);
        zip_int64_t idx = src ? zip_file_add(za, e[i].name, src, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0 ||
            zip_set_file_compression(za, (zip_uint64_t)idx,
                                     e[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0) {
            zip_discard(za);
            return -1;
        }
    }
    return zip_close(za) == 0 ? 0 : -1;
}

/* A torch-like checkpoint: archive/data.pkl plus archive/data/<key> records. */
static inline int zb_checkpoint(const char *path, const void *pkl, size_t pkl_len, size_t nstorages,
                                const char *const *keys, const void *const *data,
                                const size_t *lens)
{
    zb_entry e[64];
    char names[64][64];
    if (nstorages + 1 > 64)
        return -1;
    e[0] = (zb_entry){"archive/data.pkl", pkl, pkl_len, 0};
    for (size_t i = 0; i < nstorages; i++) {
        snprintf(names[i], sizeof names[i], "archive/data/%s", keys[i]);
        e[i + 1] = (zb_entry){names[i], data[i], lens[i], 0};
    }
    return zb_write(path, e, nstorages + 1);
}

#endif /* ZIP_BUILDER_H */
