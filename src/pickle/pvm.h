/*
 * pvm.h - the restricted pickle virtual machine.
 *
 * pvm_run() interprets a pickle (protocols 0 to 5) and rebuilds the object
 * graph it describes as inert pvm_value nodes.  It accepts what CPython's C
 * unpickler (Modules/_pickle.c, Python 3.11, the one torch.load uses)
 * accepts, opcode by opcode, and reads it the same way; where it cannot
 * follow it refuses, never reads differently.  It may accept more (it
 * never imports, so a global CPython cannot find still loads).
 * Nothing is ever imported or called: GLOBAL / STACK_GLOBAL / INST produce
 * a PVM_GLOBAL naming "module.name" (Python-2 names mapped to Python 3
 * while the protocol is below 3, as find_class does), and
 * REDUCE / NEWOBJ / NEWOBJ_EX / INST / OBJ applied to a global produce a
 * PVM_CALL node that records the callable and its arguments.  BUILD stores
 * its state on the node; SETITEM(S) / APPEND(S) / ADDITEMS on a PVM_CALL
 * are recorded on the node too, because Python would route them to the
 * object.
 *
 * A handful of calls of the standard library are interpreted because they
 * only build plain containers, and walkers need the containers themselves:
 *   collections.OrderedDict()  / OrderedDict([(k, v), ...])  -> PVM_DICT
 *   builtins.set(list) / builtins.frozenset(list)            -> PVM_SET / PVM_FROZENSET
 *   _codecs.encode(str, "latin1")                            -> PVM_BYTES
 *   builtins.bytes()  (how protocols 0-2 write b'')          -> PVM_BYTES
 * Everything else stays a PVM_CALL, whatever it may build in Python (a
 * tuple subclass, a tensor): the caller decides what a call means.
 *
 * Every global named by the pickle is recorded once in a table, with a mask
 * of how it was used (referenced, called by REDUCE, ...) and the offset of
 * its first occurrence: the safety policy reads that table.
 *
 * Memory: every node is owned by the pvm and freed by pvm_free() in one
 * linear pass (no recursion).  None, True, False, the empty tuple and the
 * ints -5..256 are made once and shared, as CPython shares them; nothing
 * changes such a node after it is made.  Every length read from the pickle
 * is checked against the bytes that remain and against the limits before
 * anything is allocated, so memory stays proportional to the size of the
 * pickle.
 * The graph may contain cycles and shared sub-graphs (memo, DUP); walkers
 * must be iterative and must track visited nodes.
 */
#ifndef PVM_H
#define PVM_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"
#include "util/slabs.h"

typedef enum pvm_kind {
    PVM_NONE,
    PVM_BOOL,
    PVM_INT,       /* fits int64_t: u.i */
    PVM_BIGINT,    /* an integer outside int64_t: u.str holds its shortest
                      little-endian two's complement (what LONG1 holds and
                      CPython's encode_long writes), whichever opcode made
                      it, so that equal values have equal bytes */
    PVM_FLOAT,     /* u.f */
    PVM_STR,       /* UTF-8 in u.str (NUL-terminated, len excludes NUL);
                      lone surrogates U+D800..U+DFFF, which CPython accepts
                      in BINUNICODE ("surrogatepass") and UNICODE (\\ud800),
                      are in their 3-byte form ED A0 80..ED BF BF, one per
                      code point, so equal bytes still mean equal str */
    PVM_BYTES,     /* u.str, arbitrary bytes (NUL-terminated for convenience) */
    PVM_TUPLE,     /* u.seq */
    PVM_LIST,      /* u.seq */
    PVM_SET,       /* u.seq (insertion order, duplicates not removed) */
    PVM_FROZENSET, /* u.seq */
    PVM_DICT,      /* u.dict, insertion order; a later SETITEM with a key
                      Python finds equal (same str / bytes / None / global,
                      numbers by value: 1 == 1.0 == True, tuples of such
                      item by item) replaces the value in place */
    PVM_GLOBAL,    /* u.global: a reference to module.name, never resolved */
    PVM_CALL,      /* u.call: the inert result of calling a global */
    PVM_PERSID     /* u.persid: result of PERSID / BINPERSID */
} pvm_kind;

/* How a PVM_CALL node was made (also used as bits in pvm_global.uses).  The
 * bits are the public C2S_USE_* of c2s.h (asserted below). */
typedef enum pvm_use {
    PVM_USE_REF = 1u << 0,    /* the global was named at all */
    PVM_USE_REDUCE = 1u << 1, /* called by REDUCE */
    PVM_USE_NEWOBJ = 1u << 2, /* instantiated by NEWOBJ or NEWOBJ_EX */
    PVM_USE_BUILD = 1u << 3,  /* an object made from it received BUILD */
    PVM_USE_INST = 1u << 4,   /* instantiated by INST */
    PVM_USE_OBJ = 1u << 5     /* instantiated by OBJ */
} pvm_use;

_Static_assert(PVM_USE_REF == C2S_USE_REF && PVM_USE_REDUCE == C2S_USE_REDUCE &&
                   PVM_USE_NEWOBJ == C2S_USE_NEWOBJ && PVM_USE_BUILD == C2S_USE_BUILD &&
                   PVM_USE_INST == C2S_USE_INST && PVM_USE_OBJ == C2S_USE_OBJ,
               "pvm_use bits are the public C2S_USE_* bits");

typedef struct pvm_value pvm_value;

/* One entry of a PVM_DICT. */
typedef struct pvm_pair {
    pvm_value *key, *val;
} pvm_pair;

/* What a PVM_CALL received besides its callable and arguments; rare (a
 * state dict's tensors have none of it), so kept out of the node, which it
 * would make bigger: read it with pvm_call_state(), pvm_call_kwargs() and
 * friends. */
typedef struct pvm_call_more {
    pvm_value *state;     /* last BUILD state, else NULL */
    pvm_value *kwargs;    /* NEWOBJ_EX keyword dict, else NULL */
    pvm_value *listitems; /* PVM_LIST of APPEND(S) and ADDITEMS items in
                             order, else NULL */
    pvm_value *dictitems; /* PVM_DICT of SETITEM(S) items, else NULL */
} pvm_call_more;

/* `how` of a PVM_LIST, PVM_DICT or PVM_SET: PVM_TAKEN once a call took it
 * as an argument (or keyword arguments) or a BUILD as its state, and
 * PVM_CHANGED_AFTER_TAKEN once APPEND(S), SETITEM(S) or ADDITEMS changed
 * it after that.  CPython's callee had what the container held then:
 * torch's rebuild functions copy a size list, Module.__setstate__ copies
 * its state dict; a reader of the graph, which sees the container as it
 * ended, must not read one changed after it was taken.  The other bits of
 * `how` on these nodes, and on tuples, are the machine's own (pvm.c). */
enum { PVM_TAKEN = 1, PVM_CHANGED_AFTER_TAKEN = 2 };

struct pvm_value {
    unsigned char kind; /* a pvm_kind (one byte: see the assertion below) */
    unsigned char how;  /* PVM_CALL: PVM_USE_REDUCE, _NEWOBJ, _INST or _OBJ;
                           PVM_LIST, _DICT, _SET: PVM_TAKEN bits (above) */
    uint32_t id;        /* 0..pvm_object_count()-1, unique: index for visited marks */
    union {
        int b;
        int64_t i;
        double f;
        struct {
            char *data;
            size_t len;
            int bytearray; /* PVM_BYTES from BYTEARRAY8: APPEND(S) and
                              SETITEM(S) change it, as in Python */
            int in_arena;  /* data is the VM's (never freed alone), not malloc'd */
        } str;
        struct {
            pvm_value **items;
            size_t len, cap;
        } seq;
        struct {
            pvm_pair *pairs;   /* len of cap in use, in insertion order */
            uint32_t len, cap; /* (max_container is below 2^32 for dicts: pvm.c) */
            pvm_value *state;  /* BUILD state (OrderedDict's _metadata), or NULL */
        } dict;
        struct {
            const char *module; /* after Python-2 name mapping */
            const char *name;
            size_t index; /* into the globals table */
        } global;
        struct {
            pvm_value *callable; /* usually a PVM_GLOBAL; may be any value */
            pvm_value *args;     /* PVM_TUPLE (empty tuple when none) */
            pvm_call_more *more; /* state, kwargs, listitems, dictitems; NULL: none */
        } call;
        struct {
            pvm_value *pid;
        } persid;
    } u;
};

/* A million-tensor pickle makes millions of nodes: keep them small (kind
 * and how in a byte each; a dict's keys and values in one array of pairs,
 * its length and capacity 32 bits; a call's rarer parts behind `more`; so
 * that no member of the union is over 24 bytes). */
_Static_assert(sizeof(pvm_value) <= 32, "pvm_value is 32 bytes on 64-bit targets");
_Static_assert(PVM_USE_OBJ <= 255, "a pvm_use fits pvm_value.how");
_Static_assert(PVM_PERSID <= 255, "a pvm_kind fits pvm_value.kind");

/* The parts of a PVM_CALL's pvm_call_more (NULL when it has none). */
static inline pvm_value *pvm_call_state(const pvm_value *call)
{
    return call->u.call.more != NULL ? call->u.call.more->state : NULL;
}

static inline pvm_value *pvm_call_kwargs(const pvm_value *call)
{
    return call->u.call.more != NULL ? call->u.call.more->kwargs : NULL;
}

static inline pvm_value *pvm_call_listitems(const pvm_value *call)
{
    return call->u.call.more != NULL ? call->u.call.more->listitems : NULL;
}

static inline pvm_value *pvm_call_dictitems(const pvm_value *call)
{
    return call->u.call.more != NULL ? call->u.call.more->dictitems : NULL;
}

/* One global named by the pickle. */
typedef struct pvm_global {
    const char *module; /* after mapping (__builtin__ -> builtins, ...) */
    const char *name;
    const char *raw_module;  /* as written in the pickle */
    unsigned uses;           /* pvm_use bits */
    size_t first_offset;     /* byte offset of the opcode that first named it */
    unsigned char interp;    /* the VM's own: which call it interprets, if any */
    unsigned char arg_calls; /* the VM's own: whether a call of it calls its arguments */
} pvm_global;

#define PVM_HAZARDS_KEPT 4
#define PVM_HAZARD_MAX 200

/* Resource limits; every field 0 means "use the default". */
typedef struct pvm_limits {
    size_t max_objects;   /* nodes created (default 50,000,000) */
    size_t max_memo;      /* memo entries (default 10,000,000) */
    size_t max_stack;     /* values on the stack plus marks (default 1,000,000) */
    size_t max_string;    /* bytes in one str/bytes/bigint (default 256 MiB) */
    size_t max_container; /* items in one container (default 100,000,000) */
} pvm_limits;

typedef struct pvm pvm;

/* Create an empty machine.  limits may be NULL.  Returns NULL when out of memory. */
pvm *pvm_new(const pvm_limits *limits);

/* Free the machine and every value it made.  NULL is a no-op. */
void pvm_free(pvm *vm);

/*
 * Interpret data[0..len) up to and including STOP.  On success *result is the
 * value STOP returned (owned by vm) and *end (if non-NULL) is the offset just
 * past the STOP opcode; bytes after it are not read.  On failure returns
 * C2S_ERR_INPUT with a message that names the opcode and its byte offset,
 * e.g. "pickle: unknown opcode 0xff at offset 17", "pickle: stack underflow
 * in REDUCE at offset 40", "pickle: memo index 7 not defined (BINGET at
 * offset 12)", "pickle: truncated: BINUNICODE at offset 3 needs 100 bytes,
 * 5 left", "pickle: no STOP opcode", "pickle: limit exceeded: ...".
 * A machine is used for one run only.
 */
c2s_status pvm_run(pvm *vm, const uint8_t *data, size_t len, pvm_value **result, size_t *end,
                   c2s_error *err);

/* The globals table, in order of first occurrence. */
size_t pvm_global_count(const pvm *vm);
const pvm_global *pvm_global_at(const pvm *vm, size_t i);

/* The offset just past the last FRAME the pickle opened (0: none).  After
 * a run, a frame_end beyond the end (the byte after STOP) says the pickle
 * stopped inside its frame: CPython's unpickler reading a file then leaves
 * the file at the STOP or at the frame's end, depending on its read buffer. */
size_t pvm_frame_end(const pvm *vm);

/* Number of nodes created so far (ids are 0..count-1). */
size_t pvm_object_count(const pvm *vm);

/* Number of values the pickle made: the nodes plus every reuse of a shared
 * one (None, True, False, the empty tuple and the ints -5..256 are one node
 * each, as they are one object each in CPython).  What budgets proportional
 * to the pickle (tmap's visits) are based on; at least pvm_object_count. */
size_t pvm_value_count(const pvm *vm);

/* The node with id i (i < pvm_object_count): nodes in the order the
 * opcodes that made them ran, e.g. persistent ids in the order Python's
 * persistent_load would have been called. */
const pvm_value *pvm_node_at(const pvm *vm, size_t i);

/* The thread that faulted the graph's slabs in ahead of the run (a pickle
 * of 4 MiB or more, util/slabs.h), kept once the run is over for the
 * prefault requests of whoever fills a big table from the graph (the
 * tensor map) until pvm_free; NULL when there is none. */
slab_supply *pvm_slab_supply(pvm *vm);

/* The PVM_PERSID nodes alone, in the same order (i < pvm_persid_count):
 * the calls Python's persistent_load would have had, without a walk over
 * every node. */
size_t pvm_persid_count(const pvm *vm);
const pvm_value *pvm_persid_at(const pvm *vm, size_t i);

/* Hazards: what CPython would call, or set on an object, that is not the
 * call of a global the globals table records, and that the caller's
 * policy therefore never sees.  Each one is a one-line message naming the
 * opcode and its offset:
 *   - a REDUCE, NEWOBJ, NEWOBJ_EX or OBJ whose callable is not a global (a
 *     call's result, a container, a persistent id: calling an object runs
 *     its type's __call__, a module's forward);
 *   - a BUILD whose state sets a dunder attribute (load_build looks
 *     __setstate__ up on the object at every BUILD, so an instance
 *     attribute '__setstate__' set by one BUILD is called by the next);
 *     that builds an object built already (CPython applies both states;
 *     pickle.dump writes one); or that sets attributes of a global (a
 *     class, a function, a module) or of a persistent id's object (a
 *     storage: its dtype and bytes);
 *   - APPEND(S) or ADDITEMS on a call result whose BUILD state set its own
 *     extend, append or add (load_append looks them up on the object), and
 *     APPEND, SETITEM(S) or ADDITEMS on a global (a module-level list or
 *     dict) or a persistent id (a storage: SETITEM writes its bytes);
 *   - torch._tensor._rebuild_from_type(_v2) given a func or new_type that is
 *     not a global (it calls func(*args)), or a state that sets a dunder
 *     attribute or (v2, whose setattr runs torch.Tensor's setters: .data
 *     and .real replace or overwrite the values) one of torch.Tensor's data
 *     descriptors; other attributes (a subclass's tag) are plain data.  A
 *     global given as func is
 *     recorded as called (PVM_USE_REDUCE), one given as new_type as
 *     instantiated (PVM_USE_NEWOBJ | PVM_USE_BUILD); PyTorch 2's
 *     torch._utils._rebuild_parameter_with_state sets its state (argument
 *     4) with setattr too, so the same state rule holds for it.
 *   - a BUILD state, or the state a rebuild function sets on its tensor,
 *     that a call with arguments makes (dict([...]), OrderedDict({...})):
 *     its keys are not known here.
 * The first PVM_HAZARDS_KEPT are kept (i < that and < pvm_hazard_count). */
size_t pvm_hazard_count(const pvm *vm);
const char *pvm_hazard_at(const pvm *vm, size_t i);

/* The (module, name) CPython's find_class looks up for a Python 2 pair
 * while the protocol is below 3 (the tables of Lib/_compat_pickle.py): the
 * pointers are replaced by static strings when the pair is renamed, and
 * left alone otherwise.  For names found outside the machine (sweep.h). */
void pvm_map_python2(const uint8_t **module, size_t *module_len, const uint8_t **name,
                     size_t *name_len);

/* Convenience predicates for walkers. */
int pvm_is_global(const pvm_value *v, const char *module, const char *name);

/* Whether v is the str s[0..n), all of it: a str may hold NUL bytes, where
 * C string functions stop ('_buffers\0x' is not '_buffers' to Python). */
int pvm_str_is(const pvm_value *v, const char *s, size_t n);

/* Whether str (or bytes) v holds a NUL byte: seen as a C string it would
 * be cut short there. */
int pvm_str_has_nul(const pvm_value *v);
/* Look up a str key in a PVM_DICT; NULL when absent or v is not a dict. */
pvm_value *pvm_dict_get_str(const pvm_value *v, const char *key);
/* Human-readable kind name ("dict", "tuple", ...). */
const char *pvm_kind_name(pvm_kind kind);

#endif /* PVM_H */
