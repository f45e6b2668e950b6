/*
 * pvm.c - the restricted pickle virtual machine (see src/pickle/pvm.h).
 *
 * The machine reads a pickle one opcode at a time and keeps the same state as
 * CPython's C unpickler (Modules/_pickle.c, the load_* functions of Python
 * 3.11): a value stack, a stack of marks, and a memo.  Each opcode accepts
 * what its load_* function accepts and gives the same value; the comments
 * name the function.  Nothing is ever imported or called; every value is
 * an inert pvm_value node.  tests/diff/pvm_diff.py compares the two on
 * thousands of small pickles.
 *
 * Layout of the state:
 *   - nodes live in fixed-size chunks, so a node never moves and ids are
 *     simply the creation index; pvm_free() walks the chunks linearly, which
 *     is why cycles (a list appended to itself) cost nothing to free.  The
 *     first 2 MiB of chunks are malloc'd, the others cut from slabs of
 *     2 MiB on transparent huge pages (util/huge.h, chunk_memory()): a graph
 *     of millions of nodes costs a page fault per 2 MiB, not per 4 KiB.
 *   - the item arrays of tuples, which never change, and the rare extras
 *     of calls (pvm_call_more) come from an arena (util/arena.h): no malloc
 *     header on each of millions of small arrays; the arena is marked big,
 *     so past 4 MiB (from the start for a pickle of SLABS_MIN bytes) it
 *     grows in huge-page slabs too.  The bytes of str and int nodes made
 *     from a length-prefixed opcode, which never change either, come
 *     unaligned from another (a key of 6 bytes costs 7, not 32), in slabs
 *     too for a pickle of SLABS_MIN bytes.  Such a pickle also starts its
 *     memo array and its dict-key index big (HUGE_MIN bytes, 2^18 slots),
 *     mappings of their own rather than tables grown through malloc's heap.
 *   - the value stack is one array; a mark is the stack length at MARK time.
 *     As in CPython, values below the newest mark are out of reach until the
 *     mark is popped (the "frame" of the stack).
 *   - the memo is a dense array for the indexes pickles really use (0, 1,
 *     2, ...: what pickle.dump writes) plus an open-addressing hash map for
 *     the others, so a pickle writing LONG_BINPUT 4000000000 costs one hash
 *     slot, not 32 GiB.  The array only grows to cover an index below twice
 *     the number of memo entries (plus a little), so it stays proportional to
 *     the entries whatever the indexes; a lookup of a dense index is one
 *     load (and the node's address from its id), where hashing a million
 *     keys into a table of 16-byte slots cost a cache miss per lookup.  A
 *     dense entry is the node's 32-bit id + 1, not a pointer: half the
 *     memory of the run's largest table.
 *   - the globals table is an array in order of first use plus a hash index
 *     on (module, name), so a million distinct globals stay linear.
 *   - dict keys that are scalars (str, bytes, int, bool, None) go into one
 *     machine-wide hash index keyed by (dict, key), so that SETITEM with an
 *     existing key replaces the value in place without quadratic scans.
 *   - the memo's two tables and the dict-key index live only while the
 *     machine runs: they are big tables (util/huge.h big_calloc), which past
 *     4 MiB are mappings of their own, given straight back to the system
 *     when the run ends rather than left as holes in malloc's heap under the
 *     graph.  The end of the run also gives back the untouched ends of the
 *     last node slab and arena slab (release_spare_memory()).
 *
 * Safety: every length read from the pickle is checked against the bytes
 * that remain before anything is allocated, then against pvm_limits; all
 * size arithmetic is overflow-checked; containers grow geometrically.
 * Containers that are copied by an interpreted call (set(list),
 * OrderedDict(pairs)) count their items against the object limit, so that
 * a short pickle cannot multiply memory by calling set() on one big list
 * again and again.
 *
 * Errors are one line and name the opcode and its byte offset; the status is
 * always C2S_ERR_INPUT.
 */
#include "pickle/pvm.h"
#include "util/arena.h"
#include "util/grow.h"
#include "util/hex.h"
#include "util/utf8.h"
#include "util/huge.h"
#include "util/le.h"
#include "util/slabs.h"
#include "util/strhash.h"

#include <inttypes.h>
#include <locale.h> /* newlocale(), strtod_l(): floats read in the "C" locale */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_OBJECTS ((size_t)50000000)
#define DEFAULT_MAX_MEMO ((size_t)10000000)
#define DEFAULT_MAX_STACK ((size_t)1000000)
#define DEFAULT_MAX_STRING ((size_t)256 << 20)
#define DEFAULT_MAX_CONTAINER ((size_t)100000000)

#define NODES_PER_CHUNK 4096
#define CHUNK_BYTES (NODES_PER_CHUNK * sizeof(pvm_value))
#define CHUNKS_PER_SLAB (HUGE_PAGE / CHUNK_BYTES)
#define MALLOC_CHUNKS CHUNKS_PER_SLAB /* the first 2 MiB of nodes: malloc'd */
/* From this many bytes of pickle on, node slabs are faulted in ahead on a
 * thread (util/slabs.h): a pickle this long may make megabytes of nodes. */
#define SLABS_MIN ((size_t)4 << 20)
_Static_assert(HUGE_PAGE % (NODES_PER_CHUNK * sizeof(pvm_value)) == 0, "a slab holds whole chunks");
/* CPython's cache of small ints (Objects/longobject.c, _PY_NSMALLNEGINTS and
 * _PY_NSMALLPOSINTS): these values are one object each */
#define SMALL_INT_MIN (-5)
#define SMALL_INT_MAX 256
#define HIGHEST_PROTOCOL 5

#define TRY(expr)                        \
    do {                                 \
        c2s_status try_status_ = (expr); \
        if (try_status_ != C2S_OK)       \
            return try_status_;          \
    } while (0)

/* c2s_fail returns its status argument, but the compiler cannot see that
 * from here; naming the constant lets it prove error paths never fall
 * through to code that reads unset outputs. */
#define FAIL(vm, ...) (c2s_fail((vm)->err, C2S_ERR_INPUT, __VA_ARGS__), C2S_ERR_INPUT)
#define FAIL_LIMIT(vm, rule, ...) \
    (c2s_fail_rule((vm)->err, C2S_ERR_INPUT, rule, __VA_ARGS__), C2S_ERR_INPUT)

/* ------------------------------------------------------------------ */
/* Opcodes                                                              */

enum opcode {
    OP_MARK = '(',
    OP_STOP = '.',
    OP_POP = '0',
    OP_POP_MARK = '1',
    OP_DUP = '2',
    OP_FLOAT = 'F',
    OP_INT = 'I',
    OP_BININT = 'J',
    OP_BININT1 = 'K',
    OP_LONG = 'L',
    OP_BININT2 = 'M',
    OP_NONE = 'N',
    OP_PERSID = 'P',
    OP_BINPERSID = 'Q',
    OP_REDUCE = 'R',
    OP_STRING = 'S',
    OP_BINSTRING = 'T',
    OP_SHORT_BINSTRING = 'U',
    OP_UNICODE = 'V',
    OP_BINUNICODE = 'X',
    OP_APPEND = 'a',
    OP_BUILD = 'b',
    OP_GLOBAL = 'c',
    OP_DICT = 'd',
    OP_EMPTY_DICT = '}',
    OP_APPENDS = 'e',
    OP_GET = 'g',
    OP_BINGET = 'h',
    OP_INST = 'i',
    OP_LONG_BINGET = 'j',
    OP_LIST = 'l',
    OP_EMPTY_LIST = ']',
    OP_OBJ = 'o',
    OP_PUT = 'p',
    OP_BINPUT = 'q',
    OP_LONG_BINPUT = 'r',
    OP_SETITEM = 's',
    OP_TUPLE = 't',
    OP_EMPTY_TUPLE = ')',
    OP_SETITEMS = 'u',
    OP_BINFLOAT = 'G',
    OP_PROTO = 0x80,
    OP_NEWOBJ = 0x81,
    OP_EXT1 = 0x82,
    OP_EXT2 = 0x83,
    OP_EXT4 = 0x84,
    OP_TUPLE1 = 0x85,
    OP_TUPLE2 = 0x86,
    OP_TUPLE3 = 0x87,
    OP_NEWTRUE = 0x88,
    OP_NEWFALSE = 0x89,
    OP_LONG1 = 0x8a,
    OP_LONG4 = 0x8b,
    OP_BINBYTES = 'B',
    OP_SHORT_BINBYTES = 'C',
    OP_SHORT_BINUNICODE = 0x8c,
    OP_BINUNICODE8 = 0x8d,
    OP_BINBYTES8 = 0x8e,
    OP_EMPTY_SET = 0x8f,
    OP_ADDITEMS = 0x90,
    OP_FROZENSET = 0x91,
    OP_NEWOBJ_EX = 0x92,
    OP_STACK_GLOBAL = 0x93,
    OP_MEMOIZE = 0x94,
    OP_FRAME = 0x95,
    OP_BYTEARRAY8 = 0x96,
    OP_NEXT_BUFFER = 0x97,
    OP_READONLY_BUFFER = 0x98
};

/* NULL marks a byte that is not an opcode. */
static const char *const OPCODE_NAMES[256] = {
    [OP_MARK] = "MARK",
    [OP_STOP] = "STOP",
    [OP_POP] = "POP",
    [OP_POP_MARK] = "POP_MARK",
    [OP_DUP] = "DUP",
    [OP_FLOAT] = "FLOAT",
    [OP_INT] = "INT",
    [OP_BININT] = "BININT",
    [OP_BININT1] = "BININT1",
    [OP_LONG] = "LONG",
    [OP_BININT2] = "BININT2",
    [OP_NONE] = "NONE",
    [OP_PERSID] = "PERSID",
    [OP_BINPERSID] = "BINPERSID",
    [OP_REDUCE] = "REDUCE",
    [OP_STRING] = "STRING",
    [OP_BINSTRING] = "BINSTRING",
    [OP_SHORT_BINSTRING] = "SHORT_BINSTRING",
    [OP_UNICODE] = "UNICODE",
    [OP_BINUNICODE] = "BINUNICODE",
    [OP_APPEND] = "APPEND",
    [OP_BUILD] = "BUILD",
    [OP_GLOBAL] = "GLOBAL",
    [OP_DICT] = "DICT",
    [OP_EMPTY_DICT] = "EMPTY_DICT",
    [OP_APPENDS] = "APPENDS",
    [OP_GET] = "GET",
    [OP_BINGET] = "BINGET",
    [OP_INST] = "INST",
    [OP_LONG_BINGET] = "LONG_BINGET",
    [OP_LIST] = "LIST",
    [OP_EMPTY_LIST] = "EMPTY_LIST",
    [OP_OBJ] = "OBJ",
    [OP_PUT] = "PUT",
    [OP_BINPUT] = "BINPUT",
    [OP_LONG_BINPUT] = "LONG_BINPUT",
    [OP_SETITEM] = "SETITEM",
    [OP_TUPLE] = "TUPLE",
    [OP_EMPTY_TUPLE] = "EMPTY_TUPLE",
    [OP_SETITEMS] = "SETITEMS",
    [OP_BINFLOAT] = "BINFLOAT",
    [OP_PROTO] = "PROTO",
    [OP_NEWOBJ] = "NEWOBJ",
    [OP_EXT1] = "EXT1",
    [OP_EXT2] = "EXT2",
    [OP_EXT4] = "EXT4",
    [OP_TUPLE1] = "TUPLE1",
    [OP_TUPLE2] = "TUPLE2",
    [OP_TUPLE3] = "TUPLE3",
    [OP_NEWTRUE] = "NEWTRUE",
    [OP_NEWFALSE] = "NEWFALSE",
    [OP_LONG1] = "LONG1",
    [OP_LONG4] = "LONG4",
    [OP_BINBYTES] = "BINBYTES",
    [OP_SHORT_BINBYTES] = "SHORT_BINBYTES",
    [OP_SHORT_BINUNICODE] = "SHORT_BINUNICODE",
    [OP_BINUNICODE8] = "BINUNICODE8",
    [OP_BINBYTES8] = "BINBYTES8",
    [OP_EMPTY_SET] = "EMPTY_SET",
    [OP_ADDITEMS] = "ADDITEMS",
    [OP_FROZENSET] = "FROZENSET",
    [OP_NEWOBJ_EX] = "NEWOBJ_EX",
    [OP_STACK_GLOBAL] = "STACK_GLOBAL",
    [OP_MEMOIZE] = "MEMOIZE",
    [OP_FRAME] = "FRAME",
    [OP_BYTEARRAY8] = "BYTEARRAY8",
    [OP_NEXT_BUFFER] = "NEXT_BUFFER",
    [OP_READONLY_BUFFER] = "READONLY_BUFFER",
};

/* ------------------------------------------------------------------ */
/* Python 2 -> Python 3 names (the data of Lib/_compat_pickle.py)       */

typedef struct module_rename {
    const char *py2, *py3;
} module_rename;

static const module_rename MODULE_RENAMES[] = {
    {"__builtin__", "builtins"},
    {"copy_reg", "copyreg"},
    {"exceptions", "builtins"},
    {"cPickle", "pickle"},
    {"UserDict", "collections"},
    {"UserList", "collections"},
    {"UserString", "collections"},
    {"Queue", "queue"},
    {"SocketServer", "socketserver"},
    {"ConfigParser", "configparser"},
    {"repr", "reprlib"},
    {"_winreg", "winreg"},
    {"thread", "_thread"},
    {"dummy_thread", "_dummy_thread"},
    {"httplib", "http.client"},
    {"commands", "subprocess"},
    {"urllib2", "urllib.request"},
    {"cStringIO", "io"},
    {"StringIO", "io"},
    {"whichdb", "dbm"},
    {"anydbm", "dbm"},
    {"dbhash", "dbm.bsd"},
    {"dumbdbm", "dbm.dumb"},
    {"dbm", "dbm.ndbm"},
    {"gdbm", "dbm.gnu"},
    {"xmlrpclib", "xmlrpc.client"},
    {"SimpleXMLRPCServer", "xmlrpc.server"},
    {"DocXMLRPCServer", "xmlrpc.server"},
    {"htmlentitydefs", "html.entities"},
    {"HTMLParser", "html.parser"},
    {"Cookie", "http.cookies"},
    {"cookielib", "http.cookiejar"},
    {"BaseHTTPServer", "http.server"},
    {"SimpleHTTPServer", "http.server"},
    {"CGIHTTPServer", "http.server"},
    {"test.test_support", "test.support"},
    {"urlparse", "urllib.parse"},
    {"robotparser", "urllib.robotparser"},
    {"_abcoll", "collections.abc"},
    {"markupbase", "_markupbase"},
    {"_elementtree", "xml.etree.ElementTree"},
    {"Tkinter", "tkinter"},
    {"tkFileDialog", "tkinter.filedialog"},
    {"FileDialog", "tkinter.filedialog"},
    {"tkSimpleDialog", "tkinter.simpledialog"},
    {"SimpleDialog", "tkinter.simpledialog"},
    {"tkColorChooser", "tkinter.colorchooser"},
    {"tkCommonDialog", "tkinter.commondialog"},
    {"Dialog", "tkinter.dialog"},
    {"Tkdnd", "tkinter.dnd"},
    {"tkFont", "tkinter.font"},
    {"tkMessageBox", "tkinter.messagebox"},
    {"ScrolledText", "tkinter.scrolledtext"},
    {"Tkconstants", "tkinter.constants"},
    {"Tix", "tkinter.tix"},
    {"ttk", "tkinter.ttk"},
};

/* Renames of one (module, name) pair; they win over MODULE_RENAMES, as in
 * CPython, because the object moved to another module or got a new name. */
typedef struct name_rename {
    const char *py2_module, *py2_name, *py3_module, *py3_name;
} name_rename;

static const name_rename NAME_RENAMES[] = {
    {"__builtin__", "xrange", "builtins", "range"},
    {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "intern", "sys", "intern"},
    {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},
    {"__builtin__", "basestring", "builtins", "str"},
    {"__builtin__", "long", "builtins", "int"},
    {"exceptions", "StandardError", "builtins", "Exception"},
    {"itertools", "izip", "builtins", "zip"},
    {"itertools", "imap", "builtins", "map"},
    {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"whichdb", "whichdb", "dbm", "whichdb"},
    {"_socket", "fromfd", "socket", "fromfd"},
    {"socket", "_socketobject", "socket", "SocketType"},
    {"_multiprocessing", "Connection", "multiprocessing.connection", "Connection"},
    {"multiprocessing.process", "Process", "multiprocessing.context", "Process"},
    {"multiprocessing.forking", "Popen", "multiprocessing.popen_fork", "Popen"},
    {"urllib", "ContentTooShortError", "urllib.error", "ContentTooShortError"},
    {"urllib", "getproxies", "urllib.request", "getproxies"},
    {"urllib", "pathname2url", "urllib.request", "pathname2url"},
    {"urllib", "quote_plus", "urllib.parse", "quote_plus"},
    {"urllib", "quote", "urllib.parse", "quote"},
    {"urllib", "unquote_plus", "urllib.parse", "unquote_plus"},
    {"urllib", "unquote", "urllib.parse", "unquote"},
    {"urllib", "url2pathname", "urllib.request", "url2pathname"},
    {"urllib", "urlcleanup", "urllib.request", "urlcleanup"},
    {"urllib", "urlencode", "urllib.parse", "urlencode"},
    {"urllib", "urlopen", "urllib.request", "urlopen"},
    {"urllib", "urlretrieve", "urllib.request", "urlretrieve"},
    {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
    {"urllib2", "URLError", "urllib.error", "URLError"},
    {"multiprocessing", "AuthenticationError", "multiprocessing.context", "AuthenticationError"},
    {"multiprocessing", "BufferTooShort", "multiprocessing.context", "BufferTooShort"},
    {"multiprocessing", "ProcessError", "multiprocessing.context", "ProcessError"},
    {"multiprocessing", "TimeoutError", "multiprocessing.context", "TimeoutError"},
};

/* ------------------------------------------------------------------ */
/* The machine                                                          */

/* Memo slot; value NULL means empty. */
typedef struct memo_slot {
    uint64_t key;
    pvm_value *value;
} memo_slot;

/* Slot of the scalar-key index of all dicts: 12 bytes, as a big state
 * dict's SETITEMS land on random slots (a cache and TLB miss each), so the
 * smaller the table the better.  dict is the dict's node id + 1 (ids are
 * 32 bits), 0 for an empty slot; hash is the low 32 bits of the key's hash
 * (the slot count stays below 2^32, so they place the slot). */
typedef struct dict_slot {
    uint32_t hash;
    uint32_t dict;
    uint32_t pos; /* index into dict->u.dict.pairs (len is 32 bits) */
} dict_slot;

struct pvm {
    pvm_limits limits;
    bool used;

    /* input and the opcode being run, for messages */
    const uint8_t *data;
    size_t len, pos;
    size_t op_offset;
    const char *op_name;
    c2s_error *err;
    size_t frame_end; /* where the last FRAME read ends (0: none) */

    /* every node, in creation order */
    pvm_value **chunks;
    slab_supply slabs; /* node slabs faulted in ahead while a big pickle runs;
                          after the run, prefaults only (pvm_slab_supply) */
    int slabs_on;      /* started by pvm_run (a pickle of SLABS_MIN bytes or
                          more), stopped by pvm_free */
    size_t chunk_count, chunk_cap;
    size_t node_count;
    uint32_t *persids; /* ids of the PVM_PERSID nodes, in the order made */
    size_t persid_count, persid_cap;
    uint32_t *owners; /* ids of the nodes that may own malloc'd memory */
    size_t owner_count, owner_cap;
    size_t copied_items; /* items copied by interpreted calls */
    size_t shared_uses;  /* values that reused a singleton (below) */

    arena fixed; /* pieces that never change size: tuple item arrays and
                    calls' pvm_call_more */
    arena text;  /* the bytes of PVM_STR and PVM_BIGINT nodes (unaligned) */

    /* CPython's singletons, made on first use (NULL until then) */
    pvm_value *none, *bools[2], *empty_tuple;
    pvm_value *small_ints[SMALL_INT_MAX - SMALL_INT_MIN + 1];

    pvm_value **stack;
    size_t stack_len, stack_cap;
    size_t *marks;
    size_t mark_count, mark_cap;

    uint32_t *memo_dense; /* index i < memo_dense_cap: the node of id memo_dense[i] - 1,
                             0 = unset (4 bytes, not a pointer's 8: a pickle of 200,000
                             tensors puts 1.6 million entries) */
    size_t memo_dense_cap;
    size_t memo_ahead;            /* bytes of memo_dense the slab thread was asked to fault in */
    memo_slot *memo;              /* the other indexes */
    size_t memo_cap, memo_hashed; /* slots, and entries in them */
    size_t memo_count;            /* entries in both */

    pvm_global *globals;
    size_t global_count, global_cap;
    size_t *global_slots; /* index + 1 into globals, 0 = empty */
    size_t global_slot_cap;

    dict_slot *dict_slots;
    size_t dict_slot_cap, dict_slot_count;

    int proto;         /* the last PROTO, as CPython's self->proto */
    locale_t c_locale; /* for strtod_l; made by the first FLOAT */

    /* What CPython would call that is not a call of a global (see
     * note_hazard): the first PVM_HAZARDS_KEPT lines, and how many there were */
    char hazards[PVM_HAZARDS_KEPT][PVM_HAZARD_MAX];
    size_t hazard_count;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

/* Two's complement reinterpretation without implementation-defined casts. */
static int64_t to_int64(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX)
        return (int64_t)u;
    return -(int64_t)(~u) - 1;
}

/* A little-endian signed 32-bit field, read as uint32 by read_le. */
static int64_t int32_field(uint64_t u)
{
    return (u & 0x80000000u) ? (int64_t)u - (INT64_C(1) << 32) : (int64_t)u;
}

static bool span_is(const uint8_t *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Index of the first byte that is not part of strict UTF-8 (no overlongs,
 * nothing above U+10FFFF, and no surrogates unless `surrogates`: CPython
 * decodes BINUNICODE with "surrogatepass", which takes ED A0 80..ED BF BF
 * as the lone surrogates U+D800..U+DFFF), or SIZE_MAX when all is valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t n, bool surrogates)
{
    size_t at = surrogates ? utf8_valid_prefix_surrogates(s, n) : utf8_valid_prefix(s, n);
    return at == n ? SIZE_MAX : at;
}

static size_t put_utf8(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode one code point of already validated UTF-8 at s[*i]. */
static uint32_t next_code_point(const uint8_t *s, size_t *i)
{
    uint8_t c = s[*i];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    size_t extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    uint32_t cp = c & (0x3f >> extra);
    for (size_t k = 1; k <= extra; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    *i += extra + 1;
    return cp;
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */

static c2s_status out_of_memory(pvm *vm)
{
    return FAIL(vm, "pickle: out of memory in %s at offset %zu", vm->op_name, vm->op_offset);
}

static c2s_status underflow(pvm *vm)
{
    return FAIL(vm, "pickle: stack underflow in %s at offset %zu", vm->op_name, vm->op_offset);
}

static c2s_status truncated(pvm *vm, uint64_t need)
{
    return FAIL(vm, "pickle: truncated: %s at offset %zu needs %" PRIu64 " bytes, %zu left",
                vm->op_name, vm->op_offset, need, vm->len - vm->pos);
}

static c2s_status bad_argument(pvm *vm)
{
    return FAIL(vm, "pickle: bad %s argument at offset %zu", vm->op_name, vm->op_offset);
}

static c2s_status wrong_target(pvm *vm, const pvm_value *target)
{
    return FAIL(vm, "pickle: %s on a %s at offset %zu", vm->op_name, pvm_kind_name(target->kind),
                vm->op_offset);
}

static c2s_status string_too_long(pvm *vm)
{
    return FAIL_LIMIT(vm, C2S_RULE_MAX_STRING,
                      "pickle: limit exceeded: more than %zu bytes in one string",
                      vm->limits.max_string);
}

static c2s_status container_too_big(pvm *vm)
{
    return FAIL_LIMIT(vm, C2S_RULE_MAX_CONTAINER,
                      "pickle: limit exceeded: more than %zu items in one container",
                      vm->limits.max_container);
}

static c2s_status too_many_objects(pvm *vm)
{
    return FAIL_LIMIT(vm, C2S_RULE_MAX_OBJECTS, "pickle: limit exceeded: more than %zu objects",
                      vm->limits.max_objects);
}

/* ------------------------------------------------------------------ */
/* Reading the input                                                    */

static c2s_status take(pvm *vm, uint64_t n, const uint8_t **p)
{
    if (n > vm->len - vm->pos)
        return truncated(vm, n);
    *p = vm->data + vm->pos;
    vm->pos += (size_t)n;
    return C2S_OK;
}

static c2s_status take_le(pvm *vm, size_t n, uint64_t *v)
{
    const uint8_t *p;
    TRY(take(vm, n, &p));
    *v = le_n(p, n);
    return C2S_OK;
}

/* A protocol-0 argument: the bytes up to (not including) the next '\n'. */
static c2s_status take_line(pvm *vm, const uint8_t **p, size_t *n)
{
    const uint8_t *start = vm->data + vm->pos;
    const uint8_t *nl = memchr(start, '\n', vm->len - vm->pos);
    if (nl == NULL)
        return FAIL(vm,
                    "pickle: truncated: %s at offset %zu has no end of "
                    "line",
                    vm->op_name, vm->op_offset);
    *p = start;
    *n = (size_t)(nl - start);
    vm->pos += *n + 1;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */

/* Memory for node chunk c (chunks[0..c-1] made): the first MALLOC_CHUNKS
 * are malloc'd, the others cut in turn from slabs of HUGE_PAGE bytes
 * (util/huge.h), CHUNKS_PER_SLAB chunks each, so that a graph of millions
 * of nodes is mapped in huge pages and a small one costs what it did. */
static pvm_value *chunk_memory(pvm *vm, size_t c)
{
    if (c < MALLOC_CHUNKS)
        return malloc(CHUNK_BYTES);
    if ((c - MALLOC_CHUNKS) % CHUNKS_PER_SLAB == 0)
        return vm->slabs_on ? slab_supply_take(&vm->slabs) : huge_alloc(HUGE_PAGE);
    return vm->chunks[c - 1] + NODES_PER_CHUNK;
}

/* Free what chunk_memory gave for chunk c (a slab with its first chunk). */
static void free_chunk(pvm_value **chunks, size_t c)
{
    if (c < MALLOC_CHUNKS)
        free(chunks[c]);
    else if ((c - MALLOC_CHUNKS) % CHUNKS_PER_SLAB == 0)
        huge_free(chunks[c], HUGE_PAGE);
}

/* Give back the pages of the last node slab and of the arenas' last slabs
 * that nothing will use (the machine makes no node after its run): a huge
 * page is resident whole once touched, and the graph is read long after the
 * run (the tensor map). */
static void release_spare_memory(pvm *vm)
{
    arena_trim(&vm->fixed);
    arena_trim(&vm->text);
    size_t c = vm->chunk_count;
    if (c <= MALLOC_CHUNKS)
        return;
    size_t slab_first = c - 1 - (c - 1 - MALLOC_CHUNKS) % CHUNKS_PER_SLAB;
    pvm_value *slab = vm->chunks[slab_first];
    size_t used = vm->node_count - slab_first * NODES_PER_CHUNK;
    huge_release(slab + used, HUGE_PAGE - used * sizeof(pvm_value));
}

/* The kinds whose every node may come to own a malloc'd array. */
#define OWNING_KINDS (1u << PVM_LIST | 1u << PVM_SET | 1u << PVM_FROZENSET | 1u << PVM_DICT)

/* Note v as a node that owns malloc'd memory, for pvm_free, which frees
 * the contents of those nodes only (a graph of millions of nodes holds a
 * few thousand of them). */
static c2s_status own(pvm *vm, const pvm_value *v)
{
    uint32_t *ids = grow_array(vm->owners, &vm->owner_cap, vm->owner_count + 1, sizeof *ids);
    if (ids == NULL)
        return out_of_memory(vm);
    vm->owners = ids;
    vm->owners[vm->owner_count++] = v->id;
    return C2S_OK;
}

static c2s_status new_node(pvm *vm, pvm_kind kind, pvm_value **out)
{
    if (vm->node_count + vm->copied_items + vm->shared_uses >= vm->limits.max_objects)
        return too_many_objects(vm);
    size_t chunk = vm->node_count / NODES_PER_CHUNK;
    if (chunk == vm->chunk_count) {
        pvm_value **chunks = grow_array(vm->chunks, &vm->chunk_cap, chunk + 1, sizeof *chunks);
        if (chunks == NULL)
            return out_of_memory(vm);
        vm->chunks = chunks;
        chunks[chunk] = chunk_memory(vm, chunk);
        if (chunks[chunk] == NULL)
            return out_of_memory(vm);
        vm->chunk_count++;
    }
    pvm_value *v = &vm->chunks[chunk][vm->node_count % NODES_PER_CHUNK];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->id = (uint32_t)vm->node_count++;
    *out = v;
    /* containers get their arrays from malloc as they fill */
    return (OWNING_KINDS >> kind & 1) ? own(vm, v) : C2S_OK;
}

/* The singleton *slot (None, True, False, (), a small int): made by its
 * first use (*made 1), reused after (*made 0).  Every use counts against
 * max_objects as a node of its own would, so the limit keeps its meaning;
 * nothing ever changes these kinds of node once made, so sharing them is
 * safe, and it is what CPython does. */
static c2s_status shared_node(pvm *vm, pvm_value **slot, pvm_kind kind, pvm_value **out, int *made)
{
    *made = *slot == NULL;
    if (*made) {
        TRY(new_node(vm, kind, slot));
    } else {
        if (vm->node_count + vm->copied_items + vm->shared_uses >= vm->limits.max_objects)
            return too_many_objects(vm);
        vm->shared_uses++;
    }
    *out = *slot;
    return C2S_OK;
}

static c2s_status new_int(pvm *vm, int64_t i, pvm_value **out)
{
    int made = 1;
    if (i >= SMALL_INT_MIN && i <= SMALL_INT_MAX)
        TRY(shared_node(vm, &vm->small_ints[i - SMALL_INT_MIN], PVM_INT, out, &made));
    else
        TRY(new_node(vm, PVM_INT, out));
    if (made)
        (*out)->u.i = i;
    return C2S_OK;
}

static c2s_status new_bool(pvm *vm, bool b, pvm_value **out)
{
    int made;
    TRY(shared_node(vm, &vm->bools[b], PVM_BOOL, out, &made));
    if (made)
        (*out)->u.b = b;
    return C2S_OK;
}

static c2s_status new_float(pvm *vm, double f, pvm_value **out)
{
    TRY(new_node(vm, PVM_FLOAT, out));
    (*out)->u.f = f;
    return C2S_OK;
}

/* Make a string-like node owning buf (n bytes, buf[n] == 0); buf is freed
 * on failure, so callers need not clean up. */
static c2s_status adopt_string(pvm *vm, pvm_kind kind, char *buf, size_t n, pvm_value **out)
{
    if (n > vm->limits.max_string) {
        free(buf);
        return string_too_long(vm);
    }
    c2s_status st = new_node(vm, kind, out);
    if (st == C2S_OK)
        st = own(vm, *out);
    if (st != C2S_OK) {
        free(buf);
        return st;
    }
    (*out)->u.str.data = buf;
    (*out)->u.str.len = n;
    return C2S_OK;
}

/* A string-like node holding a copy of p[0..n) and a NUL.  PVM_STR and
 * PVM_BIGINT bytes never change, so they come from the text arena; PVM_BYTES
 * may be a bytearray that grows, so it gets a block of its own. */
static c2s_status new_string(pvm *vm, pvm_kind kind, const void *p, size_t n, pvm_value **out)
{
    if (n > vm->limits.max_string)
        return string_too_long(vm);
    if (n == SIZE_MAX)
        return out_of_memory(vm);
    if (kind == PVM_BYTES) {
        char *buf = malloc(n + 1);
        if (buf == NULL)
            return out_of_memory(vm);
        if (n > 0)
            memcpy(buf, p, n);
        buf[n] = '\0';
        return adopt_string(vm, kind, buf, n, out);
    }
    char *buf = arena_alloc_bytes(&vm->text, n + 1);
    if (buf == NULL)
        return out_of_memory(vm);
    if (n > 0)
        memcpy(buf, p, n);
    buf[n] = '\0';
    TRY(new_node(vm, kind, out));
    (*out)->u.str.data = buf;
    (*out)->u.str.len = n;
    (*out)->u.str.in_arena = 1;
    return C2S_OK;
}

static c2s_status new_seq(pvm *vm, pvm_kind kind, pvm_value *const *items, size_t n,
                          pvm_value **out)
{
    if (n > vm->limits.max_container)
        return container_too_big(vm);
    if (kind == PVM_TUPLE && n == 0) {
        int made;
        return shared_node(vm, &vm->empty_tuple, PVM_TUPLE, out, &made);
    }
    pvm_value **copy = NULL;
    if (n > 0) {
        if (n > SIZE_MAX / sizeof *copy)
            return out_of_memory(vm);
        copy = kind == PVM_TUPLE ? arena_alloc(&vm->fixed, n * sizeof *copy)
                                 : malloc(n * sizeof *copy);
        if (copy == NULL)
            return out_of_memory(vm);
        memcpy(copy, items, n * sizeof *copy);
    }
    c2s_status st = new_node(vm, kind, out);
    if (st != C2S_OK) {
        if (kind != PVM_TUPLE)
            free(copy);
        return st;
    }
    (*out)->u.seq.items = copy;
    (*out)->u.seq.len = (*out)->u.seq.cap = n;
    return C2S_OK;
}

static c2s_status seq_append(pvm *vm, pvm_value *seq, pvm_value *item)
{
    if (seq->u.seq.len >= vm->limits.max_container)
        return container_too_big(vm);
    pvm_value **items = grow_array(seq->u.seq.items, &seq->u.seq.cap, seq->u.seq.len + 1,
                                   sizeof *items);
    if (items == NULL)
        return out_of_memory(vm);
    seq->u.seq.items = items;
    items[seq->u.seq.len++] = item;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Dicts                                                                */

/* A key's value as an int64 when Python's == would make it equal to that
 * int: int, bool (True == 1), and integral floats (1.0 == 1, -0.0 == 0). */
static bool key_as_int(const pvm_value *k, int64_t *x)
{
    switch (k->kind) {
    case PVM_INT:
        *x = k->u.i;
        return true;
    case PVM_BOOL:
        *x = k->u.b != 0;
        return true;
    case PVM_FLOAT:
        if (!(k->u.f >= -9223372036854775808.0 && k->u.f < 9223372036854775808.0) ||
            k->u.f != (double)(int64_t)k->u.f)
            return false;
        *x = (int64_t)k->u.f;
        return true;
    default:
        return false;
    }
}

/* Tuples are keys by value too, hashed and compared item by item; a key
 * costs at most this many nodes to look at, beyond which it is kept as a
 * distinct entry (a pickle could otherwise make each SETITEM walk a huge
 * tuple shared through the memo). */
#define KEY_NODE_BUDGET 64

/* Hash of a key that Python would compare by value; false for the other
 * kinds, which are kept as distinct entries.  Numbers that compare equal
 * hash alike; a global is one object however often it is named.  *budget
 * counts the nodes looked at. */
static bool key_hash(const pvm_value *k, uint64_t *h, int *budget)
{
    int64_t x;
    if (--*budget < 0)
        return false;
    if (key_as_int(k, &x)) {
        *h = mix64((uint64_t)x);
        return true;
    }
    switch (k->kind) {
    case PVM_STR:
        *h = hash_bytes(k->u.str.data, k->u.str.len, 1);
        return true;
    case PVM_BYTES: /* a bytearray is unhashable, and may still change */
        if (k->u.str.bytearray)
            return false;
        *h = hash_bytes(k->u.str.data, k->u.str.len, 2);
        return true;
    case PVM_BIGINT:
        *h = hash_bytes(k->u.str.data, k->u.str.len, 4);
        return true;
    case PVM_FLOAT: /* not integral; NaN is never equal, so not indexed */
        if (k->u.f != k->u.f)
            return false;
        *h = hash_bytes(&k->u.f, sizeof k->u.f, 5);
        return true;
    case PVM_NONE:
        *h = UINT64_C(0x6e6f6e65);
        return true;
    case PVM_GLOBAL:
        *h = mix64(k->u.global.index ^ UINT64_C(0x676c6f62616c));
        return true;
    case PVM_TUPLE:
        *h = UINT64_C(0x7475706c65) + k->u.seq.len;
        for (size_t i = 0; i < k->u.seq.len; i++) {
            uint64_t item;
            if (!key_hash(k->u.seq.items[i], &item, budget))
                return false;
            *h = mix64(*h ^ item);
        }
        return true;
    default:
        return false;
    }
}

static bool scalar_key_hash(const pvm_value *k, uint64_t *h)
{
    int budget = KEY_NODE_BUDGET;
    return key_hash(k, h, &budget);
}

/* Python's == on two keys that both hashed (so the walk is bounded). */
static bool scalar_keys_equal(const pvm_value *a, const pvm_value *b)
{
    int64_t x = 0, y = 0;
    bool a_int = key_as_int(a, &x), b_int = key_as_int(b, &y);
    if (a_int || b_int)
        return a_int && b_int && x == y;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case PVM_NONE:
        return true;
    case PVM_FLOAT:
        return a->u.f == b->u.f;
    case PVM_GLOBAL:
        return a->u.global.index == b->u.global.index;
    case PVM_TUPLE:
        if (a->u.seq.len != b->u.seq.len)
            return false;
        for (size_t i = 0; i < a->u.seq.len; i++)
            if (!scalar_keys_equal(a->u.seq.items[i], b->u.seq.items[i]))
                return false;
        return true;
    default:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.data, b->u.str.data, a->u.str.len) == 0;
    }
}

/* The first index of a pickle of SLABS_MIN bytes or more: 3 MiB, whole
 * huge pages (big_calloc_whole), where growing from 64 slots made the
 * first 3 MB of tables in malloc's heap, 4 KiB page faults on this thread. */
#define DICT_SLOTS_BIG ((size_t)1 << 18)

static c2s_status grow_dict_index(pvm *vm)
{
    size_t cap = vm->dict_slot_cap ? vm->dict_slot_cap * 2 : vm->slabs_on ? DICT_SLOTS_BIG : 64;
    if (cap > UINT32_MAX || cap > SIZE_MAX / sizeof(dict_slot))
        return out_of_memory(vm);
    dict_slot *slots = big_calloc_whole(cap * sizeof *slots); /* rehashed into at once */
    if (slots == NULL)
        return out_of_memory(vm);
    for (size_t i = 0; i < vm->dict_slot_cap; i++) {
        dict_slot s = vm->dict_slots[i];
        if (s.dict == 0)
            continue;
        size_t j = (size_t)s.hash & (cap - 1);
        while (slots[j].dict != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    big_free_whole(vm->dict_slots, vm->dict_slot_cap * sizeof *slots);
    vm->dict_slots = slots;
    vm->dict_slot_cap = cap;
    return C2S_OK;
}

/* Room for one more pair. */
static c2s_status grow_dict(pvm *vm, pvm_value *d)
{
    size_t cap = d->u.dict.cap;
    pvm_pair *pairs = grow_array(d->u.dict.pairs, &cap, d->u.dict.len + 1, sizeof *pairs);
    if (pairs == NULL)
        return out_of_memory(vm);
    d->u.dict.pairs = pairs;
    d->u.dict.cap = cap < UINT32_MAX ? (uint32_t)cap : UINT32_MAX; /* len stays below */
    return C2S_OK;
}

/* The hash of key k in dict d's part of the index (k's own hash h). */
static uint64_t dict_key_hash(const pvm_value *d, uint64_t h)
{
    return h ^ mix64(d->id + UINT64_C(0x9e3779b97f4a7c15));
}

/* d[k] = v with Python's rule for scalar keys: an equal key keeps its place
 * and gets the new value.  indexed and h: scalar_key_hash(k). */
static c2s_status dict_set_hashed(pvm *vm, pvm_value *d, pvm_value *k, pvm_value *v, bool indexed,
                                  uint64_t h)
{
    size_t slot = 0;
    if (indexed) {
        if ((vm->dict_slot_count + 1) * 2 > vm->dict_slot_cap)
            TRY(grow_dict_index(vm));
        h = dict_key_hash(d, h);
        size_t mask = vm->dict_slot_cap - 1;
        for (slot = (size_t)h & mask; vm->dict_slots[slot].dict != 0; slot = (slot + 1) & mask) {
            dict_slot *s = &vm->dict_slots[slot];
            if (s->hash == (uint32_t)h && s->dict == d->id + 1 &&
                scalar_keys_equal(d->u.dict.pairs[s->pos].key, k)) {
                d->u.dict.pairs[s->pos].val = v;
                return C2S_OK;
            }
        }
    }
    size_t n = d->u.dict.len;
    if (n >= vm->limits.max_container || n >= UINT32_MAX - 1) /* len is 32 bits */
        return container_too_big(vm);
    if (n == d->u.dict.cap)
        TRY(grow_dict(vm, d));
    d->u.dict.pairs[n].key = k;
    d->u.dict.pairs[n].val = v;
    d->u.dict.len = (uint32_t)n + 1;
    if (indexed) {
        vm->dict_slots[slot] = (dict_slot){(uint32_t)h, d->id + 1, (uint32_t)n};
        vm->dict_slot_count++;
    }
    return C2S_OK;
}

static c2s_status dict_set(pvm *vm, pvm_value *d, pvm_value *k, pvm_value *v)
{
    uint64_t h = 0;
    bool indexed = scalar_key_hash(k, &h);
    return dict_set_hashed(vm, d, k, v, indexed, h);
}

/* Pairs of SETITEMS and DICT read ahead: a key is hashed DICT_AHEAD pairs
 * before it is set and its first slot in the index prefetched, since in a
 * big index (a state dict's 200,000 keys) each first probe is a cache miss.
 * A prefetch made before the index grows is only wasted. */
#define DICT_AHEAD 8

typedef struct key_ahead {
    uint64_t h;
    bool indexed;
} key_ahead;

static key_ahead hash_ahead(const pvm *vm, const pvm_value *d, const pvm_value *k)
{
    key_ahead a = {0, false};
    a.indexed = scalar_key_hash(k, &a.h);
    if (a.indexed && vm->dict_slot_cap > 0)
        __builtin_prefetch(&vm->dict_slots[dict_key_hash(d, a.h) & (vm->dict_slot_cap - 1)]);
    return a;
}

/* d[items[0]] = items[1], d[items[2]] = items[3], ... (count even). */
static c2s_status dict_set_pairs(pvm *vm, pvm_value *d, pvm_value *const *items, size_t count)
{
    key_ahead ahead[DICT_AHEAD];
    size_t pairs = count / 2;
    for (size_t j = 0; j < pairs && j < DICT_AHEAD; j++)
        ahead[j] = hash_ahead(vm, d, items[2 * j]);
    for (size_t j = 0; j < pairs; j++) {
        key_ahead a = ahead[j % DICT_AHEAD];
        if (j + DICT_AHEAD < pairs)
            ahead[j % DICT_AHEAD] = hash_ahead(vm, d, items[2 * (j + DICT_AHEAD)]);
        TRY(dict_set_hashed(vm, d, items[2 * j], items[2 * j + 1], a.indexed, a.h));
    }
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Stack and marks                                                      */

static c2s_status push(pvm *vm, pvm_value *v)
{
    if (vm->stack_len + vm->mark_count >= vm->limits.max_stack)
        return FAIL_LIMIT(vm, C2S_RULE_MAX_STACK,
                          "pickle: limit exceeded: more than %zu stack entries",
                          vm->limits.max_stack);
    if (vm->stack_len == vm->stack_cap) {
        pvm_value **stack = grow_array(vm->stack, &vm->stack_cap, vm->stack_len + 1, sizeof *stack);
        if (stack == NULL)
            return out_of_memory(vm);
        vm->stack = stack;
    }
    vm->stack[vm->stack_len++] = v;
    return C2S_OK;
}

/* Values below the newest mark are out of reach, as in CPython. */
static size_t frame_start(const pvm *vm)
{
    return vm->mark_count ? vm->marks[vm->mark_count - 1] : 0;
}

static size_t frame_len(const pvm *vm)
{
    return vm->stack_len - frame_start(vm);
}

static c2s_status pop(pvm *vm, pvm_value **out)
{
    if (frame_len(vm) == 0)
        return underflow(vm);
    *out = vm->stack[--vm->stack_len];
    return C2S_OK;
}

static c2s_status peek(pvm *vm, pvm_value **out)
{
    if (frame_len(vm) == 0)
        return underflow(vm);
    *out = vm->stack[vm->stack_len - 1];
    return C2S_OK;
}

/* Remove the newest mark; the values above it are stack[*start..stack_len)
 * and the caller drops them once used. */
static c2s_status pop_mark(pvm *vm, size_t *start)
{
    if (vm->mark_count == 0)
        return FAIL(vm, "pickle: no MARK for %s at offset %zu", vm->op_name, vm->op_offset);
    *start = vm->marks[--vm->mark_count];
    return C2S_OK;
}

static c2s_status push_mark(pvm *vm)
{
    if (vm->stack_len + vm->mark_count >= vm->limits.max_stack)
        return FAIL_LIMIT(vm, C2S_RULE_MAX_STACK,
                          "pickle: limit exceeded: more than %zu stack entries",
                          vm->limits.max_stack);
    size_t *marks = grow_array(vm->marks, &vm->mark_cap, vm->mark_count + 1, sizeof *marks);
    if (marks == NULL)
        return out_of_memory(vm);
    vm->marks = marks;
    marks[vm->mark_count++] = vm->stack_len;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Memo                                                                 */

static memo_slot *memo_find(const pvm *vm, uint64_t key)
{
    if (vm->memo_cap == 0)
        return NULL;
    size_t mask = vm->memo_cap - 1;
    for (size_t i = (size_t)mix64(key) & mask; vm->memo[i].value != NULL; i = (i + 1) & mask)
        if (vm->memo[i].key == key)
            return &vm->memo[i];
    return NULL;
}

/* The node of id: ids are creation indexes, so chunk id / NODES_PER_CHUNK
 * (pvm_node_at, for the readers of the graph, is this one). */
static pvm_value *node_at(const pvm *vm, size_t id)
{
    return &vm->chunks[id / NODES_PER_CHUNK][id % NODES_PER_CHUNK];
}

/* The value of index key, or NULL. */
static pvm_value *memo_value(const pvm *vm, uint64_t key)
{
    if (key < vm->memo_dense_cap)
        return vm->memo_dense[key] != 0 ? node_at(vm, vm->memo_dense[key] - 1) : NULL;
    memo_slot *slot = memo_find(vm, key);
    return slot != NULL ? slot->value : NULL;
}

/* Index key set to v when it is set already (1), else 0. */
static int memo_replace(pvm *vm, uint64_t key, const pvm_value *v)
{
    if (key < vm->memo_dense_cap) {
        if (vm->memo_dense[key] == 0)
            return 0;
        vm->memo_dense[key] = v->id + 1; /* ids stay below max_objects <= UINT32_MAX */
        return 1;
    }
    memo_slot *slot = memo_find(vm, key);
    if (slot != NULL)
        slot->value = (pvm_value *)v;
    return slot != NULL;
}

/* Rebuild the hash map with cap slots, leaving out the indexes that now
 * belong to the dense array (they are moved there). */
static c2s_status memo_rehash(pvm *vm, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(memo_slot))
        return out_of_memory(vm);
    memo_slot *slots = big_calloc(cap * sizeof *slots);
    if (slots == NULL)
        return out_of_memory(vm);
    vm->memo_hashed = 0;
    for (size_t i = 0; i < vm->memo_cap; i++) {
        memo_slot old = vm->memo[i];
        if (old.value == NULL)
            continue;
        if (old.key < vm->memo_dense_cap) {
            vm->memo_dense[old.key] = old.value->id + 1;
            continue;
        }
        size_t j = (size_t)mix64(old.key) & (cap - 1);
        while (slots[j].value != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = old;
        vm->memo_hashed++;
    }
    big_free(vm->memo, vm->memo_cap * sizeof *slots);
    vm->memo = slots;
    vm->memo_cap = cap;
    return C2S_OK;
}

/* Grow the dense array to cover key when key is below twice the entries
 * (+64): then the array stays within a few slots per memo entry.
 * Returns whether key is now dense. */
static c2s_status memo_dense_cover(pvm *vm, uint64_t key, bool *dense)
{
    *dense = key < vm->memo_dense_cap;
    if (*dense || key >= 2 * (uint64_t)vm->memo_count + 64)
        return C2S_OK;
    /* a pickle of SLABS_MIN bytes or more starts at HUGE_MIN bytes (a
     * mapping, faulted in as it fills), not at 64 entries grown through
     * malloc's heap a 4 KiB page fault at a time */
    size_t cap = vm->memo_dense_cap ? vm->memo_dense_cap
                 : vm->slabs_on     ? HUGE_MIN / sizeof(uint32_t)
                                    : 64;
    while (cap <= key)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(uint32_t))
        return out_of_memory(vm);
    uint32_t *grown = big_grow(vm->memo_dense, vm->memo_dense_cap * sizeof *grown,
                               cap * sizeof *grown);
    if (grown == NULL)
        return out_of_memory(vm);
    vm->memo_dense = grown;
    vm->memo_dense_cap = cap;
    *dense = true;
    /* hash entries now below the dense bound move into the array */
    return vm->memo_cap ? memo_rehash(vm, vm->memo_cap) : C2S_OK;
}

static c2s_status memo_put(pvm *vm, uint64_t key)
{
    pvm_value *top;
    TRY(peek(vm, &top));
    if (memo_replace(vm, key, top))
        return C2S_OK;
    if (vm->memo_count >= vm->limits.max_memo)
        return FAIL_LIMIT(vm, C2S_RULE_MAX_MEMO,
                          "pickle: limit exceeded: more than %zu memo entries",
                          vm->limits.max_memo);
    bool dense;
    TRY(memo_dense_cover(vm, key, &dense));
    if (dense) {
        /* filled in order, a huge page at a time for millions of entries:
         * its page faults were the largest left on this thread */
        slab_supply_fill_ahead(vm->slabs_on ? &vm->slabs : NULL, vm->memo_dense,
                               (size_t)key * sizeof *vm->memo_dense,
                               vm->memo_dense_cap * sizeof *vm->memo_dense, &vm->memo_ahead);
        vm->memo_dense[key] = top->id + 1;
        vm->memo_count++;
        return C2S_OK;
    }
    if ((vm->memo_hashed + 1) * 2 > vm->memo_cap)
        TRY(memo_rehash(vm, vm->memo_cap ? vm->memo_cap * 2 : 64));
    size_t mask = vm->memo_cap - 1;
    size_t i = (size_t)mix64(key) & mask;
    while (vm->memo[i].value != NULL)
        i = (i + 1) & mask;
    vm->memo[i] = (memo_slot){key, top};
    vm->memo_hashed++;
    vm->memo_count++;
    return C2S_OK;
}

static c2s_status memo_get(pvm *vm, uint64_t key)
{
    pvm_value *v = memo_value(vm, key);
    if (v == NULL)
        return FAIL(vm, "pickle: memo index %" PRIu64 " not defined (%s at offset %zu)", key,
                    vm->op_name, vm->op_offset);
    return push(vm, v);
}

/* ------------------------------------------------------------------ */
/* Integers                                                             */

/* Drop sign-extension bytes that add nothing: the shortest two's
 * complement, which is what CPython's encode_long writes for LONG1. */
static size_t twos_complement_len(const uint8_t *p, size_t n)
{
    while (n > 1 &&
           ((p[n - 1] == 0x00 && !(p[n - 2] & 0x80)) || (p[n - 1] == 0xff && (p[n - 2] & 0x80))))
        n--;
    return n;
}

/* n bytes of little-endian two's complement: PVM_INT when it fits int64,
 * else PVM_BIGINT holding the shortest two's complement bytes. */
static c2s_status push_long_bytes(pvm *vm, const uint8_t *p, size_t n)
{
    pvm_value *v;
    n = twos_complement_len(p, n);
    if (n == 0) {
        TRY(new_int(vm, 0, &v));
        return push(vm, v);
    }
    if (n > 8) {
        TRY(new_string(vm, PVM_BIGINT, p, n, &v));
        return push(vm, v);
    }
    uint64_t u = le_n(p, n);
    if ((p[n - 1] & 0x80) && n < 8)
        u |= UINT64_MAX << (8 * n);
    TRY(new_int(vm, to_int64(u), &v));
    return push(vm, v);
}

/* ------------------------------------------------------------------ */
/* Text numbers (protocol 0)                                            */
/*
 * CPython's C unpickler (Modules/_pickle.c) copies each text argument into
 * a NUL-terminated buffer, so its parsers stop at the first NUL byte; the
 * parsers here take the text up to that NUL (text_len).
 *
 *   INT    load_int: strtol(s, &end, 0); when that fails (no digits read up
 *          to the end, or overflow), PyLong_FromString(s, NULL, 0).  A line
 *          of two bytes whose value is 0 or 1 is a bool (Python 2.2).
 *   LONG   load_long: a trailing 'L' is cut, then PyLong_FromString(s,
 *          NULL, 0).
 *   FLOAT  load_float: PyOS_string_to_double, i.e. _Py_dg_strtod or
 *          _Py_parse_inf_or_nan, which must read the whole text; overflow
 *          is an error (OverflowError), underflow gives 0.
 *   GET/PUT  PyLong_FromString(s, NULL, 10), then PyLong_AsSsize_t.
 */

/* CPython's decimal int() refuses more digits than this by default
 * (sys.int_info.default_max_str_digits); binary bases have no limit. */
#define PY_MAX_STR_DIGITS 4300

/* Py_ISSPACE; glibc's isspace() in the C locale says the same. */
static bool is_py_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static unsigned digit_value(uint8_t c)
{
    int h = hex_digit(c);
    return h < 0 ? 99u : (unsigned)h;
}

static size_t text_len(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, '\0', n);
    return nul ? (size_t)(nul - p) : n;
}

/* glibc's strtol(s, &end, 0) in the C locale, where s is p[0..n) followed
 * by a NUL: true when it succeeds and end is the NUL.  Like strtol, no
 * digits at all means end = s, which is the NUL only for empty text. */
static bool c_strtol_whole(const uint8_t *p, size_t n, int64_t *x)
{
    size_t i = 0;
    *x = 0;
    while (i < n && is_py_space(p[i]))
        i++;
    bool negative = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        negative = p[i++] == '-';
    unsigned base = 10;
    if (i < n && p[i] == '0') {
        base = 8;
        if (n - i >= 3 && (p[i + 1] == 'x' || p[i + 1] == 'X') && hex_digit(p[i + 2]) >= 0) {
            base = 16;
            i += 2;
        }
    }
    if (i == n || digit_value(p[i]) >= base)
        return n == 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t mag = 0;
    for (; i < n && digit_value(p[i]) < base; i++) {
        unsigned d = digit_value(p[i]);
        if (mag > (limit - d) / base)
            return false; /* ERANGE */
        mag = mag * base + d;
    }
    if (i != n)
        return false;
    *x = negative ? (mag == 0 ? 0 : -(int64_t)(mag - 1) - 1) : (int64_t)mag;
    return true;
}

/* An integer as PyLong_FromString read it: digits (with the underscores
 * that separate them) in base 2, 8, 10 or 16. */
typedef struct py_int {
    bool negative;
    unsigned base;
    const uint8_t *digits;
    size_t len;     /* bytes in digits, underscores included */
    size_t ndigits; /* digits only */
} py_int;

/* PyLong_FromString(s, NULL, base) for base 0 or 10 (Objects/longobject.c
 * in 3.11): spaces, a sign, with base 0 a 0x / 0o / 0b prefix (one '_' may
 * follow it), digits with single underscores between them, spaces.  With
 * base 0, a decimal starting with 0 must be all zeros ("010" is an
 * error).  Returns false on any syntax error. */
static bool parse_py_long(const uint8_t *p, size_t n, unsigned base, py_int *out)
{
    size_t i = 0;
    while (i < n && is_py_space(p[i]))
        i++;
    out->negative = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        out->negative = p[i++] == '-';
    bool zeros_only = false;
    uint8_t next = n - i >= 2 ? p[i + 1] : 0;
    if (base == 0) {
        if (i == n || p[i] != '0')
            base = 10;
        else if (next == 'x' || next == 'X')
            base = 16;
        else if (next == 'o' || next == 'O')
            base = 8;
        else if (next == 'b' || next == 'B')
            base = 2;
        else
            base = 10, zeros_only = true;
        if (base != 10) {
            i += 2;
            if (i < n && p[i] == '_')
                i++;
        }
    }
    out->base = base;
    if (i < n && p[i] == '_')
        return false;
    out->digits = p + i;
    out->ndigits = 0;
    uint8_t prev = 0;
    for (; i < n && (digit_value(p[i]) < base || p[i] == '_'); i++) {
        if (p[i] == '_' && prev == '_')
            return false;
        if (p[i] != '_') {
            out->ndigits++;
            if (zeros_only && p[i] != '0')
                return false;
        }
        prev = p[i];
    }
    out->len = (size_t)(p + i - out->digits);
    if (prev == '_' || out->ndigits == 0)
        return false;
    while (i < n && is_py_space(p[i]))
        i++;
    return i == n;
}

/* The magnitude of d as little-endian 32-bit limbs in *limbs (malloc'd,
 * *count of them, at least one).  Decimal is at most PY_MAX_STR_DIGITS
 * digits, so the quadratic conversion stays small. */
static c2s_status py_int_limbs(pvm *vm, const py_int *d, uint32_t **limbs, size_t *count)
{
    unsigned bits = d->base == 16 ? 4 : d->base == 8 ? 3 : d->base == 2 ? 1 : 4;
    if (d->ndigits > (SIZE_MAX - 64) / bits)
        return out_of_memory(vm);
    size_t cap = d->ndigits * bits / 32 + 2;
    uint32_t *l = calloc(cap, sizeof *l);
    if (l == NULL)
        return out_of_memory(vm);
    size_t used = 1;
    if (d->base == 10) {
        for (size_t i = 0; i < d->len; i++) {
            if (d->digits[i] == '_')
                continue;
            uint64_t carry = (uint64_t)(d->digits[i] - '0');
            for (size_t k = 0; k < used; k++) {
                uint64_t t = (uint64_t)l[k] * 10 + carry;
                l[k] = (uint32_t)t;
                carry = t >> 32;
            }
            if (carry != 0)
                l[used++] = (uint32_t)carry;
        }
    } else {
        size_t bit = 0; /* filled from the last digit up */
        for (size_t i = d->len; i-- > 0;) {
            if (d->digits[i] == '_')
                continue;
            uint64_t v = digit_value(d->digits[i]);
            l[bit / 32] |= (uint32_t)(v << (bit % 32));
            if (bit % 32 + bits > 32)
                l[bit / 32 + 1] |= (uint32_t)(v >> (32 - bit % 32));
            bit += bits;
        }
        used = cap;
    }
    while (used > 1 && l[used - 1] == 0)
        used--;
    *limbs = l;
    *count = used;
    return C2S_OK;
}

/* Push the value of d: PVM_INT, or PVM_BIGINT in the same shortest two's
 * complement bytes as LONG1, so that equal values look the same. */
static c2s_status push_py_int(pvm *vm, const py_int *d)
{
    if (d->base == 10 && d->ndigits > PY_MAX_STR_DIGITS)
        return FAIL(vm,
                    "pickle: %s argument at offset %zu has more than %d "
                    "digits (CPython's limit for int())",
                    vm->op_name, vm->op_offset, PY_MAX_STR_DIGITS);
    uint32_t *limbs = NULL;
    size_t count = 0;
    TRY(py_int_limbs(vm, d, &limbs, &count));
    if (count > (SIZE_MAX - 1) / 4) {
        free(limbs);
        return out_of_memory(vm);
    }
    size_t n = count * 4 + 1; /* room for the sign */
    uint8_t *bytes = malloc(n);
    if (bytes == NULL) {
        free(limbs);
        return out_of_memory(vm);
    }
    for (size_t k = 0; k < count; k++)
        for (size_t b = 0; b < 4; b++)
            bytes[4 * k + b] = (uint8_t)(limbs[k] >> (8 * b));
    bytes[n - 1] = 0;
    free(limbs);
    if (d->negative) { /* two's complement: invert, add one */
        unsigned carry = 1;
        for (size_t i = 0; i < n; i++) {
            unsigned t = (uint8_t)~bytes[i] + carry;
            bytes[i] = (uint8_t)t;
            carry = t >> 8;
        }
    }
    c2s_status st = push_long_bytes(vm, bytes, n);
    free(bytes);
    return st;
}

static c2s_status op_int(pvm *vm, bool is_long)
{
    const uint8_t *p;
    size_t n;
    TRY(take_line(vm, &p, &n));
    if (n == 0)
        return bad_argument(vm);
    size_t len = text_len(p, n);
    pvm_value *v;
    int64_t x;
    if (!is_long && c_strtol_whole(p, len, &x)) {
        /* Python 2.2 wrote booleans as "00" / "01": CPython checks that
         * the line is two bytes long and the value 0 or 1 */
        if (n == 2 && (x == 0 || x == 1))
            TRY(new_bool(vm, x == 1, &v));
        else
            TRY(new_int(vm, x, &v));
        return push(vm, v);
    }
    if (is_long && p[n - 1] == 'L' && len == n)
        len--;
    py_int d;
    if (!parse_py_long(p, len, 0, &d))
        return bad_argument(vm);
    return push_py_int(vm, &d);
}

/* _Py_dg_strtod's syntax: [sign] digits [. [digits]] or [sign] . digits,
 * then an exponent only when it has a digit.  Returns the length of the
 * longest such prefix of p[0..n), 0 when there is none. */
static size_t decimal_float_prefix(const uint8_t *p, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        digits++;
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (p[j] == '+' || p[j] == '-'))
            j++;
        if (j < n && p[j] >= '0' && p[j] <= '9') {
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            i = j;
        }
    }
    return i;
}

static bool match_nocase(const uint8_t *p, size_t n, size_t at, const char *word)
{
    size_t k = strlen(word);
    if (n - at < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        uint8_t c = p[at + i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)word[i])
            return false;
    }
    return true;
}

/* _Py_parse_inf_or_nan: [sign] inf | infinity | nan, any case.  Returns
 * the length read (0 when none) and the value, NaN being CPython's
 * _Py_dg_stdnan: the quiet NaN 0x7ff8..., with the sign bit for "-nan". */
static size_t inf_nan_prefix(const uint8_t *p, size_t n, double *f)
{
    size_t i = 0;
    bool negative = false;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        negative = p[i++] == '-';
    uint64_t bits;
    if (match_nocase(p, n, i, "inf")) {
        i += 3;
        if (match_nocase(p, n, i, "inity"))
            i += 5;
        bits = UINT64_C(0x7ff0000000000000);
    } else if (match_nocase(p, n, i, "nan")) {
        i += 3;
        bits = UINT64_C(0x7ff8000000000000);
    } else {
        return 0;
    }
    if (negative)
        bits |= UINT64_C(1) << 63;
    memcpy(f, &bits, sizeof *f);
    return i;
}

/* Decimal text to the nearest double.  glibc's strtod rounds correctly, as
 * _Py_dg_strtod does, so the bits are the same; strtod_l with the "C"
 * locale object reads '.' whatever the process locale, without touching
 * global state (setlocale / localeconv are not thread-safe). */
static c2s_status decimal_to_double(pvm *vm, const uint8_t *p, size_t n, double *f)
{
    if (vm->c_locale == (locale_t)0) {
        vm->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (vm->c_locale == (locale_t)0)
            return out_of_memory(vm);
    }
    char *text = malloc(n + 1);
    if (text == NULL)
        return out_of_memory(vm);
    memcpy(text, p, n);
    text[n] = '\0';
    *f = strtod_l(text, NULL, vm->c_locale);
    free(text);
    return C2S_OK;
}

static c2s_status op_float(pvm *vm)
{
    const uint8_t *p;
    size_t n;
    TRY(take_line(vm, &p, &n));
    size_t len = text_len(p, n);
    double f;
    size_t used = decimal_float_prefix(p, len);
    if (used > 0) {
        if (used != len)
            return bad_argument(vm);
        TRY(decimal_to_double(vm, p, len, &f));
        if (isinf(f))
            return FAIL(vm,
                        "pickle: FLOAT argument at offset %zu is too large "
                        "for a float",
                        vm->op_offset);
    } else if (len == 0 || inf_nan_prefix(p, len, &f) != len) {
        return bad_argument(vm);
    }
    pvm_value *v;
    TRY(new_float(vm, f, &v));
    return push(vm, v);
}

/* Text memo index of PUT / GET: PyLong_FromString(s, NULL, 10), which must
 * fit Py_ssize_t; negative is an error for PUT and never found by GET. */
static c2s_status take_text_index(pvm *vm, uint64_t *index)
{
    const uint8_t *p;
    size_t n;
    TRY(take_line(vm, &p, &n));
    py_int d;
    if (n == 0 || !parse_py_long(p, text_len(p, n), 10, &d) || d.ndigits > PY_MAX_STR_DIGITS)
        return bad_argument(vm);
    uint64_t v = 0;
    for (size_t i = 0; i < d.len; i++) {
        if (d.digits[i] == '_')
            continue;
        unsigned digit = (unsigned)(d.digits[i] - '0');
        if (v > ((uint64_t)INT64_MAX - digit) / 10)
            return bad_argument(vm);
        v = v * 10 + digit;
    }
    if (d.negative && v != 0)
        return FAIL(vm, "pickle: negative memo index in %s at offset %zu", vm->op_name,
                    vm->op_offset);
    *index = v;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Binary scalars                                                       */

static c2s_status op_binary_scalar(pvm *vm, uint8_t op)
{
    pvm_value *v = NULL;
    uint64_t u;
    const uint8_t *p;
    switch (op) {
    case OP_NONE: {
        int made;
        TRY(shared_node(vm, &vm->none, PVM_NONE, &v, &made));
        break;
    }
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        TRY(new_bool(vm, op == OP_NEWTRUE, &v));
        break;
    case OP_BININT:
        TRY(take_le(vm, 4, &u));
        TRY(new_int(vm, int32_field(u), &v));
        break;
    case OP_BININT1:
        TRY(take_le(vm, 1, &u));
        TRY(new_int(vm, (int64_t)u, &v));
        break;
    case OP_BININT2:
        TRY(take_le(vm, 2, &u));
        TRY(new_int(vm, (int64_t)u, &v));
        break;
    case OP_BINFLOAT: {
        TRY(take(vm, 8, &p));
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | p[i];
        double f;
        memcpy(&f, &bits, sizeof f);
        TRY(new_float(vm, f, &v));
        break;
    }
    case OP_LONG1:
        TRY(take_le(vm, 1, &u));
        TRY(take(vm, u, &p));
        return push_long_bytes(vm, p, (size_t)u);
    case OP_LONG4: {
        TRY(take_le(vm, 4, &u));
        if (u & 0x80000000u)
            return FAIL(vm,
                        "pickle: negative byte count in LONG4 at offset "
                        "%zu",
                        vm->op_offset);
        TRY(take(vm, u, &p));
        if (u > vm->limits.max_string)
            return string_too_long(vm);
        return push_long_bytes(vm, p, (size_t)u);
    }
    }
    return push(vm, v);
}

/* ------------------------------------------------------------------ */
/* Strings                                                              */

/* Python 2 str is bytes, but Python 3 unpicklers decode it as text (the
 * encoding argument of pickle.load; checkpoint loaders pass one).  PVM_STR must
 * be valid UTF-8, so bytes that are not UTF-8 are read as latin-1 (every
 * byte is a code point), which never fails and loses nothing. */
static c2s_status push_py2_string(pvm *vm, char *buf, size_t n)
{
    pvm_value *v;
    if (utf8_invalid_at((const uint8_t *)buf, n, false) == SIZE_MAX) {
        TRY(adopt_string(vm, PVM_STR, buf, n, &v));
        return push(vm, v);
    }
    size_t high = 0;
    for (size_t i = 0; i < n; i++)
        high += (uint8_t)buf[i] >= 0x80;
    if (n + high > vm->limits.max_string) {
        free(buf);
        return string_too_long(vm);
    }
    uint8_t *text = malloc(n + high + 1);
    if (text == NULL) {
        free(buf);
        return out_of_memory(vm);
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += put_utf8(text + at, (uint8_t)buf[i]);
    text[at] = '\0';
    free(buf);
    TRY(adopt_string(vm, PVM_STR, (char *)text, at, &v));
    return push(vm, v);
}

/* Python's escape_decode, which STRING arguments went through: the C
 * escapes, \xHH and octal \ooo; an unknown escape keeps its backslash.
 * Returns the decoded length, or SIZE_MAX on a malformed escape. */
static size_t unescape_py2(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[at++] = s[i];
            continue;
        }
        if (++i == n)
            return SIZE_MAX;
        uint8_t c = s[i];
        switch (c) {
        case '\n':
            break; /* line continuation */
        case '\\':
        case '\'':
        case '"':
            out[at++] = c;
            break;
        case 'a':
            out[at++] = '\a';
            break;
        case 'b':
            out[at++] = '\b';
            break;
        case 'f':
            out[at++] = '\f';
            break;
        case 'n':
            out[at++] = '\n';
            break;
        case 'r':
            out[at++] = '\r';
            break;
        case 't':
            out[at++] = '\t';
            break;
        case 'v':
            out[at++] = '\v';
            break;
        case 'x': {
            if (n - i - 1 < 2)
                return SIZE_MAX;
            int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0)
                return SIZE_MAX;
            out[at++] = (uint8_t)(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                unsigned v = (unsigned)(c - '0');
                for (int k = 0; k < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
                    v = v * 8 + (unsigned)(s[++i] - '0');
                out[at++] = (uint8_t)(v & 0xff); /* as CPython stores it */
            } else {
                out[at++] = '\\';
                out[at++] = c;
            }
        }
    }
    return at;
}

static c2s_status op_string(pvm *vm)
{
    const uint8_t *p;
    size_t n;
    TRY(take_line(vm, &p, &n));
    if (n < 2 || p[0] != p[n - 1] || (p[0] != '\'' && p[0] != '"'))
        return FAIL(vm, "pickle: STRING argument at offset %zu is not quoted", vm->op_offset);
    if (n - 2 > vm->limits.max_string)
        return string_too_long(vm);
    uint8_t *buf = malloc(n - 1);
    if (buf == NULL)
        return out_of_memory(vm);
    size_t len = unescape_py2(p + 1, n - 2, buf);
    if (len == SIZE_MAX) {
        free(buf);
        return FAIL(vm, "pickle: bad escape in STRING at offset %zu", vm->op_offset);
    }
    buf[len] = '\0';
    return push_py2_string(vm, (char *)buf, len);
}

/* Parse \uXXXX or \UXXXXXXXX whose letter is at s[i]; *end gets the index
 * after it.  Returns the code point, or UINT32_MAX when malformed. */
static uint32_t parse_unicode_escape(const uint8_t *s, size_t n, size_t i, size_t *end)
{
    size_t digits = s[i] == 'u' ? 4 : 8;
    if (n - i - 1 < digits)
        return UINT32_MAX;
    uint32_t cp = 0;
    for (size_t k = 1; k <= digits; k++) {
        int h = hex_digit(s[i + k]);
        if (h < 0 || cp > 0x10ffff)
            return UINT32_MAX;
        cp = cp * 16 + (uint32_t)h;
    }
    *end = i + 1 + digits;
    return cp > 0x10ffff ? UINT32_MAX : cp;
}

/* raw-unicode-escape into UTF-8 (PyUnicode_DecodeRawUnicodeEscape): bytes
 * are latin-1 code points, and \u / \U escapes count only after an odd
 * run of backslashes.  Every escape is one code point: two surrogate
 * escapes stay two lone surrogates, as in Python 3, each written as its
 * 3-byte form (see PVM_STR).  out holds 2 * n bytes. */
static size_t decode_raw_unicode_escape(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t at = 0, i = 0;
    while (i < n) {
        if (s[i] != '\\') {
            at += put_utf8(out + at, s[i++]);
            continue;
        }
        size_t run = 0;
        while (i + run < n && s[i + run] == '\\')
            run++;
        size_t j = i + run;
        bool escape = run % 2 == 1 && j < n && (s[j] == 'u' || s[j] == 'U');
        size_t literal = escape ? run - 1 : run;
        memset(out + at, '\\', literal);
        at += literal;
        i = j;
        if (!escape)
            continue;
        uint32_t cp = parse_unicode_escape(s, n, j, &i);
        if (cp == UINT32_MAX)
            return SIZE_MAX;
        at += put_utf8(out + at, cp);
    }
    return at;
}

static c2s_status op_unicode(pvm *vm)
{
    const uint8_t *p;
    size_t n;
    TRY(take_line(vm, &p, &n));
    if (n > vm->limits.max_string)
        return string_too_long(vm);
    if (n > (SIZE_MAX - 1) / 2)
        return out_of_memory(vm);
    uint8_t *buf = malloc(2 * n + 1);
    if (buf == NULL)
        return out_of_memory(vm);
    size_t len = decode_raw_unicode_escape(p, n, buf);
    if (len == SIZE_MAX) {
        free(buf);
        return FAIL(vm, "pickle: bad \\u escape in UNICODE at offset %zu", vm->op_offset);
    }
    buf[len] = '\0';
    pvm_value *v;
    TRY(adopt_string(vm, PVM_STR, (char *)buf, len, &v));
    return push(vm, v);
}

/* Every length-prefixed string and bytes opcode. */
static c2s_status op_counted_string(pvm *vm, uint8_t op)
{
    size_t width;
    pvm_kind kind = PVM_BYTES;
    switch (op) {
    case OP_SHORT_BINSTRING:
        width = 1;
        kind = PVM_STR;
        break;
    case OP_BINSTRING:
        width = 4;
        kind = PVM_STR;
        break;
    case OP_SHORT_BINUNICODE:
        width = 1;
        kind = PVM_STR;
        break;
    case OP_BINUNICODE:
        width = 4;
        kind = PVM_STR;
        break;
    case OP_BINUNICODE8:
        width = 8;
        kind = PVM_STR;
        break;
    case OP_SHORT_BINBYTES:
        width = 1;
        break;
    case OP_BINBYTES:
        width = 4;
        break;
    default:
        width = 8;
        break; /* BINBYTES8, BYTEARRAY8 */
    }
    uint64_t n;
    TRY(take_le(vm, width, &n));
    if (op == OP_BINSTRING && (n & 0x80000000u))
        return FAIL(vm,
                    "pickle: negative byte count in BINSTRING at offset "
                    "%zu",
                    vm->op_offset);
    const uint8_t *p;
    TRY(take(vm, n, &p));
    if (n > vm->limits.max_string)
        return string_too_long(vm);
    bool py2 = op == OP_SHORT_BINSTRING || op == OP_BINSTRING;
    if (kind == PVM_STR && !py2) {
        size_t bad = utf8_invalid_at(p, (size_t)n, true);
        if (bad != SIZE_MAX)
            return FAIL(vm,
                        "pickle: invalid UTF-8 in %s at offset %zu "
                        "(byte %zu of the string)",
                        vm->op_name, vm->op_offset, bad);
    }
    if (py2) {
        char *buf = malloc((size_t)n + 1);
        if (buf == NULL)
            return out_of_memory(vm);
        memcpy(buf, p, (size_t)n);
        buf[n] = '\0';
        return push_py2_string(vm, buf, (size_t)n);
    }
    pvm_value *v;
    TRY(new_string(vm, kind, p, (size_t)n, &v));
    v->u.str.bytearray = op == OP_BYTEARRAY8;
    return push(vm, v);
}

/* ------------------------------------------------------------------ */
/* Containers                                                           */

static c2s_status op_build_container(pvm *vm, uint8_t op)
{
    pvm_value *v;
    size_t start = 0, count = 0;
    switch (op) {
    case OP_EMPTY_TUPLE:
    case OP_EMPTY_LIST:
    case OP_EMPTY_SET: {
        pvm_kind kind = op == OP_EMPTY_TUPLE ? PVM_TUPLE : op == OP_EMPTY_LIST ? PVM_LIST : PVM_SET;
        TRY(new_seq(vm, kind, NULL, 0, &v));
        return push(vm, v);
    }
    case OP_EMPTY_DICT:
        TRY(new_node(vm, PVM_DICT, &v));
        return push(vm, v);
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3:
        count = (size_t)(op - OP_TUPLE1 + 1);
        if (frame_len(vm) < count)
            return underflow(vm);
        start = vm->stack_len - count;
        break;
    default: /* TUPLE, LIST, FROZENSET, DICT */
        TRY(pop_mark(vm, &start));
        count = vm->stack_len - start;
        break;
    }
    pvm_value **items = vm->stack + start;
    if (op == OP_DICT) {
        if (count % 2 != 0)
            return FAIL(vm,
                        "pickle: odd number of items for DICT at offset "
                        "%zu",
                        vm->op_offset);
        TRY(new_node(vm, PVM_DICT, &v));
        TRY(dict_set_pairs(vm, v, items, count));
    } else {
        pvm_kind kind = op == OP_LIST ? PVM_LIST : op == OP_FROZENSET ? PVM_FROZENSET : PVM_TUPLE;
        TRY(new_seq(vm, kind, items, count, &v));
    }
    vm->stack_len = start;
    return push(vm, v);
}

/* The call's pvm_call_more, made (all NULL) on first need. */
static c2s_status call_more(pvm *vm, pvm_value *call, pvm_call_more **more)
{
    if (call->u.call.more == NULL) {
        pvm_call_more *m = arena_alloc(&vm->fixed, sizeof *m);
        if (m == NULL)
            return out_of_memory(vm);
        *m = (pvm_call_more){NULL, NULL, NULL, NULL};
        call->u.call.more = m;
    }
    *more = call->u.call.more;
    return C2S_OK;
}

/* Where APPEND(S) and ADDITEMS items go when the target is a PVM_CALL:
 * CPython calls its extend / append / add, which we record in order. */
static c2s_status call_list(pvm *vm, pvm_value *call, pvm_value **list)
{
    pvm_call_more *m = NULL;
    TRY(call_more(vm, call, &m));
    if (m->listitems == NULL)
        TRY(new_seq(vm, PVM_LIST, NULL, 0, &m->listitems));
    *list = m->listitems;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Hazards: what CPython would call or set beyond the calls of globals  */

/* Record a hazard (pvm.h): the first PVM_HAZARDS_KEPT messages, and the count. */
static void note_hazard(pvm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note_hazard(pvm *vm, const char *fmt, ...)
{
    if (vm->hazard_count < PVM_HAZARDS_KEPT) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(vm->hazards[vm->hazard_count], PVM_HAZARD_MAX, fmt, ap);
        va_end(ap);
    }
    vm->hazard_count++;
}

/* A str node that names a dunder attribute ("__setstate__", "__class__"). */
static bool is_dunder(const pvm_value *v)
{
    return v->kind == PVM_STR && v->u.str.len > 4 && memcmp(v->u.str.data, "__", 2) == 0 &&
           memcmp(v->u.str.data + v->u.str.len - 2, "__", 2) == 0;
}

/* key's text for a message: printable ASCII only (a key is the file's
 * text), cut at 60 bytes, else "?". */
static const char *printable_key(const pvm_value *key, char *buf, size_t cap)
{
    size_t n = key->u.str.len < 60 ? key->u.str.len : 60;
    for (size_t i = 0; i < n; i++)
        if (key->u.str.data[i] < 0x20 || key->u.str.data[i] > 0x7e)
            return "?";
    snprintf(buf, cap, "%.*s%s", (int)n, key->u.str.data, key->u.str.len > n ? "..." : "");
    return buf;
}

/* The dict of attributes d stands for: d itself, or the items SETITEM gave
 * a call (an OrderedDict or defaultdict state); NULL when neither. */
static pvm_value *attr_dict(const pvm_value *d)
{
    if (d != NULL && d->kind == PVM_CALL)
        d = pvm_call_dictitems(d);
    return d != NULL && d->kind == PVM_DICT ? (pvm_value *)d : NULL;
}

/* The parts of a state as load_build reads it: (dict state, slot state),
 * or the state alone (parts[1] NULL). */
static void state_parts(const pvm_value *state, const pvm_value *parts[2])
{
    parts[0] = state;
    parts[1] = NULL;
    if (state->kind == PVM_TUPLE && state->u.seq.len == 2) {
        parts[0] = state->u.seq.items[0];
        parts[1] = state->u.seq.items[1];
    }
}
/* A call of a mapping type with arguments: a dict whose keys come from
 * them (dict([('__setstate__', f)]), OrderedDict({...}), an AttributeDict),
 * which nobody reads here.  Other calls make no dict, which a default
 * __setstate__ refuses ("state is not a dictionary"). */
static bool makes_unread_dict(const pvm_value *v)
{
    static const char *const MAPPINGS[][2] = {
        {"builtins", "dict"},
        {"collections", "OrderedDict"},
        {"collections", "defaultdict"},
        {"collections", "Counter"},
        {"lightning_fabric.utilities.data", "AttributeDict"},
        {"lightning.fabric.utilities.data", "AttributeDict"},
        {"pytorch_lightning.utilities.parsing", "AttributeDict"},
    };
    if (v->kind != PVM_CALL || v->u.call.args->u.seq.len == 0)
        return false;
    for (size_t i = 0; i < sizeof MAPPINGS / sizeof *MAPPINGS; i++)
        if (pvm_is_global(v->u.call.callable, MAPPINGS[i][0], MAPPINGS[i][1]))
            return true;
    return false;
}

/* A state (a dict, or (dict, slots)) with a part makes_unread_dict makes. */
static bool state_keys_hidden(const pvm_value *state)
{
    const pvm_value *parts[2];
    state_parts(state, parts);
    return makes_unread_dict(parts[0]) || (parts[1] != NULL && makes_unread_dict(parts[1]));
}

/* An attribute state that sets nothing: None, {}, or a 2-tuple of those
 * (not deeper: a part that is a tuple sets something, or fails). */
static bool state_sets_nothing(const pvm_value *state)
{
    const pvm_value *parts[2];
    state_parts(state, parts);
    for (size_t i = 0; i < 2 && parts[i] != NULL; i++)
        if (parts[i]->kind != PVM_NONE && (parts[i]->kind != PVM_DICT || parts[i]->u.dict.len != 0))
            return false;
    return true;
}

/* A str key naming an attribute torch.Tensor defines as a data descriptor
 * (a getset with a setter or a read-only one: PyTorch 1.13's, listed with
 * inspect.getattr_static): setattr on it runs torch's code, and `data`,
 * `real` and `imag` replace or overwrite the tensor's values.  Any other
 * name lands in the tensor's __dict__ and changes nothing torch reads. */
static bool is_tensor_setter(const pvm_value *key)
{
    static const char *const NAMES[] = {
        "H",
        "T",
        "_backward_hooks",
        "_base",
        "_cdata",
        "_grad",
        "_grad_fn",
        "_has_symbolic_sizes_strides",
        "_python_dispatch",
        "_version",
        "data",
        "device",
        "dtype",
        "grad",
        "grad_fn",
        "imag",
        "is_cpu",
        "is_cuda",
        "is_ipu",
        "is_leaf",
        "is_meta",
        "is_mkldnn",
        "is_mps",
        "is_nested",
        "is_ort",
        "is_quantized",
        "is_sparse",
        "is_sparse_csr",
        "is_vulkan",
        "is_xpu",
        "layout",
        "mH",
        "mT",
        "name",
        "names",
        "ndim",
        "output_nr",
        "real",
        "requires_grad",
        "retains_grad",
        "shape",
        "volatile",
    };
    if (key->kind != PVM_STR)
        return false;
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (pvm_str_is(key, NAMES[i], strlen(NAMES[i])))
            return true;
    return false;
}

/* A key CPython's unpickler looks up on the object at APPEND(S) (extend,
 * append) or ADDITEMS (add). */
static bool is_list_method(const pvm_value *key)
{
    return pvm_str_is(key, "extend", 6) || pvm_str_is(key, "append", 6);
}

static bool is_add_method(const pvm_value *key)
{
    return pvm_str_is(key, "add", 3);
}

/* What an attribute dict's keys hold, in bits of its `how` beside pvm.h's
 * PVM_TAKEN ones: scanned once, again only after APPEND or SETITEM changed
 * it (op_fill clears them), so that a pickle building one big state again
 * and again costs one scan, not one per opcode. */
enum {
    KEYS_SCANNED = 4,
    KEYS_DUNDER = 8,
    KEYS_SETTER = 16,
    KEYS_LIST_METHOD = 32,
    KEYS_ADD_METHOD = 64,
    KEYS_ALL = KEYS_SCANNED | KEYS_DUNDER | KEYS_SETTER | KEYS_LIST_METHOD | KEYS_ADD_METHOD
};

static unsigned dict_keys(pvm_value *d)
{
    if ((d->how & KEYS_SCANNED) == 0) {
        unsigned k = KEYS_SCANNED;
        for (uint32_t i = 0; i < d->u.dict.len; i++) {
            const pvm_value *key = d->u.dict.pairs[i].key;
            k |= (is_dunder(key) ? KEYS_DUNDER : 0) | (is_tensor_setter(key) ? KEYS_SETTER : 0) |
                 (is_list_method(key) ? KEYS_LIST_METHOD : 0) |
                 (is_add_method(key) ? KEYS_ADD_METHOD : 0);
        }
        d->how |= (unsigned char)k;
    }
    return d->how & KEYS_ALL;
}

/* The KEYS_ bits of a state's parts (state_parts), together. */
static unsigned state_keys(const pvm_value *state)
{
    const pvm_value *parts[2];
    unsigned k = 0;
    state_parts(state, parts);
    for (size_t i = 0; i < 2; i++) {
        pvm_value *d = parts[i] != NULL ? attr_dict(parts[i]) : NULL;
        k |= d != NULL ? dict_keys(d) : 0;
    }
    return k;
}

/* The first key of a state's parts that pred holds for, for a message. */
static const pvm_value *state_key(const pvm_value *state, bool (*pred)(const pvm_value *))
{
    const pvm_value *parts[2];
    state_parts(state, parts);
    for (size_t p = 0; p < 2; p++) {
        const pvm_value *d = parts[p] != NULL ? attr_dict(parts[p]) : NULL;
        for (uint32_t i = 0; d != NULL && i < d->u.dict.len; i++)
            if (pred(d->u.dict.pairs[i].key))
                return d->u.dict.pairs[i].key;
    }
    return NULL;
}

/* The text of the state's first key pred holds for, while hazards are
 * still kept (the search is then bounded by PVM_HAZARDS_KEPT), else "". */
static const char *state_key_text(const pvm *vm, const pvm_value *state,
                                  bool (*pred)(const pvm_value *), char *buf, size_t cap)
{
    const pvm_value *key = vm->hazard_count < PVM_HAZARDS_KEPT ? state_key(state, pred) : NULL;
    return key != NULL ? printable_key(key, buf, cap) : "";
}

/* APPEND(S) or ADDITEMS (add) on a call result: CPython's load_append calls
 * the object's extend or append, load_additems its add, looked up on the
 * object, so an attribute of that name its BUILD state set (a dict, or
 * (dict, slots)) is what runs. */
static void note_own_method(pvm *vm, const pvm_value *call, bool add)
{
    const pvm_value *state = pvm_call_state(call);
    if (state == NULL || (state_keys(state) & (add ? KEYS_ADD_METHOD : KEYS_LIST_METHOD)) == 0)
        return;
    char text[64];
    note_hazard(vm, "%s at offset %zu calls the '%s' its object's BUILD state set", vm->op_name,
                vm->op_offset,
                state_key_text(vm, state, add ? is_add_method : is_list_method, text, sizeof text));
}

/* list[key] = value as list.__setitem__ does it: an int (or bool) index,
 * negative counting from the end, inside the list. */
static c2s_status list_set(pvm *vm, pvm_value *list, const pvm_value *key, pvm_value *value)
{
    if (key->kind != PVM_INT && key->kind != PVM_BOOL && key->kind != PVM_BIGINT)
        return FAIL(vm, "pickle: %s on a list with a %s index at offset %zu", vm->op_name,
                    pvm_kind_name(key->kind), vm->op_offset);
    size_t n = list->u.seq.len;
    int64_t i = key->kind == PVM_INT ? key->u.i : key->kind == PVM_BOOL ? key->u.b != 0 : INT64_MAX;
    if (i < 0 && (uint64_t) - (i + 1) < n)
        i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n)
        return FAIL(vm,
                    "pickle: %s index out of range for a list of %zu items at "
                    "offset %zu",
                    vm->op_name, n, vm->op_offset);
    list->u.seq.items[i] = value;
    return C2S_OK;
}

/* A byte for a bytearray: an int (or bool) in 0..255. */
static bool byte_value(const pvm_value *v, uint8_t *b)
{
    int64_t i = v->kind == PVM_INT ? v->u.i : v->kind == PVM_BOOL ? v->u.b != 0 : -1;
    if (i < 0 || i > 255)
        return false;
    *b = (uint8_t)i;
    return true;
}

/* bytearray.extend(items) for APPEND(S), bytearray[i] = b for SETITEM(S). */
static c2s_status bytearray_fill(pvm *vm, bool pairs, pvm_value *ba, pvm_value *const *items,
                                 size_t count)
{
    uint8_t b = 0;
    for (size_t i = pairs ? 1 : 0; i < count; i += pairs ? 2 : 1)
        if (!byte_value(items[i], &b))
            return FAIL(vm,
                        "pickle: %s on a bytearray with a %s that is not a "
                        "byte at offset %zu",
                        vm->op_name, pvm_kind_name(items[i]->kind), vm->op_offset);
    size_t n = ba->u.str.len;
    if (pairs) {
        for (size_t i = 0; i < count; i += 2) {
            const pvm_value *key = items[i];
            int64_t at = key->kind == PVM_INT    ? key->u.i
                         : key->kind == PVM_BOOL ? key->u.b != 0
                                                 : INT64_MAX;
            if (key->kind != PVM_INT && key->kind != PVM_BOOL && key->kind != PVM_BIGINT)
                return FAIL(vm,
                            "pickle: %s on a bytearray with a %s index at "
                            "offset %zu",
                            vm->op_name, pvm_kind_name(key->kind), vm->op_offset);
            if (at < 0 && (uint64_t) - (at + 1) < n)
                at += (int64_t)n;
            if (at < 0 || (uint64_t)at >= n)
                return FAIL(vm,
                            "pickle: %s index out of range for a bytearray "
                            "of %zu bytes at offset %zu",
                            vm->op_name, n, vm->op_offset);
            byte_value(items[i + 1], &b);
            ba->u.str.data[at] = (char)b;
        }
        return C2S_OK;
    }
    if (count > vm->limits.max_string - n)
        return string_too_long(vm);
    char *data = realloc(ba->u.str.data, n + count + 1);
    if (data == NULL)
        return out_of_memory(vm);
    for (size_t i = 0; i < count; i++) {
        byte_value(items[i], &b);
        data[n + i] = (char)b;
    }
    data[n + count] = '\0';
    ba->u.str.data = data;
    ba->u.str.len = n + count;
    return C2S_OK;
}

/*
 * APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS: fill the value below the
 * items, as Modules/_pickle.c does (do_append, do_setitems, load_additems):
 *   - no items at all (MARK then the opcode) does nothing, whatever the
 *     target;
 *   - APPEND(S) extends a list; SETITEM(S) calls __setitem__, so a dict
 *     gets the pairs and a list replaces items at int indices; ADDITEMS
 *     adds to a set; a bytearray takes bytes both ways;
 *   - on an object we do not model (a call result, a global, a persistent
 *     id) Python calls its methods: a call records the items, the others
 *     accept them unrecorded, as a hazard (a global is a module-level
 *     object, a registry of hooks or deserializers; a persistent id is a
 *     storage, whose __setitem__ writes its bytes); APPEND(S) and ADDITEMS
 *     on a call whose BUILD state set its own extend, append or add call
 *     that attribute (load_append looks them up on the object): a hazard;
 *   - any other target has no such method in Python: an error there too.
 */
static c2s_status op_fill(pvm *vm, uint8_t op)
{
    size_t start = 0;
    if (op == OP_APPEND || op == OP_SETITEM) {
        size_t count = op == OP_APPEND ? 1 : 2;
        if (frame_len(vm) < count + 1)
            return underflow(vm);
        start = vm->stack_len - count;
    } else {
        TRY(pop_mark(vm, &start));
        if (frame_len(vm) < vm->stack_len - start + 1)
            return underflow(vm);
    }
    size_t count = vm->stack_len - start;
    pvm_value *target = vm->stack[start - 1];
    pvm_value *const *items = vm->stack + start;
    if (count == 0)
        return C2S_OK;
    bool pairs = op == OP_SETITEM || op == OP_SETITEMS;
    if (op == OP_SETITEMS && count % 2 != 0)
        return FAIL(vm,
                    "pickle: odd number of items for SETITEMS at offset "
                    "%zu",
                    vm->op_offset);
    if (target->how & PVM_TAKEN &&
        (target->kind == PVM_LIST || target->kind == PVM_DICT || target->kind == PVM_SET))
        target->how |= PVM_CHANGED_AFTER_TAKEN;
    bool opaque = target->kind == PVM_GLOBAL || target->kind == PVM_PERSID;
    if (opaque)
        note_hazard(vm, "%s at offset %zu changes the items of a %s", vm->op_name, vm->op_offset,
                    pvm_kind_name(target->kind));
    else if (!pairs && target->kind == PVM_CALL)
        note_own_method(vm, target, op == OP_ADDITEMS);
    pvm_value *into = target;
    if (target->kind == PVM_CALL) {
        if (pairs) {
            pvm_call_more *m = NULL;
            TRY(call_more(vm, target, &m));
            if (m->dictitems == NULL)
                TRY(new_node(vm, PVM_DICT, &m->dictitems));
            into = m->dictitems;
        } else {
            TRY(call_list(vm, target, &into));
        }
    } else if (target->kind == PVM_BYTES && target->u.str.bytearray && op != OP_ADDITEMS) {
        TRY(bytearray_fill(vm, pairs, target, items, count));
        opaque = true; /* done */
    } else if (!opaque) {
        bool fits = pairs               ? target->kind == PVM_DICT || target->kind == PVM_LIST
                    : op == OP_ADDITEMS ? target->kind == PVM_SET
                                        : target->kind == PVM_LIST;
        if (!fits)
            return wrong_target(vm, target);
    }
    if (into->kind == PVM_DICT) /* its keys may change: scan them again when asked */
        into->how &= (unsigned char)~KEYS_ALL;
    if (!opaque && pairs && into->kind == PVM_DICT)
        TRY(dict_set_pairs(vm, into, items, count));
    for (size_t i = 0; !opaque && !(pairs && into->kind == PVM_DICT) && i < count;
         i += pairs ? 2 : 1) {
        if (!pairs)
            TRY(seq_append(vm, into, items[i]));
        else
            TRY(list_set(vm, into, items[i], items[i + 1]));
    }
    vm->stack_len = start;
    return C2S_OK;
}

/* ------------------------------------------------------------------ */
/* Globals                                                              */

/* GLOBAL and INST names are text that CPython decodes as strict UTF-8;
 * STACK_GLOBAL takes two str values, which may hold lone surrogates. */
static c2s_status check_name(pvm *vm, const uint8_t *p, size_t n, const char *what)
{
    bool from_str = vm->op_name == OPCODE_NAMES[OP_STACK_GLOBAL];
    if (n == 0)
        return FAIL(vm, "pickle: empty %s in %s at offset %zu", what, vm->op_name, vm->op_offset);
    if (memchr(p, '\0', n) != NULL)
        return FAIL(vm, "pickle: NUL byte in %s in %s at offset %zu", what, vm->op_name,
                    vm->op_offset);
    if (utf8_invalid_at(p, n, from_str) != SIZE_MAX)
        return FAIL(vm, "pickle: invalid UTF-8 in %s in %s at offset %zu", what, vm->op_name,
                    vm->op_offset);
    if (n > vm->limits.max_string)
        return string_too_long(vm);
    return C2S_OK;
}

/* What CPython's find_class would look up for a Python 2 name. */
void pvm_map_python2(const uint8_t **mod, size_t *mod_len, const uint8_t **name, size_t *name_len)
{
    for (size_t i = 0; i < sizeof NAME_RENAMES / sizeof *NAME_RENAMES; i++) {
        const name_rename *r = &NAME_RENAMES[i];
        if (span_is(*mod, *mod_len, r->py2_module) && span_is(*name, *name_len, r->py2_name)) {
            *mod = (const uint8_t *)r->py3_module;
            *mod_len = strlen(r->py3_module);
            *name = (const uint8_t *)r->py3_name;
            *name_len = strlen(r->py3_name);
            return;
        }
    }
    for (size_t i = 0; i < sizeof MODULE_RENAMES / sizeof *MODULE_RENAMES; i++) {
        if (span_is(*mod, *mod_len, MODULE_RENAMES[i].py2)) {
            *mod = (const uint8_t *)MODULE_RENAMES[i].py3;
            *mod_len = strlen(MODULE_RENAMES[i].py3);
            return;
        }
    }
}

static uint64_t global_hash(const void *mod, size_t mod_len, const void *name, size_t name_len)
{
    return hash_bytes(name, name_len, hash_bytes(mod, mod_len, 3));
}

static c2s_status grow_global_index(pvm *vm)
{
    size_t cap = vm->global_slot_cap ? vm->global_slot_cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(size_t))
        return out_of_memory(vm);
    size_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return out_of_memory(vm);
    for (size_t g = 0; g < vm->global_count; g++) {
        const pvm_global *e = &vm->globals[g];
        uint64_t h = global_hash(e->module, strlen(e->module), e->name, strlen(e->name));
        size_t j = (size_t)h & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = g + 1;
    }
    free(vm->global_slots);
    vm->global_slots = slots;
    vm->global_slot_cap = cap;
    return C2S_OK;
}

/* The calls interpret_call builds containers for (pvm.h lists them), by
 * global: decided once per global, not by comparing names at every call. */
enum interp {
    INTERP_NONE,
    INTERP_ORDERED_DICT,
    INTERP_SET,
    INTERP_FROZENSET,
    INTERP_ENCODE,
    INTERP_BYTES
};

/* Functions that call what they are given (pvm_global.arg_calls): torch's
 * _rebuild_from_type(func, new_type, args, state) and its _v2 run
 * func(*args), make the result an instance of new_type (as_subclass, then
 * new_type's own __setstate__ if it has one) and set the state's items on
 * it as attributes (v2: setattr, whose property setters can write into the
 * tensor's storage: Tensor.real, .data; v1 assigns the dict as __dict__).
 * A value named only is harmless until something calls it, and these call
 * their arguments: note_argument_calls records func as called and new_type
 * as instantiated, so that the policy judges them as such. */
enum arg_calls { ARGS_PLAIN, ARGS_FROM_TYPE_V1, ARGS_FROM_TYPE_V2, ARGS_PARAM_WITH_STATE };

static unsigned char arg_calls_of(const uint8_t *mod, size_t mod_len, const uint8_t *name,
                                  size_t name_len)
{
    if (span_is(mod, mod_len, "torch._tensor") && span_is(name, name_len, "_rebuild_from_type"))
        return ARGS_FROM_TYPE_V1;
    if (span_is(mod, mod_len, "torch._tensor") && span_is(name, name_len, "_rebuild_from_type_v2"))
        return ARGS_FROM_TYPE_V2;
    /* PyTorch 2: _rebuild_parameter_with_state(data, requires_grad, hooks,
     * state) setattr()s the state on the parameter, as from_type v2 does */
    if (span_is(mod, mod_len, "torch._utils") &&
        span_is(name, name_len, "_rebuild_parameter_with_state"))
        return ARGS_PARAM_WITH_STATE;
    return ARGS_PLAIN;
}

static unsigned char interp_of(const uint8_t *mod, size_t mod_len, const uint8_t *name,
                               size_t name_len)
{
    static const struct {
        const char *module, *name;
        enum interp kind;
    } CALLS[] = {
        {"collections", "OrderedDict", INTERP_ORDERED_DICT},
        {"builtins", "set", INTERP_SET},
        {"builtins", "frozenset", INTERP_FROZENSET},
        {"_codecs", "encode", INTERP_ENCODE},
        {"builtins", "bytes", INTERP_BYTES},
    };
    for (size_t i = 0; i < sizeof CALLS / sizeof *CALLS; i++)
        if (span_is(mod, mod_len, CALLS[i].module) && span_is(name, name_len, CALLS[i].name))
            return (unsigned char)CALLS[i].kind;
    return INTERP_NONE;
}

static c2s_status add_global(pvm *vm, const uint8_t *raw, size_t raw_len, const uint8_t *mod,
                             size_t mod_len, const uint8_t *name, size_t name_len)
{
    if (vm->global_count >= vm->limits.max_objects)
        return too_many_objects(vm);
    pvm_global *globals = grow_array(vm->globals, &vm->global_cap, vm->global_count + 1,
                                     sizeof *globals);
    if (globals == NULL)
        return out_of_memory(vm);
    vm->globals = globals;
    /* lengths are bounded by max_string, so the sum cannot overflow */
    char *text = malloc(mod_len + name_len + raw_len + 3);
    if (text == NULL)
        return out_of_memory(vm);
    memcpy(text, mod, mod_len);
    text[mod_len] = '\0';
    memcpy(text + mod_len + 1, name, name_len);
    text[mod_len + 1 + name_len] = '\0';
    memcpy(text + mod_len + name_len + 2, raw, raw_len);
    text[mod_len + name_len + 2 + raw_len] = '\0';
    globals[vm->global_count++] = (pvm_global){
        .module = text,
        .name = text + mod_len + 1,
        .raw_module = text + mod_len + name_len + 2,
        .uses = 0,
        .first_offset = vm->op_offset,
        .interp = interp_of(mod, mod_len, name, name_len),
        .arg_calls = arg_calls_of(mod, mod_len, name, name_len),
    };
    return C2S_OK;
}

/* Record module.name in the globals table and make a PVM_GLOBAL for it. */
static c2s_status make_global(pvm *vm, const uint8_t *raw_mod, size_t raw_len, const uint8_t *name,
                              size_t name_len, pvm_value **out)
{
    TRY(check_name(vm, raw_mod, raw_len, "module name"));
    TRY(check_name(vm, name, name_len, "name"));
    const uint8_t *mod = raw_mod;
    size_t mod_len = raw_len;
    if (vm->proto < 3) /* find_class maps only then (fix_imports) */
        pvm_map_python2(&mod, &mod_len, &name, &name_len);

    if ((vm->global_count + 1) * 2 > vm->global_slot_cap)
        TRY(grow_global_index(vm));
    uint64_t h = global_hash(mod, mod_len, name, name_len);
    size_t mask = vm->global_slot_cap - 1;
    size_t slot = (size_t)h & mask;
    size_t index = SIZE_MAX;
    for (; vm->global_slots[slot] != 0; slot = (slot + 1) & mask) {
        const pvm_global *e = &vm->globals[vm->global_slots[slot] - 1];
        if (span_is(mod, mod_len, e->module) && span_is(name, name_len, e->name)) {
            index = vm->global_slots[slot] - 1;
            break;
        }
    }
    if (index == SIZE_MAX) {
        TRY(add_global(vm, raw_mod, raw_len, mod, mod_len, name, name_len));
        index = vm->global_count - 1;
        vm->global_slots[slot] = index + 1;
    }
    pvm_global *g = &vm->globals[index];
    g->uses |= PVM_USE_REF;
    TRY(new_node(vm, PVM_GLOBAL, out));
    (*out)->u.global.module = g->module;
    (*out)->u.global.name = g->name;
    (*out)->u.global.index = index;
    return C2S_OK;
}

static c2s_status op_global(pvm *vm, uint8_t op)
{
    pvm_value *g;
    if (op == OP_GLOBAL) {
        const uint8_t *mod, *name;
        size_t mod_len, name_len;
        TRY(take_line(vm, &mod, &mod_len));
        TRY(take_line(vm, &name, &name_len));
        TRY(make_global(vm, mod, mod_len, name, name_len, &g));
        return push(vm, g);
    }
    pvm_value *name, *mod;
    TRY(pop(vm, &name));
    TRY(pop(vm, &mod));
    if (mod->kind != PVM_STR || name->kind != PVM_STR)
        return FAIL(vm,
                    "pickle: STACK_GLOBAL needs two str, got %s and %s at "
                    "offset %zu",
                    pvm_kind_name(mod->kind), pvm_kind_name(name->kind), vm->op_offset);
    TRY(make_global(vm, (const uint8_t *)mod->u.str.data, mod->u.str.len,
                    (const uint8_t *)name->u.str.data, name->u.str.len, &g));
    return push(vm, g);
}

/* ------------------------------------------------------------------ */
/* Calls                                                                */

static bool is_seq(const pvm_value *v)
{
    return v->kind == PVM_LIST || v->kind == PVM_TUPLE || v->kind == PVM_SET ||
           v->kind == PVM_FROZENSET;
}

/* Containers copied out of arguments share their items; count them so a
 * short pickle cannot copy one huge list many times. */
static c2s_status charge_copy(pvm *vm, size_t items)
{
    if (items > vm->limits.max_objects - vm->node_count - vm->copied_items - vm->shared_uses)
        return too_many_objects(vm);
    vm->copied_items += items;
    return C2S_OK;
}

static c2s_status dict_from_pairs(pvm *vm, const pvm_value *pairs, pvm_value **out)
{
    size_t n = pairs->u.seq.len;
    for (size_t i = 0; i < n; i++) {
        const pvm_value *p = pairs->u.seq.items[i];
        if ((p->kind != PVM_TUPLE && p->kind != PVM_LIST) || p->u.seq.len != 2)
            return C2S_OK; /* not the shape we interpret: stays a call */
    }
    TRY(charge_copy(vm, 2 * n));
    TRY(new_node(vm, PVM_DICT, out));
    for (size_t i = 0; i < n; i++) {
        pvm_value *const *kv = pairs->u.seq.items[i]->u.seq.items;
        TRY(dict_set(vm, *out, kv[0], kv[1]));
    }
    return C2S_OK;
}

static c2s_status latin1_bytes(pvm *vm, const pvm_value *s, pvm_value **out)
{
    const uint8_t *p = (const uint8_t *)s->u.str.data;
    char *buf = malloc(s->u.str.len + 1);
    if (buf == NULL)
        return out_of_memory(vm);
    size_t at = 0, i = 0;
    while (i < s->u.str.len) {
        uint32_t cp = next_code_point(p, &i);
        if (cp > 0xff) {
            free(buf);
            return FAIL(vm,
                        "pickle: _codecs.encode: U+%04" PRIX32 " is not latin-1 (%s at offset %zu)",
                        cp, vm->op_name, vm->op_offset);
        }
        buf[at++] = (char)cp;
    }
    buf[at] = '\0';
    return adopt_string(vm, PVM_BYTES, buf, at, out);
}

/* The calls that only build plain containers (see pvm.h).  *out stays NULL
 * when the call does not have exactly an interpreted shape.  NEWOBJ runs
 * __new__ alone, which leaves a set or OrderedDict empty whatever the
 * positional arguments (set_new, dict_new), while frozenset.__new__ uses
 * its iterable. */
static c2s_status interpret_call(pvm *vm, pvm_use how, const pvm_value *fn, const pvm_value *args,
                                 const pvm_value *kwargs, pvm_value **out)
{
    *out = NULL;
    if (fn->kind != PVM_GLOBAL)
        return C2S_OK;
    if (kwargs != NULL && kwargs->u.dict.len != 0)
        return C2S_OK;
    enum interp call = (enum interp)vm->globals[fn->u.global.index].interp;
    if (call == INTERP_NONE)
        return C2S_OK;
    bool full_call = how != PVM_USE_NEWOBJ;
    size_t argc = args->u.seq.len;
    pvm_value *const *argv = args->u.seq.items;

    if (call == INTERP_ORDERED_DICT) {
        if (argc == 0 || !full_call) /* dict.__new__ ignores arguments */
            return new_node(vm, PVM_DICT, out);
        if (argc == 1 && full_call && (argv[0]->kind == PVM_LIST || argv[0]->kind == PVM_TUPLE))
            return dict_from_pairs(vm, argv[0], out);
        return C2S_OK;
    }
    bool set = call == INTERP_SET;
    bool frozen = call == INTERP_FROZENSET;
    if (set || frozen) {
        pvm_kind kind = set ? PVM_SET : PVM_FROZENSET;
        if (argc == 0 || (set && !full_call)) /* set.__new__ ignores them */
            return new_seq(vm, kind, NULL, 0, out);
        if (argc == 1 && (full_call || frozen) && is_seq(argv[0])) {
            TRY(charge_copy(vm, argv[0]->u.seq.len));
            return new_seq(vm, kind, argv[0]->u.seq.items, argv[0]->u.seq.len, out);
        }
        return C2S_OK;
    }
    if (call == INTERP_ENCODE) {
        if (full_call && argc == 2 && argv[0]->kind == PVM_STR && argv[1]->kind == PVM_STR &&
            (strcmp(argv[1]->u.str.data, "latin1") == 0 ||
             strcmp(argv[1]->u.str.data, "latin-1") == 0) &&
            strlen(argv[1]->u.str.data) == argv[1]->u.str.len)
            return latin1_bytes(vm, argv[0], out);
        return C2S_OK;
    }
    /* protocols 0-2 write b'' as bytes() */
    if (call == INTERP_BYTES && argc == 0)
        return new_string(vm, PVM_BYTES, "", 0, out);
    return C2S_OK;
}

/* The state a rebuild function sets on the tensor it makes (NULL: none):
 * a dunder is a hazard, and with setattr (v2, _rebuild_parameter_with_state)
 * one of torch.Tensor's data descriptors too. */
static void note_state_setters(pvm *vm, const pvm_global *callee, const pvm_value *state,
                               bool setattr)
{
    if (state == NULL)
        return;
    unsigned keys = state_keys(state);
    char text[64];
    if (keys & KEYS_DUNDER || (setattr && keys & KEYS_SETTER))
        note_hazard(vm, "%s.%s (%s at offset %zu) sets attribute '%s' on the tensor",
                    callee->module, callee->name, vm->op_name, vm->op_offset,
                    state_key_text(vm, state, keys & KEYS_DUNDER ? is_dunder : is_tensor_setter,
                                   text, sizeof text));
    else if (state_keys_hidden(state))
        note_hazard(vm, "%s.%s (%s at offset %zu) sets attributes from a call's result",
                    callee->module, callee->name, vm->op_name, vm->op_offset);
}

/* func or new_type of a from_type call: a global gets the uses, anything
 * else is a hazard (it would be called or instantiated all the same). */
static void note_argument_use(pvm *vm, const pvm_global *callee, const pvm_value *arg,
                              const char *role, unsigned uses)
{
    if (arg->kind == PVM_GLOBAL) {
        vm->globals[arg->u.global.index].uses |= uses;
        return;
    }
    note_hazard(vm, "%s.%s (%s at offset %zu) is given a %s as %s, not a global", callee->module,
                callee->name, vm->op_name, vm->op_offset, pvm_kind_name(arg->kind), role);
}

/* A call of a function that calls its arguments or sets attributes from
 * one (enum arg_calls). */
static void note_argument_calls(pvm *vm, const pvm_global *callee, const pvm_value *args)
{
    size_t argc = args->u.seq.len;
    pvm_value *const *argv = args->u.seq.items;
    if (callee->arg_calls == ARGS_PARAM_WITH_STATE) {
        note_state_setters(vm, callee, argc >= 4 ? argv[3] : NULL, true);
        return;
    }
    if (argc >= 1)
        note_argument_use(vm, callee, argv[0], "func", PVM_USE_REDUCE);
    if (argc >= 2 && !pvm_is_global(argv[1], "torch", "Tensor"))
        note_argument_use(vm, callee, argv[1], "new_type", PVM_USE_NEWOBJ | PVM_USE_BUILD);
    note_state_setters(vm, callee, argc >= 4 ? argv[3] : NULL,
                       callee->arg_calls == ARGS_FROM_TYPE_V2);
}

/* `how` of a PVM_TUPLE a call took as its arguments: its items are marked. */
enum { ARGS_TAKEN = 1 };

/* A container a call or a BUILD took (pvm.h: PVM_TAKEN). */
static void mark_taken(pvm_value *v)
{
    if (v->kind == PVM_LIST || v->kind == PVM_DICT || v->kind == PVM_SET)
        v->how |= PVM_TAKEN;
}

/* What a call of fn calls: fn, except for a persistent id ('module', cls,
 * source file, source), which torch's legacy persistent_load turns into
 * cls itself (a pickled nn.Module's class, then NEWOBJ'd): cls, whose uses
 * the call records as any global's. */
static const pvm_value *module_class(const pvm_value *fn)
{
    if (fn->kind != PVM_PERSID)
        return fn;
    const pvm_value *pid = fn->u.persid.pid;
    if (pid->kind != PVM_TUPLE || pid->u.seq.len < 2 ||
        !pvm_str_is(pid->u.seq.items[0], "module", 6) || pid->u.seq.items[1]->kind != PVM_GLOBAL)
        return fn;
    return pid->u.seq.items[1];
}

/* Push the result of calling fn: an interpreted container or a PVM_CALL. */
static c2s_status push_call(pvm *vm, pvm_use how, pvm_value *fn, pvm_value *args, pvm_value *kwargs)
{
    if (args->kind != PVM_TUPLE)
        return FAIL(vm,
                    "pickle: %s arguments are a %s, not a tuple, at "
                    "offset %zu",
                    vm->op_name, pvm_kind_name(args->kind), vm->op_offset);
    if (kwargs != NULL && kwargs->kind != PVM_DICT)
        return FAIL(vm,
                    "pickle: %s keyword arguments are a %s, not a dict, "
                    "at offset %zu",
                    vm->op_name, pvm_kind_name(kwargs->kind), vm->op_offset);
    if ((args->how & ARGS_TAKEN) == 0) { /* a tuple is immutable: mark its items once */
        args->how |= ARGS_TAKEN;
        for (size_t i = 0; i < args->u.seq.len; i++)
            mark_taken(args->u.seq.items[i]);
    }
    if (kwargs != NULL)
        mark_taken(kwargs);
    const pvm_value *called = module_class(fn);
    if (called->kind == PVM_GLOBAL) {
        pvm_global *g = &vm->globals[called->u.global.index];
        g->uses |= how;
        if (g->arg_calls != ARGS_PLAIN)
            note_argument_calls(vm, g, args);
    } else {
        note_hazard(vm, "%s at offset %zu calls a %s, not a global", vm->op_name, vm->op_offset,
                    pvm_kind_name(called->kind));
    }
    pvm_value *result;
    TRY(interpret_call(vm, how, fn, args, kwargs, &result));
    if (result == NULL) {
        TRY(new_node(vm, PVM_CALL, &result));
        result->u.call.callable = fn;
        result->u.call.args = args;
        result->how = how;
        if (kwargs != NULL) {
            pvm_call_more *m = NULL;
            TRY(call_more(vm, result, &m));
            m->kwargs = kwargs;
        }
    }
    return push(vm, result);
}

/* Tuple of the values above the newest mark from index `from`, which are
 * then dropped along with the mark. */
static c2s_status take_marked_args(pvm *vm, size_t start, size_t from, pvm_value **args)
{
    TRY(new_seq(vm, PVM_TUPLE, vm->stack + from, vm->stack_len - from, args));
    vm->stack_len = start;
    return C2S_OK;
}

static c2s_status op_call(pvm *vm, uint8_t op)
{
    pvm_value *fn, *args, *kwargs = NULL;
    size_t start = 0;
    switch (op) {
    case OP_REDUCE:
    case OP_NEWOBJ:
        TRY(pop(vm, &args));
        TRY(pop(vm, &fn));
        return push_call(vm, op == OP_REDUCE ? PVM_USE_REDUCE : PVM_USE_NEWOBJ, fn, args, NULL);
    case OP_NEWOBJ_EX:
        TRY(pop(vm, &kwargs));
        TRY(pop(vm, &args));
        TRY(pop(vm, &fn));
        return push_call(vm, PVM_USE_NEWOBJ, fn, args, kwargs);
    case OP_INST: {
        const uint8_t *mod, *name;
        size_t mod_len, name_len;
        TRY(take_line(vm, &mod, &mod_len));
        TRY(take_line(vm, &name, &name_len));
        TRY(make_global(vm, mod, mod_len, name, name_len, &fn));
        TRY(pop_mark(vm, &start));
        TRY(take_marked_args(vm, start, start, &args));
        return push_call(vm, PVM_USE_INST, fn, args, NULL);
    }
    default: /* OBJ: MARK callable args... */
        TRY(pop_mark(vm, &start));
        if (vm->stack_len == start)
            return underflow(vm);
        fn = vm->stack[start];
        TRY(take_marked_args(vm, start, start + 1, &args));
        return push_call(vm, PVM_USE_OBJ, fn, args, NULL);
    }
}

/* A BUILD state that CPython's default __setstate__ (load_build) accepts
 * on an object without __dict__: None, or (None, {}) with an empty slot
 * state dict. */
static bool build_state_is_empty(const pvm_value *state)
{
    if (state->kind == PVM_NONE)
        return true;
    return state->kind == PVM_TUPLE && state->u.seq.len == 2 &&
           state->u.seq.items[0]->kind == PVM_NONE && state->u.seq.items[1]->kind == PVM_DICT &&
           state->u.seq.items[1]->u.dict.len == 0;
}

/*
 * BUILD (load_build): Python calls the target's __setstate__, or sets its
 * __dict__ and slots from the state.  A call result records the state; a
 * dict keeps it apart from its items (OrderedDict's _metadata); a global
 * (a class, a function, a module: BUILD can set their attributes) is
 * marked as built; a persistent id is opaque.  Plain values (list, int,
 * str, ...) have no __dict__: only an empty state is accepted there.
 */
static c2s_status op_build(pvm *vm)
{
    pvm_value *state, *target;
    TRY(pop(vm, &state));
    TRY(peek(vm, &target));
    mark_taken(state);
    if (state->kind == PVM_TUPLE && state->u.seq.len == 2) {
        mark_taken(state->u.seq.items[0]);
        mark_taken(state->u.seq.items[1]);
    }
    char text[64];
    if (state_keys(state) & KEYS_DUNDER)
        note_hazard(vm, "BUILD at offset %zu sets attribute '%s' on a %s", vm->op_offset,
                    state_key_text(vm, state, is_dunder, text, sizeof text),
                    pvm_kind_name(target->kind));
    else if (state_keys_hidden(state))
        note_hazard(vm, "BUILD at offset %zu sets attributes from a call's result", vm->op_offset);
    switch (target->kind) {
    case PVM_CALL: {
        pvm_call_more *m = NULL;
        TRY(call_more(vm, target, &m));
        if (m->state != NULL)
            note_hazard(vm, "BUILD at offset %zu builds a call's result built already",
                        vm->op_offset);
        m->state = state;
        const pvm_value *fn = target->u.call.callable;
        if (fn->kind == PVM_GLOBAL)
            vm->globals[fn->u.global.index].uses |= PVM_USE_BUILD;
        return C2S_OK;
    }
    case PVM_DICT:
        /* OrderedDict's _metadata: an attribute, never items */
        if (target->u.dict.state != NULL)
            note_hazard(vm, "BUILD at offset %zu builds a dict built already", vm->op_offset);
        target->u.dict.state = state;
        return C2S_OK;
    case PVM_GLOBAL:
        vm->globals[target->u.global.index].uses |= PVM_USE_BUILD;
        if (!state_sets_nothing(state))
            note_hazard(vm, "BUILD at offset %zu sets attributes of the global %s.%s",
                        vm->op_offset, target->u.global.module, target->u.global.name);
        return C2S_OK;
    case PVM_PERSID:
        if (!state_sets_nothing(state))
            note_hazard(vm, "BUILD at offset %zu sets attributes of a persistent id's object",
                        vm->op_offset);
        return C2S_OK;
    default:
        if (build_state_is_empty(state))
            return C2S_OK;
        return wrong_target(vm, target);
    }
}

/* ------------------------------------------------------------------ */
/* Stack, memo, persistent ids, framing                                 */

static c2s_status op_stack(pvm *vm, uint8_t op)
{
    pvm_value *v;
    size_t start = 0;
    switch (op) {
    case OP_MARK:
        return push_mark(vm);
    case OP_POP:
        if (frame_len(vm) > 0) {
            vm->stack_len--;
            return C2S_OK;
        }
        if (vm->mark_count == 0)
            return underflow(vm);
        vm->mark_count--; /* CPython: POP on an empty frame drops the mark */
        return C2S_OK;
    case OP_POP_MARK:
        TRY(pop_mark(vm, &start));
        vm->stack_len = start;
        return C2S_OK;
    default: /* DUP */
        TRY(peek(vm, &v));
        return push(vm, v);
    }
}

static c2s_status op_memo(pvm *vm, uint8_t op)
{
    uint64_t index;
    switch (op) {
    case OP_PUT:
        TRY(take_text_index(vm, &index));
        return memo_put(vm, index);
    case OP_BINPUT:
        TRY(take_le(vm, 1, &index));
        return memo_put(vm, index);
    case OP_LONG_BINPUT:
        TRY(take_le(vm, 4, &index));
        return memo_put(vm, index);
    case OP_MEMOIZE:
        return memo_put(vm, vm->memo_count);
    case OP_GET:
        TRY(take_text_index(vm, &index));
        return memo_get(vm, index);
    case OP_BINGET:
        TRY(take_le(vm, 1, &index));
        return memo_get(vm, index);
    default: /* LONG_BINGET */
        TRY(take_le(vm, 4, &index));
        return memo_get(vm, index);
    }
}

static c2s_status op_persid(pvm *vm, uint8_t op)
{
    pvm_value *pid, *v;
    if (op == OP_PERSID) {
        const uint8_t *p;
        size_t n;
        TRY(take_line(vm, &p, &n));
        for (size_t i = 0; i < n; i++)
            if (p[i] >= 0x80)
                return FAIL(vm,
                            "pickle: PERSID argument at offset %zu is "
                            "not ASCII",
                            vm->op_offset);
        TRY(new_string(vm, PVM_STR, p, n, &pid));
    } else {
        TRY(pop(vm, &pid));
    }
    TRY(new_node(vm, PVM_PERSID, &v));
    v->u.persid.pid = pid;
    uint32_t *ids = grow_array(vm->persids, &vm->persid_cap, vm->persid_count + 1, sizeof *ids);
    if (ids == NULL)
        return out_of_memory(vm);
    vm->persids = ids;
    vm->persids[vm->persid_count++] = v->id;
    return push(vm, v);
}

static c2s_status op_framing(pvm *vm, uint8_t op)
{
    uint64_t u;
    pvm_value *v;
    switch (op) {
    case OP_PROTO: /* load_proto: may come anywhere, any number of times */
        TRY(take_le(vm, 1, &u));
        if (u > HIGHEST_PROTOCOL)
            return FAIL(vm, "pickle: unsupported protocol %" PRIu64 " (PROTO at offset %zu)", u,
                        vm->op_offset);
        vm->proto = (int)u;
        return C2S_OK;
    case OP_FRAME:
        /* Frames only group opcodes for buffered reads; the whole pickle is
         * in memory, so the length only has to be plausible. */
        TRY(take_le(vm, 8, &u));
        if (u > vm->len - vm->pos)
            return truncated(vm, u);
        vm->frame_end = vm->pos + (size_t)u;
        return C2S_OK;
    case OP_NEXT_BUFFER:
        return FAIL(vm,
                    "pickle: NEXT_BUFFER at offset %zu: out-of-band "
                    "buffers are not supported",
                    vm->op_offset);
    case OP_READONLY_BUFFER:
        return peek(vm, &v);
    default: { /* EXT1, EXT2, EXT4 */
        size_t width = op == OP_EXT1 ? 1 : op == OP_EXT2 ? 2 : 4;
        TRY(take_le(vm, width, &u));
        int64_t code = width == 4 ? int32_field(u) : (int64_t)u;
        return FAIL(vm, "pickle: extension code %" PRId64 " is not registered (%s at offset %zu)",
                    code, vm->op_name, vm->op_offset);
    }
    }
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                             */

static c2s_status step(pvm *vm, uint8_t op)
{
    switch (op) {
    case OP_NONE:
    case OP_NEWTRUE:
    case OP_NEWFALSE:
    case OP_BININT:
    case OP_BININT1:
    case OP_BININT2:
    case OP_BINFLOAT:
    case OP_LONG1:
    case OP_LONG4:
        return op_binary_scalar(vm, op);
    case OP_INT:
        return op_int(vm, false);
    case OP_LONG:
        return op_int(vm, true);
    case OP_FLOAT:
        return op_float(vm);
    case OP_STRING:
        return op_string(vm);
    case OP_UNICODE:
        return op_unicode(vm);
    case OP_SHORT_BINSTRING:
    case OP_BINSTRING:
    case OP_SHORT_BINUNICODE:
    case OP_BINUNICODE:
    case OP_BINUNICODE8:
    case OP_SHORT_BINBYTES:
    case OP_BINBYTES:
    case OP_BINBYTES8:
    case OP_BYTEARRAY8:
        return op_counted_string(vm, op);
    case OP_EMPTY_TUPLE:
    case OP_EMPTY_LIST:
    case OP_EMPTY_SET:
    case OP_EMPTY_DICT:
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3:
    case OP_TUPLE:
    case OP_LIST:
    case OP_FROZENSET:
    case OP_DICT:
        return op_build_container(vm, op);
    case OP_APPEND:
    case OP_APPENDS:
    case OP_SETITEM:
    case OP_SETITEMS:
    case OP_ADDITEMS:
        return op_fill(vm, op);
    case OP_GLOBAL:
    case OP_STACK_GLOBAL:
        return op_global(vm, op);
    case OP_REDUCE:
    case OP_NEWOBJ:
    case OP_NEWOBJ_EX:
    case OP_INST:
    case OP_OBJ:
        return op_call(vm, op);
    case OP_BUILD:
        return op_build(vm);
    case OP_MARK:
    case OP_POP:
    case OP_POP_MARK:
    case OP_DUP:
        return op_stack(vm, op);
    case OP_PUT:
    case OP_BINPUT:
    case OP_LONG_BINPUT:
    case OP_MEMOIZE:
    case OP_GET:
    case OP_BINGET:
    case OP_LONG_BINGET:
        return op_memo(vm, op);
    case OP_PERSID:
    case OP_BINPERSID:
        return op_persid(vm, op);
    case OP_PROTO:
    case OP_FRAME:
    case OP_NEXT_BUFFER:
    case OP_READONLY_BUFFER:
    case OP_EXT1:
    case OP_EXT2:
    case OP_EXT4:
        return op_framing(vm, op);
    default:
        return FAIL(vm, "pickle: unknown opcode 0x%02x at offset %zu", op, vm->op_offset);
    }
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */

static size_t limit_or(size_t v, size_t dflt)
{
    return v ? v : dflt;
}

pvm *pvm_new(const pvm_limits *limits)
{
    pvm *vm = calloc(1, sizeof *vm);
    if (vm == NULL)
        return NULL;
    pvm_limits none = {0};
    if (limits == NULL)
        limits = &none;
    vm->limits.max_objects = limit_or(limits->max_objects, DEFAULT_MAX_OBJECTS);
    vm->limits.max_memo = limit_or(limits->max_memo, DEFAULT_MAX_MEMO);
    vm->limits.max_stack = limit_or(limits->max_stack, DEFAULT_MAX_STACK);
    vm->limits.max_string = limit_or(limits->max_string, DEFAULT_MAX_STRING);
    vm->limits.max_container = limit_or(limits->max_container, DEFAULT_MAX_CONTAINER);
    /* ids are uint32_t */
    if (vm->limits.max_objects > UINT32_MAX)
        vm->limits.max_objects = UINT32_MAX;
    vm->op_name = "start";
    /* the tuples' item arrays: the biggest arena of a graph of many tensors
     * (the text arena is big too, but only for a pickle of SLABS_MIN bytes:
     * pvm_run) */
    vm->fixed.big = 1;
    return vm;
}

static void free_node_contents(pvm_value *v)
{
    switch (v->kind) {
    case PVM_BIGINT:
    case PVM_STR:
    case PVM_BYTES:
        if (!v->u.str.in_arena)
            free(v->u.str.data);
        break;
    case PVM_LIST:
    case PVM_SET:
    case PVM_FROZENSET:
        free(v->u.seq.items);
        break;
    case PVM_DICT:
        free(v->u.dict.pairs);
        break;
    default:
        break;
    }
}

const pvm_value *pvm_node_at(const pvm *vm, size_t i)
{
    return node_at(vm, i);
}

/* Free what only the running machine needs (the stack, the marks, the memo
 * and the dict-key index): once STOP has popped the result, the graph and
 * the globals table are all that is read, and on a pickle of many small
 * objects these arrays are a sizeable part of the memory. */
static void release_run_state(pvm *vm)
{
    /* no more slabs; the thread stays for the tensor map's prefaults
     * (pvm_slab_supply) until pvm_free */
    if (vm->slabs_on)
        slab_supply_quiet(&vm->slabs);
    vm->fixed.ahead = NULL;
    vm->text.ahead = NULL;
    free(vm->stack);
    vm->stack = NULL;
    vm->stack_len = vm->stack_cap = 0;
    free(vm->marks);
    vm->marks = NULL;
    vm->mark_count = vm->mark_cap = 0;
    big_free(vm->memo, vm->memo_cap * sizeof *vm->memo);
    vm->memo = NULL;
    vm->memo_cap = vm->memo_hashed = 0;
    big_free(vm->memo_dense, vm->memo_dense_cap * sizeof *vm->memo_dense);
    vm->memo_dense = NULL;
    vm->memo_dense_cap = vm->memo_count = 0;
    big_free_whole(vm->dict_slots, vm->dict_slot_cap * sizeof *vm->dict_slots);
    vm->dict_slots = NULL;
    vm->dict_slot_cap = vm->dict_slot_count = 0;
}

void pvm_free(pvm *vm)
{
    if (vm == NULL)
        return;
    if (vm->slabs_on)
        slab_supply_stop(&vm->slabs);
    vm->slabs_on = 0;
    for (size_t i = 0; i < vm->owner_count; i++)
        free_node_contents(
            &vm->chunks[vm->owners[i] / NODES_PER_CHUNK][vm->owners[i] % NODES_PER_CHUNK]);
    free(vm->owners);
    for (size_t c = 0; c < vm->chunk_count; c++)
        free_chunk(vm->chunks, c);
    arena_free(&vm->fixed);
    arena_free(&vm->text);
    free(vm->chunks);
    for (size_t g = 0; g < vm->global_count; g++)
        free((char *)vm->globals[g].module); /* one block per global */
    free(vm->globals);
    free(vm->global_slots);
    free(vm->persids);
    release_run_state(vm); /* (already done when the run reached STOP) */
    if (vm->c_locale != (locale_t)0)
        freelocale(vm->c_locale);
    free(vm);
}

c2s_status pvm_run(pvm *vm, const uint8_t *data, size_t len, pvm_value **result, size_t *end,
                   c2s_error *err)
{
    if (vm->used)
        return c2s_fail(err, C2S_ERR_INPUT, "pickle: internal error: machine already used");
    vm->used = true;
    vm->err = err;
    /* a non-NULL stack keeps "stack + start" defined for empty frames */
    pvm_value **stack = grow_array(NULL, &vm->stack_cap, 64, sizeof *stack);
    if (stack == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "pickle: out of memory");
    vm->stack = stack;
    vm->data = data;
    vm->len = data == NULL ? 0 : len;
    vm->pos = 0;
    if (vm->len >= SLABS_MIN) {
        slab_supply_start(&vm->slabs);
        vm->slabs_on = 1;
        vm->fixed.ahead = &vm->slabs;
        /* slabs from the first block, megabytes of tuples and strings to
         * come: their malloc'd first blocks were fresh pages faulted in 4
         * KiB at a time on this thread (the strings' slabs cost 1.8 MB more
         * at the peak of 200,000 tensors, for 66 % fewer page faults here
         * with the memo's and key index's first sizes) */
        vm->fixed.big_now = 1;
        vm->text.big = vm->text.big_now = 1;
        vm->text.ahead = &vm->slabs;
    }
    while (vm->pos < vm->len) {
        uint8_t op = vm->data[vm->pos];
        vm->op_offset = vm->pos++;
        vm->op_name = OPCODE_NAMES[op] ? OPCODE_NAMES[op] : "?";
        if (op == OP_STOP) {
            pvm_value *top;
            TRY(pop(vm, &top));
            *result = top;
            if (end != NULL)
                *end = vm->pos;
            release_run_state(vm);
            release_spare_memory(vm);
            return C2S_OK;
        }
        TRY(step(vm, op));
    }
    return c2s_fail(err, C2S_ERR_INPUT, "pickle: no STOP opcode");
}

size_t pvm_global_count(const pvm *vm)
{
    return vm->global_count;
}

const pvm_global *pvm_global_at(const pvm *vm, size_t i)
{
    return i < vm->global_count ? &vm->globals[i] : NULL;
}

size_t pvm_frame_end(const pvm *vm)
{
    return vm->frame_end;
}

size_t pvm_object_count(const pvm *vm)
{
    return vm->node_count;
}

slab_supply *pvm_slab_supply(pvm *vm)
{
    return vm->slabs_on ? &vm->slabs : NULL;
}

size_t pvm_persid_count(const pvm *vm)
{
    return vm->persid_count;
}

const pvm_value *pvm_persid_at(const pvm *vm, size_t i)
{
    return pvm_node_at(vm, vm->persids[i]);
}

size_t pvm_hazard_count(const pvm *vm)
{
    return vm->hazard_count;
}

const char *pvm_hazard_at(const pvm *vm, size_t i)
{
    return vm->hazards[i];
}

size_t pvm_value_count(const pvm *vm)
{
    return vm->node_count + vm->shared_uses;
}

int pvm_is_global(const pvm_value *v, const char *module, const char *name)
{
    return v != NULL && v->kind == PVM_GLOBAL && strcmp(v->u.global.module, module) == 0 &&
           strcmp(v->u.global.name, name) == 0;
}

int pvm_str_is(const pvm_value *v, const char *s, size_t n)
{
    return v->kind == PVM_STR && v->u.str.len == n && memcmp(v->u.str.data, s, n) == 0;
}

int pvm_str_has_nul(const pvm_value *v)
{
    return memchr(v->u.str.data, '\0', v->u.str.len) != NULL;
}

pvm_value *pvm_dict_get_str(const pvm_value *v, const char *key)
{
    if (v == NULL || v->kind != PVM_DICT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->u.dict.len; i++)
        if (pvm_str_is(v->u.dict.pairs[i].key, key, n))
            return v->u.dict.pairs[i].val;
    return NULL;
}

const char *pvm_kind_name(pvm_kind kind)
{
    switch (kind) {
    case PVM_NONE:
        return "None";
    case PVM_BOOL:
        return "bool";
    case PVM_INT:
        return "int";
    case PVM_BIGINT:
        return "big int";
    case PVM_FLOAT:
        return "float";
    case PVM_STR:
        return "str";
    case PVM_BYTES:
        return "bytes";
    case PVM_TUPLE:
        return "tuple";
    case PVM_LIST:
        return "list";
    case PVM_SET:
        return "set";
    case PVM_FROZENSET:
        return "frozenset";
    case PVM_DICT:
        return "dict";
    case PVM_GLOBAL:
        return "global";
    case PVM_CALL:
        return "call";
    case PVM_PERSID:
        return "persistent id";
    }
    return "unknown";
}
