/*
 * rd_legacy.c - the legacy (pre-1.6) load path behind the reader interface
 * (see rd_legacy.h for the format and the rules followed).
 *
 * open() runs the pickles in torch's order, each through run_at(): a
 * window of the file from the pickle's first byte, grown fourfold until
 * the pickle fits (or the limit on pickle size is reached), so memory is
 * bounded by the pickles, never by the storages behind them.  Then
 * register_storages() replays the persistent ids in the order the pickle
 * made them, and locate_storages() walks the storage-keys list to find
 * where each storage's bytes lie.
 *
 * A pickle the machine cannot read to its end is swept (judge_sweep) so
 * that every global its bytes name is judged; a file that ends inside a
 * pickle or a storage is damaged (rule C2S_RULE_CORRUPT).  A file whose
 * first pickle is whole but not the magic number is a bare pickle: the
 * rest of the file is swept too (a pipeline may load a second pickle), and
 * the error says it holds no checkpoint (rule C2S_RULE_NO_TENSORS).
 */
#include "torch/rd_legacy.h"
#include "util/grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/judge.h"
#include "torch/dtype.h"
#include "torch/legacy_tar.h"
#include "util/io.h"
#include "util/limits.h"
#include "zip/ziplayout.h"

#define FIRST_WINDOW (64u << 10)
#define PROTOCOL_VERSION 1001

/* torch's legacy magic number 0x1950a86a20f9469cfc6c: its value in
 * little-endian bytes and in decimal, and the protocol-2 pickle of it that
 * starts every file torch writes. */
static const unsigned char MAGIC_LE[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                         0x20, 0x6a, 0xa8, 0x50, 0x19};
static const char MAGIC_DECIMAL[] = "119547037146038801333356";
static const unsigned char MAGIC_PICKLE[] = {0x80, 0x02, 0x8a, 0x0a};

/* One storage: the first persistent id naming its key decides the rest. */
typedef struct legacy_storage {
    char *key;
    int known;   /* its class gave a dtype */
    int is_view; /* the key names a view of another storage */
    /* a view: the storage, offset and element count, and the class, of the
     * first id naming it (torch keeps that view for every later id) */
    size_t view_root;
    int64_t view_off, view_len;
    const pvm_value *view_cls;
    c2s_dtype dtype;
    uint64_t nbytes;
    int has_data;      /* listed in the keys pickle, bytes found */
    uint64_t data_off; /* of its first byte, in the file */
} legacy_storage;

typedef struct legacy_reader {
    int fd;
    uint64_t size;
    uint8_t *pickle; /* the object's pickle (its values may point into it) */
    pvm *vm;         /* the object's machine: owns the object */
    legacy_storage *st;
    size_t nst, cap;
} legacy_reader;

/* One pickle run by run_at. */
typedef struct pickle_run {
    pvm *vm;
    uint8_t *buf;
    pvm_value *value;
    size_t end; /* bytes of the pickle, STOP included */
} pickle_run;

static void pickle_run_free(pickle_run *p)
{
    pvm_free(p->vm);
    free(p->buf);
    memset(p, 0, sizeof *p);
}

/* ---- running one pickle ------------------------------------------------------------- */

static c2s_status run_window(const rd_input *in, uint64_t pos, size_t w, const c2s_open_options *o,
                             pickle_run *p, c2s_error *err)
{
    pvm_limits limits = rd_pvm_limits(o);
    if ((p->buf = malloc(w)) == NULL || (p->vm = pvm_new(&limits)) == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    ssize_t got = pread_full(in->fd, p->buf, w, pos);
    if (got < 0 || (size_t)got != w)
        return c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
    return pvm_run(p->vm, p->buf, w, &p->value, &p->end, err);
}

/* The bytes after a bare pickle: torch.load stops at the first, but a
 * pipeline that calls pickle.load again runs the next; the sweep lists
 * what the rest of the file (up to the limit on pickle size) names. */
c2s_status rd_legacy_sweep_rest(const rd_input *in, uint64_t pos, const c2s_open_options *o,
                                c2s_report *r, c2s_error *err)
{
    uint64_t max = o && o->limits.max_pickle ? o->limits.max_pickle : C2S_DEFAULT_MAX_PICKLE;
    uint64_t room = in->size - pos < max ? in->size - pos : max;
    if (room == 0)
        return C2S_OK;
    uint8_t *buf = malloc((size_t)room);
    if (buf == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    policy_options policy = rd_policy(o);
    c2s_status st = C2S_OK;
    ssize_t got = pread_full(in->fd, buf, (size_t)room, pos);
    if (got < 0 || (uint64_t)got != room)
        st = c2s_fail(err, C2S_ERR_INPUT, "cannot read the file");
    else
        st = judge_sweep(r, buf, (size_t)room, 0, 1, "file", pos, &policy, err);
    free(buf);
    return st;
}

/* Interpret the pickle at pos; its globals go to the report in any case
 * (where "file", offsets from the start of the file). */
static c2s_status run_at(const rd_input *in, uint64_t pos, const c2s_open_options *o, c2s_report *r,
                         pickle_run *p, c2s_error *err)
{
    uint64_t max = o && o->limits.max_pickle ? o->limits.max_pickle : C2S_DEFAULT_MAX_PICKLE;
    uint64_t room = in->size - pos < max ? in->size - pos : max;
    size_t w = room < FIRST_WINDOW ? (size_t)room : FIRST_WINDOW;
    c2s_status st;
    memset(p, 0, sizeof *p);
    if (room == 0)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "truncated: no pickle at offset %llu", (unsigned long long)pos);
    for (;;) {
        memset(p, 0, sizeof *p);
        st = run_window(in, pos, w, o, p, err);
        if (st == C2S_OK || w == room)
            break;
        pickle_run_free(p); /* perhaps cut short by the window: again, larger */
        w = room / 4 < w ? (size_t)room : w * 4;
    }
    policy_options policy = rd_policy(o);
    if (p->vm != NULL && !judge_add_globals(r, p->vm, "file", pos, &policy))
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (st == C2S_OK && pvm_frame_end(p->vm) > p->end) {
        /* CPython's unpickler reads a frame longer than its file's buffer
         * whole: the next pickle.load starts at the frame's end, not after
         * the STOP.  Both readings are judged: what follows the frame too. */
        findings_add(&r->findings,
                     "the pickle at offset %llu stops %llu bytes before the end of its FRAME "
                     "(torch.load reads on from the STOP or from the frame's end, as its read "
                     "buffer happens to be)",
                     (unsigned long long)pos, (unsigned long long)(pvm_frame_end(p->vm) - p->end));
        if (rd_legacy_sweep_rest(in, pos + pvm_frame_end(p->vm), o, r, err) != C2S_OK)
            return C2S_ERR_INPUT;
    }
    if (st != C2S_OK) {
        c2s_error prefixed = *err, swept;
        /* the file ends inside the pickle: damaged (or cut short on purpose) */
        if (room == in->size - pos && (strncmp(err->msg, "pickle: truncated", 17) == 0 ||
                                       strcmp(err->msg, "pickle: no STOP opcode") == 0))
            prefixed.rule = C2S_RULE_CORRUPT;
        c2s_error_prefix(&prefixed, "pickle at offset %llu", (unsigned long long)pos);
        *err = prefixed;
        if (p->buf != NULL &&
            judge_sweep(r, p->buf, w, 0, 0, "file", pos, &policy, &swept) != C2S_OK)
            *err = swept;
    }
    return st;
}

/* ---- what the leading pickles say ---------------------------------------------------- */

/* Python's value equality with the magic number, whatever the encoding. */
int rd_legacy_is_magic(const pvm_value *v)
{
    if (v->kind != PVM_BIGINT)
        return 0;
    const unsigned char *b = (const unsigned char *)v->u.str.data;
    size_t n = v->u.str.len;
    if (n > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')))
        return strcmp(v->u.str.data, MAGIC_DECIMAL) == 0;
    while (n > sizeof MAGIC_LE && b[n - 1] == 0) /* sign extension of a positive value */
        n--;
    return n == sizeof MAGIC_LE && memcmp(b, MAGIC_LE, n) == 0;
}

static int is_protocol_version(const pvm_value *v)
{
    return (v->kind == PVM_INT && v->u.i == PROTOCOL_VERSION) ||
           (v->kind == PVM_FLOAT && v->u.f == PROTOCOL_VERSION);
}

static int looks_like_safetensors(const unsigned char *b, size_t n)
{
    if (n < 9)
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | b[i];
    return b[8] == '{' && len >= 2 && len <= C2S_ST_MAX_HEADER;
}

/* Why a file that did not start as a legacy checkpoint does not convert. */
static c2s_status what_it_is(const rd_input *in, c2s_error *err)
{
    const unsigned char *b = in->head;
    if (b[0] == 0x80)
        return c2s_fail(err, C2S_ERR_INPUT, "a bare pickle, not a PyTorch checkpoint");
    if (looks_like_safetensors(b, in->nhead))
        return c2s_fail(err, C2S_ERR_INPUT, "already a safetensors file");
    return c2s_fail(err, C2S_ERR_INPUT, "not a PyTorch checkpoint: not a zip archive");
}

/* A zip behind leading bytes: torch takes the legacy path, other tools see
 * the archive.  Two readings of one file is the mark of a polyglot. */
static void find_hidden_zip(const rd_input *in, c2s_report *r)
{
    ziplayout zl;
    c2s_error e;
    findings ignored = {0};
    if (ziplayout_read(in->fd, in->size, &zl, &ignored, &e) == C2S_OK) {
        uint64_t first = zl.n ? zl.entries[0].local_offset : zl.cd_offset;
        for (size_t i = 0; i < zl.n; i++)
            if (zl.entries[i].local_offset < first)
                first = zl.entries[i].local_offset;
        findings_add(&r->findings,
                     "%llu bytes in front of a zip archive: torch.load "
                     "reads the file as a legacy pickle, zip tools as the archive",
                     (unsigned long long)first);
        ziplayout_free(&zl);
    }
    findings_free(&ignored);
}

/* ---- storages -------------------------------------------------------------------------- */

static legacy_storage *find_storage(legacy_reader *L, const char *key)
{
    for (size_t i = 0; i < L->nst; i++) /* few storages: a scan is enough */
        if (strcmp(L->st[i].key, key) == 0)
            return &L->st[i];
    return NULL;
}

static legacy_storage *add_storage(legacy_reader *L, const char *key)
{
    if (!grow_in_place((void **)&L->st, &L->cap, L->nst + 1, sizeof *L->st))
        return NULL;
    legacy_storage *s = &L->st[L->nst];
    memset(s, 0, sizeof *s);
    if ((s->key = strdup(key)) == NULL)
        return NULL;
    L->nst++;
    return s;
}

static const pvm_value *item(const pvm_value *t, size_t i)
{
    return t->u.seq.items[i];
}

/* The view (view_key, offset, numel) of an id whose storage is root and
 * class cls.  torch.load makes the view of the first id naming view_key and
 * hands that one to every later id naming it, whatever their storage,
 * offset, numel or class; a view key that names a storage gets that
 * storage.  The tensor map reads each id's own view: refuse where the two
 * readings differ. */
static c2s_status register_view(legacy_reader *L, const legacy_storage *root, const pvm_value *cls,
                                const pvm_value *view, c2s_error *err)
{
    if (view->kind == PVM_NONE)
        return C2S_OK;
    /* torch.load looks the view's key up with ==, and a key a call makes
     * (builtins.str('1')) equals a str: refused, used by a tensor or not */
    if (view->kind != PVM_TUPLE || view->u.seq.len != 3 || item(view, 0)->kind != PVM_STR ||
        item(view, 1)->kind != PVM_INT || item(view, 2)->kind != PVM_INT)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "a storage's view is not (str key, int offset, int size): torch.load "
                        "would look it up by whatever it is");
    const char *key = item(view, 0)->u.str.data;
    size_t r = (size_t)(root - L->st);
    int64_t off = item(view, 1)->u.i, len = item(view, 2)->u.i;
    legacy_storage *v = find_storage(L, key);
    if (v != NULL && !v->is_view)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "storage view '%s' has the key of a storage: torch.load would read "
                        "that storage",
                        key);
    if (v != NULL) {
        const pvm_value *c = v->view_cls;
        if (v->view_root != r || v->view_off != off || v->view_len != len ||
            strcmp(c->u.global.module, cls->u.global.module) != 0 ||
            strcmp(c->u.global.name, cls->u.global.name) != 0)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "storage view '%s' is named again with another storage, offset, "
                            "size or class (torch.load keeps the first)",
                            key);
        return C2S_OK;
    }
    size_t at = r; /* add_storage may move the array */
    if ((v = add_storage(L, key)) == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *v = (legacy_storage){.key = v->key,
                          .is_view = 1,
                          .view_root = at,
                          .view_off = off,
                          .view_len = len,
                          .view_cls = cls};
    return C2S_OK;
}

/* The first ('storage', class, key, location, numel, view) naming a key. */
static c2s_status register_id(legacy_reader *L, const pvm_value *pid, c2s_error *err)
{
    if (pid->kind != PVM_TUPLE || pid->u.seq.len == 0 || item(pid, 0)->kind != PVM_STR)
        return c2s_fail(err, C2S_ERR_INPUT, "persistent id is not a tuple naming its type");
    const char *type = item(pid, 0)->u.str.data;
    if (strcmp(type, "module") == 0)
        return C2S_OK; /* a module's class: the object keeps it */
    if (strcmp(type, "storage") != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "unknown persistent id type '%s'", type);
    /* The first id naming a key types its storage for every later one, so
     * each is checked, used by a tensor or not: torch.load compares keys
     * with == (a key a call makes may equal a str) and reads the dtype off
     * any object given as the class. */
    if (pid->u.seq.len != 6 || item(pid, 1)->kind != PVM_GLOBAL || item(pid, 2)->kind != PVM_STR ||
        item(pid, 4)->kind != PVM_INT || item(pid, 4)->u.i < 0)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "a storage's persistent id is not ('storage', class, str key, location, "
                        "numel, view)");
    const char *key = item(pid, 2)->u.str.data;
    legacy_storage *s = find_storage(L, key);
    if (s != NULL && s->is_view)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "storage '%s' was first named as a view: torch.load would read the "
                        "view",
                        key);
    if (s == NULL) {
        if ((s = add_storage(L, key)) == NULL)
            return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
        const char *why;
        const pvm_value *cls = item(pid, 1);
        /* a quantized storage's bytes are its integers (the tensor map reads
         * it the same way) */
        s->known = strcmp(cls->u.global.module, "torch") == 0 &&
                   (c2s_dtype_from_storage_class(cls->u.global.name, &s->dtype, &why) ==
                        C2S_DTYPE_FOUND ||
                    c2s_dtype_from_quantized_storage(cls->u.global.name, &s->dtype));
        uint64_t numel = (uint64_t)item(pid, 4)->u.i;
        if (s->known && numel > UINT64_MAX / 16)
            return c2s_fail(err, C2S_ERR_INPUT, "storage '%s': size overflows", key);
        s->nbytes = s->known ? numel * c2s_dtype_size(s->dtype) : 0;
    }
    return register_view(L, s, item(pid, 1), item(pid, 5), err);
}

/* Every persistent id, in the order the pickle made them. */
static c2s_status register_storages(legacy_reader *L, c2s_error *err)
{
    size_t n = pvm_persid_count(L->vm);
    for (size_t i = 0; i < n; i++) {
        c2s_status st = register_id(L, pvm_persid_at(L->vm, i)->u.persid.pid, err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* One listed key: its element count, then its bytes, at *pos. */
static c2s_status locate_one(legacy_reader *L, const char *key, uint64_t *pos, c2s_error *err)
{
    legacy_storage *s = find_storage(L, key);
    if (s == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "storage '%s' is listed but no tensor uses it", key);
    if (s->is_view || !s->known)
        return c2s_fail(err, C2S_ERR_INPUT, "storage '%s' is listed but is %s", key,
                        s->is_view ? "a view of another storage" : "of an unknown class");
    unsigned char b[8];
    if (L->size - *pos < 8 || pread_full(L->fd, b, 8, *pos) != 8)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "truncated: storage '%s' has no element count", key);
    uint64_t count = 0;
    for (int i = 7; i >= 0; i--)
        count = (count << 8) | b[i];
    size_t es = c2s_dtype_size(s->dtype);
    if (count > UINT64_MAX / es || count * es != s->nbytes)
        return c2s_fail(err, C2S_ERR_INPUT,
                        "storage '%s' has %llu elements in the file, %llu in the pickle", key,
                        (unsigned long long)count, (unsigned long long)(s->nbytes / es));
    *pos += 8;
    if (L->size - *pos < s->nbytes)
        return c2s_fail_rule(err, C2S_ERR_INPUT, C2S_RULE_CORRUPT,
                             "truncated: storage '%s' needs %llu bytes, %llu left", key,
                             (unsigned long long)s->nbytes, (unsigned long long)(L->size - *pos));
    s->has_data = 1;
    s->data_off = *pos; /* a key listed again is read again: the last read wins */
    *pos += s->nbytes;
    return C2S_OK;
}

static c2s_status locate_storages(legacy_reader *L, const pvm_value *keys, uint64_t pos,
                                  c2s_report *r, c2s_error *err)
{
    if (keys->kind != PVM_LIST && keys->kind != PVM_TUPLE)
        return c2s_fail(err, C2S_ERR_INPUT, "the storage keys are a %s, not a list",
                        pvm_kind_name(keys->kind));
    for (size_t i = 0; i < keys->u.seq.len; i++) {
        const pvm_value *k = item(keys, i);
        if (k->kind != PVM_STR)
            return c2s_fail(err, C2S_ERR_INPUT, "a storage key is a %s, not a str",
                            pvm_kind_name(k->kind));
        if (pvm_str_has_nul(k)) /* torch.load would not find 'a\0x' */
            return c2s_fail(err, C2S_ERR_INPUT, "listed storage key '%s...' holds a NUL byte",
                            k->u.str.data);
        c2s_status st = locate_one(L, k->u.str.data, &pos, err);
        if (st != C2S_OK)
            return st;
    }
    if (pos < L->size)
        findings_add(&r->findings, "%llu bytes after the last storage of a legacy checkpoint",
                     (unsigned long long)(L->size - pos));
    return C2S_OK;
}

/* ---- the reader -------------------------------------------------------------------------- */

static void legacy_close(void *impl)
{
    legacy_reader *L = impl;
    if (L == NULL)
        return;
    for (size_t i = 0; i < L->nst; i++)
        free(L->st[i].key);
    free(L->st);
    pvm_free(L->vm);
    free(L->pickle);
    free(L);
}

/* Pickles 1 to 3: magic number, protocol version, system info. */
static c2s_status read_preamble(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                                uint64_t *pos, c2s_error *err)
{
    for (int k = 1; k <= 3; k++) {
        pickle_run p;
        c2s_status st = run_at(in, *pos, o, r, &p, err);
        int ok = st == C2S_OK && (k != 1 || rd_legacy_is_magic(p.value)) &&
                 (k != 2 || is_protocol_version(p.value));
        if (st == C2S_OK && !ok && k == 2)
            st = c2s_fail(err, C2S_ERR_INPUT, "invalid protocol version");
        *pos += p.end;
        pickle_run_free(&p);
        if (k == 1 && !ok && st == C2S_OK) { /* a whole pickle, not a checkpoint */
            if (rd_legacy_sweep_rest(in, *pos, o, r, err) != C2S_OK)
                return C2S_ERR_INPUT;
            what_it_is(in, err);
            err->rule = C2S_RULE_NO_TENSORS;
            return C2S_ERR_INPUT;
        }
        if (k == 1 && !ok)
            return what_it_is(in, err);
        if (st != C2S_OK)
            return st;
    }
    return C2S_OK;
}

/* Pickles 4 and 5: the object (kept), the storage keys; then the storages. */
static c2s_status read_object(legacy_reader *L, const rd_input *in, const c2s_open_options *o,
                              c2s_report *r, uint64_t pos, const pvm_value **top, c2s_error *err)
{
    pickle_run obj, keys;
    c2s_status st = run_at(in, pos, o, r, &obj, err);
    L->vm = obj.vm;
    L->pickle = obj.buf;
    if (st != C2S_OK)
        return st;
    pos += obj.end;
    if ((st = run_at(in, pos, o, r, &keys, err)) == C2S_OK &&
        (st = register_storages(L, err)) == C2S_OK)
        st = locate_storages(L, keys.value, pos + keys.end, r, err);
    pickle_run_free(&keys);
    if (st == C2S_OK)
        *top = obj.value;
    return st;
}

static c2s_status legacy_open(rd_input *in, const c2s_open_options *o, void **impl, c2s_report *r,
                              const pvm_value **top, c2s_error *err)
{
    legacy_reader *L = calloc(1, sizeof *L);
    if (L == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    *impl = L;
    L->fd = in->fd;
    L->size = in->size;
    find_hidden_zip(in, r);
    if (legacy_tar_takes(in)) {
        c2s_status st = legacy_tar_judge(in, o, r, err);
        return st != C2S_OK ? st
                            : c2s_fail(err, C2S_ERR_INPUT,
                                       "PyTorch legacy tar format (before 0.4) is not supported");
    }
    uint64_t pos = 0;
    c2s_status st = read_preamble(in, o, r, &pos, err);
    if (st == C2S_OK)
        st = read_object(L, in, o, r, pos, top, err);
    if (st != C2S_OK && in->nhead >= sizeof MAGIC_PICKLE &&
        memcmp(in->head, MAGIC_PICKLE, sizeof MAGIC_PICKLE) == 0)
        c2s_error_prefix(err, "legacy checkpoint");
    return st;
}

static int legacy_sniff(const rd_input *in)
{
    (void)in;
    return 1; /* the last reader: everything torch.load does not open as a zip */
}

static c2s_status legacy_verify_all(void *impl, findings *f, c2s_error *err)
{
    (void)impl, (void)f, (void)err;
    return C2S_OK; /* the format records no checksums; lengths were checked at open */
}

static c2s_status legacy_check_storages(void *impl, const tmap *m, c2s_error *err)
{
    legacy_reader *L = impl;
    for (size_t i = 0; i < m->nstorages; i++) {
        const tmap_storage *t = &m->storages[i];
        const legacy_storage *s = find_storage(L, t->key);
        if (s == NULL || !s->has_data)
            return c2s_fail(err, C2S_ERR_INPUT, "storage '%s' has no data in the file", t->key);
        if (s->dtype != t->dtype || s->nbytes != t->nbytes)
            return c2s_fail(err, C2S_ERR_INPUT,
                            "storage '%s' is used with two types or sizes (torch keeps the first)",
                            t->key);
    }
    return C2S_OK;
}

static c2s_status legacy_stream_open(void *impl, const char *key, rd_stream *s, c2s_error *err)
{
    legacy_reader *L = impl;
    const legacy_storage *st = find_storage(L, key);
    if (st == NULL || !st->has_data)
        return c2s_fail(err, C2S_ERR_INPUT, "storage '%s' has no data in the file", key);
    char name[300];
    snprintf(name, sizeof name, "storage %s", key);
    rd_range_stream_open(s, L->fd, st->data_off, st->nbytes, name);
    return C2S_OK;
}

static int legacy_big_endian(const void *impl)
{
    (void)impl;
    return 0; /* torch writes legacy storages little-endian on every host */
}

static uint64_t legacy_object_count(const void *impl)
{
    const legacy_reader *L = impl;
    return L->vm ? pvm_value_count(L->vm) : 0;
}

const rd_ops rd_legacy_ops = {
    .format = "not a zip (legacy load path)",
    .legacy_ids = 1,
    .sniff = legacy_sniff,
    .open = legacy_open,
    .verify_all = legacy_verify_all,
    .check_storages = legacy_check_storages,
    .stream_open = legacy_stream_open,
    .big_endian = legacy_big_endian,
    .object_count = legacy_object_count,
    .close = legacy_close,
};
