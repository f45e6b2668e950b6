/*
 * stw.c - safetensors header planning (see src/st/stw.h).
 *
 * The JSON is built with cJSON.  Integers (shapes, offsets) are inserted as
 * raw number text formatted here, because cJSON stores numbers as doubles
 * and would lose exactness above 2^53.  The ordering matches the reference
 * implementation so that the same tensors give byte-identical files.
 */
#include "st/stw.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_order(const void *a, const void *b)
{
    const stw_entry *x = a, *y = b;
    int rx = c2s_dtype_rank(x->dtype), ry = c2s_dtype_rank(y->dtype);
    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name); /* strcmp compares as unsigned char */
}

static cJSON *raw_uint(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* Add item to array; on failure item is freed and 0 returned. */
static int append(cJSON *array, cJSON *item)
{
    if (item == NULL)
        return 0;
    cJSON_AddItemToArray(array, item);
    return 1;
}

static cJSON *tensor_json(const stw_entry *e)
{
    cJSON *t = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    cJSON *offsets = cJSON_CreateArray();
    int ok = t && shape && offsets;
    for (size_t i = 0; ok && i < e->ndim; i++)
        ok = append(shape, raw_uint((uint64_t)e->shape[i]));
    ok = ok && append(offsets, raw_uint(e->begin)) &&
         append(offsets, raw_uint(e->begin + e->nbytes));
    ok = ok && cJSON_AddStringToObject(t, "dtype", c2s_dtype_name(e->dtype)) != NULL;
    if (!ok) {
        cJSON_Delete(t);
        cJSON_Delete(shape);
        cJSON_Delete(offsets);
        return NULL;
    }
    cJSON_AddItemToObject(t, "shape", shape);
    cJSON_AddItemToObject(t, "data_offsets", offsets);
    return t;
}

static cJSON *header_json(const stw_entry *entries, size_t n, const stw_kv *meta, size_t nmeta)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
    if (md == NULL || cJSON_AddStringToObject(md, "format", "pt") == NULL)
        goto fail;
    for (size_t i = 0; i < nmeta; i++)
        if (cJSON_AddStringToObject(md, meta[i].key, meta[i].value) == NULL)
            goto fail;
    for (size_t i = 0; i < n; i++) {
        cJSON *t = tensor_json(&entries[i]);
        if (t == NULL)
            goto fail;
        cJSON_AddItemToObject(root, entries[i].name, t);
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

c2s_status stw_plan(stw_entry *entries, size_t n, const stw_kv *meta, size_t nmeta,
                    unsigned char **header, size_t *header_len, uint64_t *data_len, c2s_error *err)
{
    *header = NULL;
    qsort(entries, n, sizeof *entries, write_order);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        entries[i].begin = off;
        if (__builtin_add_overflow(off, entries[i].nbytes, &off))
            return c2s_fail(err, C2S_ERR_INPUT, "total tensor size overflows");
    }
    cJSON *root = header_json(entries, n, meta, nmeta);
    char *json = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (json == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory building the safetensors header");
    size_t len = strlen(json);
    size_t padded = (len + 7) & ~(size_t)7;
    if (padded > STW_MAX_HEADER) {
        cJSON_free(json);
        return c2s_fail(err, C2S_ERR_INPUT,
                        "safetensors header would be %zu bytes, above the format's limit of %u",
                        padded, STW_MAX_HEADER);
    }
    unsigned char *buf = malloc(8 + padded);
    if (buf == NULL) {
        cJSON_free(json);
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory building the safetensors header");
    }
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, json, len);
    memset(buf + 8 + len, ' ', padded - len);
    cJSON_free(json);
    *header = buf;
    *header_len = 8 + padded;
    *data_len = off;
    return C2S_OK;
}
