/*
 * tool_batch.c - discovery, output naming, ordering and sharding of the
 * files a run converts (see tool_batch.h).
 */
#include "tool_batch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool_msgs.h"
#include "tool_spool.h"

static const char *const EXTS[] = {".ckpt", ".pt", ".pth", ".bin"};
#define NEXTS (sizeof EXTS / sizeof EXTS[0])

/* A TensorFlow checkpoint is found by its index, NAME.index: a table that
 * ends in this magic number, little-endian (the library's reader
 * recognises the file by the same bytes). */
#define TF_INDEX ".index"
static const unsigned char TF_MAGIC[8] = {0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb};
#define TF_FOOTER 48

int tool_has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls > lx && strcmp(s + ls - lx, suffix) == 0;
}

static int is_checkpoint_name(const char *name)
{
    for (size_t i = 0; i < NEXTS; i++)
        if (tool_has_suffix(name, EXTS[i]))
            return 1;
    return 0;
}

/* A NAME.index file that ends in the TensorFlow table magic: a bundle to
 * convert (its data shards are not inputs).  Other .index files (a
 * search index, ...) are not checkpoints and are passed over. */
static int is_tf_index(const char *path, const char *name)
{
    if (!tool_has_suffix(name, TF_INDEX))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    unsigned char tail[sizeof TF_MAGIC];
    const ssize_t want = (ssize_t)sizeof tail;
    struct stat st;
    int yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= TF_FOOTER &&
              pread(fd, tail, sizeof tail, st.st_size - want) == want &&
              memcmp(tail, TF_MAGIC, sizeof tail) == 0;
    close(fd);
    return yes;
}

/* What the first bytes of a file say it is, for discovery by content: a
 * file torch.load or a pickle loader would read (zip, pickle stream, tar,
 * NumPy array) or a safetensors file. */
typedef enum content_kind { CONTENT_OTHER, CONTENT_LOADABLE, CONTENT_SAFETENSORS } content_kind;

static content_kind sniff_content(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return CONTENT_OTHER;
    unsigned char h[512];
    ssize_t n = pread(fd, h, sizeof h, 0);
    close(fd);
    if (n < 4)
        return CONTENT_OTHER;
    size_t got = (size_t)n;
    if (memcmp(h, "PK\x03\x04", 4) == 0 || memcmp(h, "PK\x05\x06", 4) == 0)
        return CONTENT_LOADABLE; /* a zip: a checkpoint, TorchScript, .npz */
    if (h[0] == 0x80 && h[1] <= 5)
        return CONTENT_LOADABLE; /* a pickle stream: legacy torch, a bare pickle */
    if (got >= 6 && memcmp(h, "\x93NUMPY", 6) == 0)
        return CONTENT_LOADABLE;
    if (got >= 262 && memcmp(h + 257, "ustar", 5) == 0)
        return CONTENT_LOADABLE; /* torch's pre-0.4 tar format */
    uint64_t len = 0;
    for (int i = 7; i >= 0 && got >= 9; i--)
        len = (len << 8) | h[i];
    if (got >= 9 && h[8] == '{' && len >= 2 && len <= 100000000u)
        return CONTENT_SAFETENSORS;
    return CONTENT_OTHER;
}

/* A name with a checkpoint extension in any case (EVIL.PTH). */
static int is_checkpoint_name_nocase(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < NEXTS; i++) {
        size_t k = strlen(EXTS[i]);
        if (n > k && strcasecmp(name + n - k, EXTS[i]) == 0)
            return 1;
    }
    return 0;
}

/* Whether a -r walk takes this regular file.  A scan judges every file a
 * loader could read, whatever its name; a conversion takes checkpoint
 * names (any case), TensorFlow indexes, and extension-less files whose
 * content a loader reads (Hugging Face cache blobs). */
static int takes_file(const tool_config *cfg, const char *path, const char *name)
{
    if (is_checkpoint_name(name) || is_tf_index(path, name))
        return 1;
    content_kind k = sniff_content(path);
    if (cfg->scan)
        return k != CONTENT_OTHER;
    return k == CONTENT_LOADABLE && (is_checkpoint_name_nocase(name) || strchr(name, '.') == NULL);
}

/* The bytes of name[0..keep) end with suffix, with something before it. */
static int keeps_suffix(const char *name, size_t keep, const char *suffix)
{
    size_t k = strlen(suffix);
    return keep > k && memcmp(name + keep - k, suffix, k) == 0;
}

char *tool_output_name(const char *base)
{
    static const char HF[] = "pytorch_model";
    size_t keep = strlen(base);
    if (tool_has_suffix(base, TF_INDEX)) { /* NAME.index -> NAME, NAME.ckpt -> NAME */
        keep -= strlen(TF_INDEX);
        if (keeps_suffix(base, keep, ".ckpt"))
            keep -= strlen(".ckpt");
        char *out = malloc(keep + sizeof ".safetensors");
        if (out != NULL)
            sprintf(out, "%.*s.safetensors", (int)keep, base);
        return out;
    }
    for (size_t i = 0; i < NEXTS; i++)
        if (tool_has_suffix(base, EXTS[i]))
            keep -= strlen(EXTS[i]);
    const char *prefix = "";
    if (strncmp(base, HF, sizeof HF - 1) == 0 && tool_has_suffix(base, ".bin")) {
        prefix = "model";
        base += sizeof HF - 1;
        keep -= sizeof HF - 1;
    }
    size_t cap = strlen(prefix) + keep + sizeof ".safetensors";
    char *out = malloc(cap);
    if (out != NULL)
        snprintf(out, cap, "%s%.*s.safetensors", prefix, (int)keep, base);
    return out;
}

char *tool_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    size_t cap = n + strlen(name) + 2;
    char *p = malloc(cap);
    if (p != NULL)
        snprintf(p, cap, "%s%s%s", dir, n && dir[n - 1] != '/' ? "/" : "", name);
    return p;
}

char *tool_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int tool_stat_input(const char *input, struct stat *st)
{
    if (stat(input, st) == 0)
        return 0;
    if (errno != ENOENT)
        return -1;
    char *index = malloc(strlen(input) + sizeof TF_INDEX);
    if (index == NULL)
        return -1;
    sprintf(index, "%s%s", input, TF_INDEX);
    int rc = stat(index, st);
    free(index);
    return rc;
}

int tool_is_tf_input(const char *input)
{
    struct stat st;
    if (tool_has_suffix(input, TF_INDEX)) {
        const char *slash = strrchr(input, '/');
        return is_tf_index(input, slash ? slash + 1 : input);
    }
    return stat(input, &st) != 0 && errno == ENOENT && tool_stat_input(input, &st) == 0;
}

int tool_mkdirs(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
        return -1;
    }
    char *parent = tool_dirname(dir);
    if (parent == NULL)
        return -1;
    int rc = strcmp(parent, dir) != 0 && strcmp(parent, ".") != 0 ? tool_mkdirs(parent) : 0;
    free(parent);
    if (rc == 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
        rc = -1;
    return rc;
}

/* ---- the job list ------------------------------------------------------------ */

/* A job while planning: the dedup key and the sort key come along. */
typedef struct draft {
    tool_job job;
    dev_t dev;
    ino_t ino;
    int known; /* dev/ino valid */
} draft;

typedef struct planner {
    const tool_config *cfg;
    draft *d;
    size_t n, cap;
    char **links; /* symbolic links a walk did not follow */
    size_t nlinks, links_cap;
    const char *out_dir; /* batch: -o DIR; NULL: next to each input */
    tool_copy *copies;   /* --copy-other */
    size_t ncopies, copies_cap;
    char **reserved; /* outputs of rewritten HF indexes: never the place of a copy */
    size_t nreserved, reserved_cap;
    char **left_out; /* by --include-file / --exclude-file */
    size_t nleft_out, left_out_cap;
    char **not_copied; /* --copy-other: loadable files that are no checkpoint names */
    size_t nnot_copied, not_copied_cap;
    int oom;
} planner;

static draft *add(planner *p, const char *input)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        draft *d = realloc(p->d, cap * sizeof *d);
        if (d == NULL) {
            p->oom = 1;
            return NULL;
        }
        p->d = d;
        p->cap = cap;
    }
    draft *d = &p->d[p->n];
    memset(d, 0, sizeof *d);
    d->job.input = strdup(input);
    if (d->job.input == NULL) {
        p->oom = 1;
        return NULL;
    }
    p->n++;
    return d;
}

static void add_problem(planner *p, const char *input, const char *msg)
{
    draft *d = add(p, input);
    if (d == NULL)
        return;
    d->job.problem = strdup(msg);
    if (d->job.problem == NULL)
        p->oom = 1;
}

/* out_dir/rel_dir/the output name of base; rel_dir may be "". */
static char *output_in(const char *out_dir, const char *rel_dir, const char *base)
{
    char *name = tool_output_name(base);
    char *sub = name && *rel_dir ? tool_join(rel_dir, name) : NULL;
    const char *tail = *rel_dir ? sub : name;
    char *out = tail ? tool_join(out_dir, tail) : NULL;
    free(name);
    free(sub);
    return out;
}

/* out_dir/rel_dir/name; rel_dir may be "". */
static char *output_in_dir(const char *out_dir, const char *rel_dir, const char *name)
{
    char *sub = *rel_dir ? tool_join(rel_dir, name) : NULL;
    char *out = tool_join(out_dir, *rel_dir ? sub : name);
    free(sub);
    return *rel_dir && sub == NULL ? (free(out), NULL) : out;
}

/* The output beside input: its directory part as written, then the name. */
static char *output_beside(const char *input)
{
    const char *base = base_name(input);
    char *name = tool_output_name(base);
    size_t dir_len = (size_t)(base - input);
    char *out = name ? malloc(dir_len + strlen(name) + 1) : NULL;
    if (out != NULL)
        sprintf(out, "%.*s%s", (int)dir_len, input, name);
    free(name);
    return out;
}

/* A file to convert; rel_dir: its directory relative to its -r root. */
static void add_file(planner *p, const char *input, const char *rel_dir, const struct stat *st)
{
    draft *d = add(p, input);
    if (d == NULL)
        return;
    if (st != NULL) {
        d->dev = st->st_dev;
        d->ino = st->st_ino;
        d->known = 1;
        d->job.in_size = (uint64_t)st->st_size;
    }
    d->job.make_dirs = p->out_dir != NULL;
    d->job.output = p->out_dir ? output_in(p->out_dir, rel_dir, base_name(input))
                               : output_beside(input);
    if (d->job.output == NULL)
        p->oom = 1;
}

/* Directories on the path from the root, to stop at symlink cycles. */
typedef struct ancestry {
    dev_t dev;
    ino_t ino;
    const struct ancestry *up;
} ancestry;

static int on_path(const ancestry *a, const struct stat *st)
{
    for (; a != NULL; a = a->up)
        if (a->dev == st->st_dev && a->ino == st->st_ino)
            return 1;
    return 0;
}

static int keep_string(char ***list, size_t *n, size_t *cap, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        return 0;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **l = realloc(*list, c * sizeof *l);
        if (l == NULL) {
            free(copy);
            return 0;
        }
        *list = l;
        *cap = c;
    }
    (*list)[(*n)++] = copy;
    return 1;
}

static void note_link(planner *p, const char *path)
{
    if (!keep_string(&p->links, &p->nlinks, &p->links_cap, path))
        p->oom = 1;
}

/* ---- choosing files, and the other files to copy ----------------------------- */

/* --include-file / --exclude-file: a GLOB with '/' against the path under
 * the -r DIR, else against the name. */
static int glob_matches(const char *glob, const char *sub, const char *name)
{
    return strchr(glob, '/') != NULL ? fnmatch(glob, sub, FNM_PATHNAME) == 0
                                     : fnmatch(glob, name, 0) == 0;
}

static int chosen(const tool_config *cfg, const char *sub, const char *name)
{
    int in = cfg->ninclude_files == 0;
    for (size_t i = 0; i < cfg->ninclude_files && !in; i++)
        in = glob_matches(cfg->include_files[i], sub, name);
    for (size_t i = 0; i < cfg->nexclude_files && in; i++)
        in = !glob_matches(cfg->exclude_files[i], sub, name);
    return in;
}

/* A component of the path under the -r DIR starts with '.'. */
static int hidden(const char *sub)
{
    if (*sub == '.')
        return 1;
    for (const char *c = strchr(sub, '/'); c != NULL; c = strchr(c + 1, '/'))
        if (c[1] == '.')
            return 1;
    return 0;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* NAME.data-NNNNN-of-NNNNN: a TensorFlow data shard. */
static int is_tf_shard(const char *name)
{
    const char *d = strstr(name, ".data-");
    return d != NULL && strlen(d) == strlen(".data-00000-of-00000") && digits(d + 6, 5) &&
           memcmp(d + 11, "-of-", 4) == 0 && digits(d + 15, 5);
}

#define HF_BIN_INDEX ".bin.index.json"

/* A file --copy-other copies (tool_batch.h says which). */
static int is_other_file(const char *path, const char *sub, const char *name)
{
    return !hidden(sub) && !is_checkpoint_name_nocase(name) && !is_tf_shard(name) &&
           !tool_has_suffix(name, HF_BIN_INDEX) && sniff_content(path) != CONTENT_LOADABLE;
}

static void note_left_out(planner *p, const char *path)
{
    if (!keep_string(&p->left_out, &p->nleft_out, &p->left_out_cap, path))
        p->oom = 1;
}

static void add_copy(planner *p, const char *path, const char *sub)
{
    if (p->ncopies == p->copies_cap) {
        size_t cap = p->copies_cap ? p->copies_cap * 2 : 16;
        tool_copy *c = realloc(p->copies, cap * sizeof *c);
        if (c == NULL) {
            p->oom = 1;
            return;
        }
        p->copies = c;
        p->copies_cap = cap;
    }
    tool_copy *c = &p->copies[p->ncopies];
    c->seq = p->ncopies;
    c->problem = NULL;
    c->src = strdup(path);
    c->dst = tool_join(p->out_dir, sub);
    if (c->src == NULL || c->dst == NULL) {
        free(c->src);
        free(c->dst);
        p->oom = 1;
        return;
    }
    p->ncopies++;
}

/* NAME.bin.index.json under rel: where tool_hf.c writes its rewrite. */
static void reserve_index(planner *p, const char *rel, const char *name)
{
    char *stem = strndup(name, strlen(name) - strlen(".index.json")); /* NAME.bin */
    char *out = stem ? tool_output_name(stem) : NULL;
    char *index = out ? malloc(strlen(out) + sizeof ".index.json") : NULL;
    if (index != NULL)
        sprintf(index, "%s.index.json", out);
    char *dst = index ? output_in_dir(p->out_dir, rel, index) : NULL;
    if (dst == NULL || !keep_string(&p->reserved, &p->nreserved, &p->reserved_cap, dst))
        p->oom = 1;
    free(stem);
    free(out);
    free(index);
    free(dst);
}

/* A regular file found by the walk: left out, converted (scanned), or
 * copied. */
static void consider_file(planner *p, const char *path, const char *rel, const char *sub,
                          const char *name, const struct stat *st)
{
    const tool_config *cfg = p->cfg;
    int copying = cfg->copy_other && p->out_dir != NULL && !cfg->scan;
    int take = takes_file(cfg, path, name);
    if (!chosen(cfg, sub, name)) {
        if (take || (copying && is_other_file(path, sub, name)))
            note_left_out(p, path);
        return;
    }
    if (take)
        add_file(p, path, rel, st);
    else if (copying && is_other_file(path, sub, name))
        add_copy(p, path, sub);
    else if (copying && !hidden(sub) && sniff_content(path) == CONTENT_LOADABLE &&
             !keep_string(&p->not_copied, &p->nnot_copied, &p->not_copied_cap, path))
        p->oom = 1;
    if (copying && tool_has_suffix(name, HF_BIN_INDEX))
        reserve_index(p, rel, name);
}

static void walk(planner *p, const char *dir, const char *rel, const ancestry *up)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot read directory: %s", strerror(errno));
        add_problem(p, dir, msg);
        return;
    }
    struct stat self;
    ancestry here = {0, 0, up};
    if (fstat(dirfd(d), &self) == 0) {
        here.dev = self.st_dev;
        here.ino = self.st_ino;
    }
    struct dirent *e;
    while (!p->oom && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *path = tool_join(dir, e->d_name);
        char *sub = *rel ? tool_join(rel, e->d_name) : strdup(e->d_name);
        struct stat st;
        int ok = path && sub && lstat(path, &st) == 0;
        if (ok && S_ISLNK(st.st_mode) && !p->cfg->follow_symlinks)
            note_link(p, path);
        if (ok && S_ISLNK(st.st_mode))
            ok = p->cfg->follow_symlinks && stat(path, &st) == 0;
        if (path == NULL || sub == NULL)
            p->oom = 1;
        else if (ok && S_ISDIR(st.st_mode) && !on_path(&here, &st))
            walk(p, path, sub, &here);
        else if (ok && S_ISREG(st.st_mode))
            consider_file(p, path, rel, sub, e->d_name, &st);
        free(path);
        free(sub);
    }
    closedir(d);
}

/* A single INPUT with -o FILE or -o -: that is its output. */
static void single_output(planner *p)
{
    if (p->out_dir == NULL && p->n > 0 && p->cfg->output != NULL && !p->oom) {
        tool_job *j = &p->d[p->n - 1].job;
        free(j->output);
        j->output = p->cfg->to_stdout ? NULL : strdup(p->cfg->output);
        if (!p->cfg->to_stdout && j->output == NULL)
            p->oom = 1;
    }
}

static void add_input(planner *p, const char *input)
{
    struct stat st;
    if (tool_needs_spool(input)) { /* a pipe: no name to derive from, no inode to dedupe */
        if (p->out_dir != NULL && !p->cfg->scan) {
            add_problem(p, input, "a pipe has no name to derive the output's from: use -o FILE");
            return;
        }
        add_file(p, input, "", NULL);
    } else if (tool_stat_input(input, &st) != 0) {
        add_file(p, input, "", NULL); /* the library says why it cannot be opened */
    } else if (S_ISDIR(st.st_mode)) {
        add_problem(p, input, "is a directory (use -r to convert the checkpoints under it)");
        return;
    } else {
        add_file(p, input, "", &st);
    }
    single_output(p);
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_input(const void *a, const void *b)
{
    return strcmp(((const draft *)a)->job.input, ((const draft *)b)->job.input);
}

static void free_job(tool_job *j)
{
    free(j->input);
    free(j->output);
    free(j->problem);
}

/* Sort keys for the two passes below; ties keep the list order (the
 * address of a draft). */
static int by_inode(const void *a, const void *b)
{
    const draft *x = *(const draft *const *)a, *y = *(const draft *const *)b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_output(const void *a, const void *b)
{
    const draft *x = *(const draft *const *)a, *y = *(const draft *const *)b;
    int c = strcmp(x->job.output, y->job.output);
    return c ? c : (x < y ? -1 : x > y);
}

/* Pointers to the drafts that pass keep(), sorted by cmp; NULL on OOM. */
static draft **sorted_index(planner *p, int (*keep)(const draft *),
                            int (*cmp)(const void *, const void *), size_t *m)
{
    draft **ix = malloc((p->n ? p->n : 1) * sizeof *ix);
    *m = 0;
    if (ix == NULL) {
        p->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++)
        if (keep(&p->d[i]))
            ix[(*m)++] = &p->d[i];
    qsort(ix, *m, sizeof *ix, cmp);
    return ix;
}

static int has_inode(const draft *d)
{
    return d->known;
}
static int writes_file(const draft *d)
{
    return d->job.output != NULL && d->job.problem == NULL;
}

/* A file reached twice (two -r roots, a symlink, an INPUT also under -r)
 * is converted once, under the first of its paths. */
static void dedupe(planner *p)
{
    size_t m;
    draft **ix = sorted_index(p, has_inode, by_inode, &m);
    if (ix == NULL)
        return;
    for (size_t i = 1; i < m; i++)
        if (ix[i]->dev == ix[i - 1]->dev && ix[i]->ino == ix[i - 1]->ino)
            ix[i]->known = -1; /* drop */
    free(ix);
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->d[i].known == -1)
            free_job(&p->d[i].job);
        else
            p->d[w++] = p->d[i];
    }
    p->n = w;
}

/* Two inputs with one output (a.pt and a.pth; x/m.ckpt and y/m.ckpt under
 * one -o DIR): the first keeps it, the others fail. */
static void mark_conflicts(planner *p)
{
    size_t m;
    draft **ix = sorted_index(p, writes_file, by_output, &m);
    if (ix == NULL)
        return;
    for (size_t i = 1, owner = 0; i < m; i++) {
        if (strcmp(ix[i]->job.output, ix[owner]->job.output) != 0) {
            owner = i;
            continue;
        }
        char msg[1024];
        snprintf(msg, sizeof msg, "same output as %s: %s", ix[owner]->job.input, ix[i]->job.output);
        ix[i]->job.problem = strdup(msg);
        if (ix[i]->job.problem == NULL)
            p->oom = 1;
    }
    free(ix);
}

/* Keep jobs at index shard-1, shard-1+count, ... */
static void shard(planner *p)
{
    size_t w = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (i % p->cfg->shard_count == p->cfg->shard_index - 1)
            p->d[w++] = p->d[i];
        else
            free_job(&p->d[i].job);
    }
    p->n = w;
}

/* ---- the copies ---------------------------------------------------------------- */

/* By destination; one destination's copies in the order the walk found them. */
static int by_dst(const void *a, const void *b)
{
    const tool_copy *x = a, *y = b;
    int c = strcmp(x->dst, y->dst);
    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void free_copy(tool_copy *c)
{
    free(c->src);
    free(c->dst);
    free(c->problem);
}

/* Outputs of the jobs and of the rewritten indexes, sorted; NULL on OOM. */
static char **taken_places(planner *p, size_t *n)
{
    char **t = malloc((p->n + p->nreserved + 1) * sizeof *t);
    *n = 0;
    if (t == NULL) {
        p->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->d[i].job.output != NULL)
            t[(*n)++] = p->d[i].job.output;
    for (size_t i = 0; i < p->nreserved; i++)
        t[(*n)++] = p->reserved[i];
    qsort(t, *n, sizeof *t, by_string);
    return t;
}

/* Sort the copies by destination; drop those whose place a conversion or
 * an index takes; of copies with one destination (two -r roots into one
 * -o DIR) the first found keeps it and the others fail, as conversions
 * with one output do (mark_conflicts); only the first --shard slice
 * copies. */
static void settle_copies(planner *p)
{
    if (p->ncopies == 0)
        return; /* (qsort may not be given the NULL list) */
    size_t ntaken, w = 0;
    char **taken = taken_places(p, &ntaken);
    qsort(p->copies, p->ncopies, sizeof *p->copies, by_dst);
    for (size_t i = 0, owner = 0; i < p->ncopies; i++) {
        tool_copy *c = &p->copies[i];
        int keep = taken != NULL && p->cfg->shard_index <= 1 &&
                   bsearch(&c->dst, taken, ntaken, sizeof *taken, by_string) == NULL;
        if (!keep) {
            free_copy(c);
            continue;
        }
        if (w > 0 && strcmp(p->copies[owner].dst, c->dst) == 0) {
            char msg[1024];
            snprintf(msg, sizeof msg, "same output as %s: %s", p->copies[owner].src, c->dst);
            if ((c->problem = strdup(msg)) == NULL)
                p->oom = 1;
        } else {
            owner = w;
        }
        p->copies[w++] = *c;
    }
    p->ncopies = w;
    free(taken);
}

/* Batch: -o must be a directory or not exist yet (it is then created). */
static c2s_status check_out_dir(const tool_config *cfg, const char **out_dir, c2s_error *err)
{
    struct stat st;
    *out_dir = NULL;
    if (cfg->output == NULL)
        return C2S_OK;
    if (tool_is_batch(cfg)) {
        int exists = stat(cfg->output, &st) == 0;
        if (exists && !S_ISDIR(st.st_mode))
            return tool_fail(err, C2S_ERR_USAGE,
                             "-o %s: with several inputs or -r, -o names a directory", cfg->output);
        if (!exists && tool_has_suffix(cfg->output, ".safetensors"))
            return tool_fail(err, C2S_ERR_USAGE,
                             "-o %s: with several inputs or -r, -o names a directory, not a "
                             ".safetensors file (end it with '/' to create such a directory)",
                             cfg->output);
        *out_dir = cfg->output;
    } else if (!cfg->to_stdout &&
               ((stat(cfg->output, &st) == 0 && S_ISDIR(st.st_mode)) ||
                tool_has_suffix(cfg->output, "/") || strcmp(cfg->output, "/") == 0)) {
        *out_dir = cfg->output;
    }
    return C2S_OK;
}

c2s_status tool_batch_plan(const tool_config *cfg, tool_batch *b, c2s_error *err)
{
    memset(b, 0, sizeof *b);
    planner p = {.cfg = cfg};
    c2s_status st = check_out_dir(cfg, &p.out_dir, err);
    if (st != C2S_OK)
        return st;
    for (size_t i = 0; i < cfg->ninputs && !p.oom; i++)
        add_input(&p, cfg->inputs[i]);
    size_t empty_cap = 0;
    for (size_t i = 0; i < cfg->nroots && !p.oom; i++) {
        size_t first = p.n;
        walk(&p, cfg->roots[i], "", NULL);
        if (p.n - first > 1)
            qsort(p.d + first, p.n - first, sizeof *p.d, by_input);
        if (p.n == first && !keep_string(&b->empty_roots, &b->nempty, &empty_cap, cfg->roots[i]))
            p.oom = 1;
    }
    if (p.nlinks > 1)
        qsort(p.links, p.nlinks, sizeof *p.links, by_string);
    if (p.nleft_out > 1)
        qsort(p.left_out, p.nleft_out, sizeof *p.left_out, by_string);
    if (p.nnot_copied > 1)
        qsort(p.not_copied, p.nnot_copied, sizeof *p.not_copied, by_string);
    b->links = p.links;
    b->nlinks = p.nlinks;
    if (!p.oom) {
        dedupe(&p);
        if (!cfg->scan) /* --scan writes nothing */
            mark_conflicts(&p);
    }
    if (!p.oom)
        settle_copies(&p); /* before shard(): a copy never takes another slice's output */
    if (!p.oom && cfg->shard_count)
        shard(&p);
    for (size_t i = 0; i < p.nreserved; i++)
        free(p.reserved[i]);
    free(p.reserved);
    b->copies = p.copies;
    b->ncopies = p.ncopies;
    b->left_out = p.left_out;
    b->nleft_out = p.nleft_out;
    b->not_copied = p.not_copied;
    b->nnot_copied = p.nnot_copied;
    b->jobs = malloc((p.n ? p.n : 1) * sizeof *b->jobs);
    if (b->jobs == NULL)
        p.oom = 1;
    for (size_t i = 0; i < p.n; i++) {
        if (b->jobs != NULL)
            b->jobs[b->njobs++] = p.d[i].job;
        else
            free_job(&p.d[i].job);
    }
    b->cap = b->njobs;
    free(p.d);
    if (p.oom)
        return tool_fail(err, C2S_ERR_INPUT, "out of memory");
    return C2S_OK;
}

int tool_batch_warn(const tool_config *cfg, const tool_batch *b)
{
    for (size_t i = 0; i < b->nempty; i++)
        tool_warn(NULL, cfg, b->empty_roots[i], "no file to %s under it",
                  cfg->scan ? "scan" : "convert");
    if (b->nlinks > 0) {
        char shown[600] = "";
        size_t at = 0;
        for (size_t i = 0; i < b->nlinks && i < 3 && at < sizeof shown; i++)
            at += (size_t)snprintf(shown + at, sizeof shown - at, "%s%s", i ? ", " : "",
                                   b->links[i]);
        tool_warn(NULL, cfg, NULL,
                  "skipped %zu symbolic link%s (%s%s); --follow-symlinks follows them", b->nlinks,
                  tool_plural(b->nlinks), shown, b->nlinks > 3 ? ", ..." : "");
    }
    for (size_t i = 0; i < b->nleft_out; i++)
        tool_verbose(NULL, cfg, "%s: left out (--include-file/--exclude-file)", b->left_out[i]);
    for (size_t i = 0; i < b->nnot_copied; i++)
        tool_verbose(NULL, cfg,
                     "%s: not copied: a zip, pickle, tar or NumPy file that is no checkpoint "
                     "(--copy-other copies nothing a loader would run unjudged)",
                     b->not_copied[i]);
    return b->nempty > 0;
}

void tool_batch_free(tool_batch *b)
{
    for (size_t i = 0; i < b->njobs; i++)
        free_job(&b->jobs[i]);
    free(b->jobs);
    for (size_t i = 0; i < b->nempty; i++)
        free(b->empty_roots[i]);
    free(b->empty_roots);
    for (size_t i = 0; i < b->nlinks; i++)
        free(b->links[i]);
    free(b->links);
    for (size_t i = 0; i < b->ncopies; i++)
        free_copy(&b->copies[i]);
    free(b->copies);
    for (size_t i = 0; i < b->nleft_out; i++)
        free(b->left_out[i]);
    free(b->left_out);
    for (size_t i = 0; i < b->nnot_copied; i++)
        free(b->not_copied[i]);
    free(b->not_copied);
    memset(b, 0, sizeof *b);
}
