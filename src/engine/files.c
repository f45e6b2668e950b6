/*
 * files.c - the public API for files other than checkpoints (c2s.h): the
 * header of a safetensors file, the SHA-256 of a buffer, and the atomic
 * writing of a small file.
 *
 * Each is a thin wrapper: c2s_safetensors owns the st_file that stread.c
 * fills and hands its tensors out as c2s_tensor_info (the element type
 * looked up by its safetensors name); c2s_sha256_hex runs sha256.c once;
 * c2s_write_file_atomic writes one buffer through outfile.c, which gives
 * the unnamed (or hidden temporary) file, the refusal to replace without
 * force and the clean up on failure; c2s_copy_file_atomic streams a
 * descriptor through the same, one fixed buffer at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "c2s.h"
#include "engine/cancel.h"
#include "engine/outfile.h"
#include "st/stread.h"
#include "util/c2s_error.h"
#include "util/sha256.h"

struct c2s_safetensors {
    st_file f;
};

/* ---- safetensors files ----------------------------------------------------------- */

static c2s_status opened(c2s_status st, c2s_safetensors *s, c2s_safetensors **out)
{
    if (st != C2S_OK) {
        free(s);
        return st;
    }
    *out = s;
    return C2S_OK;
}

c2s_status c2s_safetensors_open_fd(int fd, c2s_safetensors **out, c2s_error *err)
{
    *out = NULL;
    c2s_safetensors *s = calloc(1, sizeof *s);
    if (s == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return opened(st_read_fd(fd, &s->f, err), s, out);
}

c2s_status c2s_safetensors_open(const char *path, c2s_safetensors **out, c2s_error *err)
{
    *out = NULL;
    c2s_safetensors *s = calloc(1, sizeof *s);
    if (s == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    return opened(st_read_path(path, &s->f, err), s, out);
}

size_t c2s_safetensors_count(const c2s_safetensors *st)
{
    return st->f.ntensors;
}

/* The c2s_dtype called name; 0 when there is none (sub-byte types). */
static int dtype_named(const char *name, c2s_dtype *out)
{
    for (int d = 0; d < C2S_DTYPE_COUNT; d++)
        if (strcmp(c2s_dtype_name((c2s_dtype)d), name) == 0) {
            *out = (c2s_dtype)d;
            return 1;
        }
    return 0;
}

c2s_tensor_info c2s_safetensors_tensor_at(const c2s_safetensors *st, size_t i)
{
    c2s_tensor_info info = {0};
    if (i >= st->f.ntensors)
        return info;
    const st_tensor *t = &st->f.tensors[i];
    info.name = t->name;
    info.ndim = t->ndim;
    info.shape = t->shape;
    info.nbytes = t->end - t->begin;
    info.supported = dtype_named(t->dtype, &info.dtype);
    info.why = info.supported ? NULL : t->dtype;
    return info;
}

size_t c2s_safetensors_metadata_count(const c2s_safetensors *st)
{
    return st->f.nmeta;
}

void c2s_safetensors_metadata_at(const c2s_safetensors *st, size_t i, const char **key,
                                 const char **value)
{
    int in = i < st->f.nmeta;
    *key = in ? st->f.meta_keys[i] : NULL;
    *value = in ? st->f.meta_values[i] : NULL;
}

uint64_t c2s_safetensors_data_bytes(const c2s_safetensors *st)
{
    return st->f.data_len;
}

void c2s_safetensors_close(c2s_safetensors *st)
{
    if (st == NULL)
        return;
    st_file_free(&st->f);
    free(st);
}

/* ---- small files ------------------------------------------------------------------ */

void c2s_sha256_hex(const void *data, size_t len, char out[65])
{
    sha256_ctx c;
    unsigned char digest[SHA256_DIGEST_LEN];
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, digest);
    sha256_hex(digest, out);
}

c2s_status c2s_write_file_atomic(const char *path, const void *data, size_t len, int force,
                                 c2s_error *err)
{
    outfile of;
    c2s_status st = outfile_open(&of, path, force, err);
    if (st == C2S_OK)
        st = outfile_write(&of, data, len, err);
    if (st == C2S_OK)
        st = outfile_commit(&of, err);
    outfile_abort(&of); /* frees, and removes the temporary file after a failure */
    return st;
}

#define COPY_BUFFER (1u << 20)

/* Every byte of src from its position to its end, into of. */
static c2s_status copy_stream(int src, outfile *of, const volatile sig_atomic_t *cancel,
                              c2s_error *err)
{
    char *buf = malloc(COPY_BUFFER);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    c2s_status st = C2S_OK;
    for (;;) {
        if (cancel_requested(cancel)) {
            st = c2s_fail(err, C2S_ERR_INPUT, "interrupted");
            break;
        }
        ssize_t n = read(src, buf, COPY_BUFFER);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            st = c2s_fail(err, C2S_ERR_INPUT, "cannot read: %s", strerror(errno));
        if (n <= 0)
            break;
        if ((st = outfile_write(of, buf, (size_t)n, err)) != C2S_OK)
            break;
    }
    free(buf);
    return st;
}

c2s_status c2s_copy_file_atomic(int src_fd, const char *path, unsigned mode, int force,
                                const volatile sig_atomic_t *cancel, c2s_error *err)
{
    outfile of;
    c2s_status st = outfile_open(&of, path, force, err);
    if (st == C2S_OK)
        st = copy_stream(src_fd, &of, cancel, err);
    if (st == C2S_OK && fchmod(of.fd, (mode_t)(mode & 0777)) != 0)
        st = c2s_fail(err, C2S_ERR_INPUT, "cannot set the mode of %s: %s", path, strerror(errno));
    if (st == C2S_OK)
        st = outfile_commit(&of, err);
    outfile_abort(&of);
    return st;
}
