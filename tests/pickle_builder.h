/*
 * pickle_builder.h - write pickle opcodes from C, for the tests.
 *
 * Tests describe the object graph they need (torch-style tensors, dicts,
 * hostile constructs) opcode by opcode instead of depending on Python.
 * Memory errors abort the test (cr_assert in the callers is not available
 * here, so abort() is used: a test process failing loudly is the point).
 */
#ifndef PICKLE_BUILDER_H
#define PICKLE_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb {
    unsigned char *buf;
    size_t len, cap;
} pb;

static inline void pb_bytes(pb *p, const void *data, size_t n)
{
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n)
            cap *= 2;
        p->buf = realloc(p->buf, cap);
        if (p->buf == NULL)
            abort();
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len += n;
}

static inline void pb_op(pb *p, unsigned char op)
{
    pb_bytes(p, &op, 1);
}
static inline void pb_free(pb *p)
{
    free(p->buf);
    memset(p, 0, sizeof *p);
}

static inline void pb_le(pb *p, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    pb_bytes(p, b, (size_t)n);
}

static inline void pb_proto(pb *p, int v)
{
    pb_op(p, 0x80);
    pb_op(p, (unsigned char)v);
}
static inline void pb_mark(pb *p)
{
    pb_op(p, '(');
}
static inline void pb_stop(pb *p)
{
    pb_op(p, '.');
}
static inline void pb_none(pb *p)
{
    pb_op(p, 'N');
}
static inline void pb_bool(pb *p, int v)
{
    pb_op(p, v ? 0x88 : 0x89);
}
static inline void pb_tuple(pb *p)
{
    pb_op(p, 't');
} /* MARK ... TUPLE */
static inline void pb_empty_tuple(pb *p)
{
    pb_op(p, ')');
}
static inline void pb_empty_dict(pb *p)
{
    pb_op(p, '}');
}
static inline void pb_empty_list(pb *p)
{
    pb_op(p, ']');
}
static inline void pb_setitem(pb *p)
{
    pb_op(p, 's');
}
static inline void pb_setitems(pb *p)
{
    pb_op(p, 'u');
} /* MARK k v ... SETITEMS */
static inline void pb_append(pb *p)
{
    pb_op(p, 'a');
}
static inline void pb_reduce(pb *p)
{
    pb_op(p, 'R');
}
static inline void pb_build(pb *p)
{
    pb_op(p, 'b');
}
static inline void pb_binpersid(pb *p)
{
    pb_op(p, 'Q');
}
static inline void pb_dup(pb *p)
{
    pb_op(p, '2');
}
static inline void pb_pop(pb *p)
{
    pb_op(p, '0');
}

static inline void pb_int(pb *p, int64_t v)
{
    if (v >= 0 && v < 256) {
        pb_op(p, 'K');
        pb_le(p, (uint64_t)v, 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        pb_op(p, 'J');
        pb_le(p, (uint64_t)v, 4);
    } else {
        pb_op(p, 0x8a); /* LONG1, 8 bytes two's complement */
        pb_op(p, 8);
        pb_le(p, (uint64_t)v, 8);
    }
}

static inline void pb_str(pb *p, const char *s)
{
    size_t n = strlen(s);
    pb_op(p, 'X');
    pb_le(p, n, 4);
    pb_bytes(p, s, n);
}

static inline void pb_global(pb *p, const char *module, const char *name)
{
    pb_op(p, 'c');
    pb_bytes(p, module, strlen(module));
    pb_op(p, '\n');
    pb_bytes(p, name, strlen(name));
    pb_op(p, '\n');
}

static inline void pb_put(pb *p, uint32_t i)
{
    pb_op(p, 'r');
    pb_le(p, i, 4);
}
static inline void pb_get(pb *p, uint32_t i)
{
    pb_op(p, 'j');
    pb_le(p, i, 4);
}

static inline void pb_ints_tuple(pb *p, size_t n, const int64_t *v)
{
    pb_mark(p);
    for (size_t i = 0; i < n; i++)
        pb_int(p, v[i]);
    pb_tuple(p);
}

/* An empty collections.OrderedDict, as torch writes backward_hooks. */
static inline void pb_ordered_dict(pb *p)
{
    pb_global(p, "collections", "OrderedDict");
    pb_empty_tuple(p);
    pb_reduce(p);
}

/* The persistent id ('storage', torch.<cls>, key, 'cpu', numel). */
static inline void pb_storage(pb *p, const char *cls, const char *key, int64_t numel)
{
    pb_mark(p);
    pb_str(p, "storage");
    pb_global(p, "torch", cls);
    pb_str(p, key);
    pb_str(p, "cpu");
    pb_int(p, numel);
    pb_tuple(p);
    pb_binpersid(p);
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
static inline void pb_tensor_v2(pb *p, const char *cls, const char *key, int64_t numel,
                                int64_t offset, size_t ndim, const int64_t *size,
                                const int64_t *stride)
{
    pb_global(p, "torch._utils", "_rebuild_tensor_v2");
    pb_mark(p);
    pb_storage(p, cls, key, numel);
    pb_int(p, offset);
    pb_ints_tuple(p, ndim, size);
    pb_ints_tuple(p, ndim, stride);
    pb_bool(p, 0);
    pb_ordered_dict(p);
    pb_tuple(p);
    pb_reduce(p);
}

/* A contiguous 1-d float tensor of n elements in storage key. */
static inline void pb_vec_f32(pb *p, const char *key, int64_t n)
{
    int64_t size[1] = {n}, stride[1] = {1};
    pb_tensor_v2(p, "FloatStorage", key, n, 0, 1, size, stride);
}

#endif /* PICKLE_BUILDER_H */
