/*
 * rd_st.c - safetensors files as a reader (see rd_st.h).
 *
 * sniff: an 8-byte little-endian header length no larger than the format's
 * limit, then '{' (the start of the JSON header), as every safetensors
 * writer begins.  open: st_read_fd() validates the header on the input's
 * descriptor; a failure is damage.  There is no object to map and there are
 * no storages to stream.
 */
#include "st/rd_st.h"

#include <stdlib.h>

#include "st/stread.h"

static int st_sniff(const rd_input *in)
{
    if (in->nhead < 9 || in->head[8] != '{')
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | in->head[i];
    return len >= 2 && len <= C2S_ST_MAX_HEADER;
}

static c2s_status st_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                          const pvm_value **top, c2s_error *err)
{
    (void)o, (void)r;
    *impl = NULL;
    *top = NULL;
    st_file f;
    c2s_status s = st_read_fd(in->fd, &f, err);
    if (s != C2S_OK) {
        err->rule = C2S_RULE_CORRUPT;
        c2s_error_prefix(err, "safetensors header");
        return s;
    }
    st_file_free(&f);
    return C2S_OK;
}

static c2s_status st_verify_all(void *impl, findings *f, c2s_error *err)
{
    (void)impl, (void)f, (void)err;
    return C2S_OK; /* the format has no checksums; the header was validated at open */
}

static c2s_status st_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    (void)impl, (void)m;
    return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
}

static c2s_status st_stream_open(void *impl, const char *key, rd_stream *s, c2s_error *err)
{
    (void)impl, (void)key, (void)s;
    return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
}

static int st_big_endian(const void *impl)
{
    (void)impl;
    return 0;
}

static uint64_t st_object_count(const void *impl)
{
    (void)impl;
    return 0;
}

static void st_close(void *impl)
{
    (void)impl;
}

const rd_ops rd_st_ops = {
    .format = "safetensors",
    .sniff = st_sniff,
    .open = st_open,
    .verify_all = st_verify_all,
    .check_storages = st_check_storages,
    .stream_open = st_stream_open,
    .big_endian = st_big_endian,
    .object_count = st_object_count,
    .close = st_close,
};
