/*
 * shards.c - c2s_plan_shards (include/c2s.h): which output file each tensor
 * goes to when an output is split into shards of a maximum size.
 *
 * How it works.  convert_entries() gives the tensors c2s_write would write,
 * in the order of the checkpoint, with their sizes after conversion.  They
 * are dealt out as Hugging Face's split_state_dict_into_shards_factory
 * (huggingface_hub) deals out a state_dict: a tensor above the maximum is
 * a shard by itself, appended to the list at once; the others fill the
 * open shard, which is appended (and a new one opened) when the next
 * tensor would take it above the maximum, and at the end.  Since a shard's
 * number is its place in that list, the open shard's number is known only
 * when it is appended: its tensors are first marked with the provisional
 * number OPEN and renumbered then (close_open).
 */
#include "engine/checkpoint.h"
#include "engine/convert.h"
#include "engine/names.h"

#include <stdlib.h>
#include <string.h>

/* The shard_of mark of the tensors in the shard not yet appended. */
#define OPEN (C2S_NO_SHARD - 1)

typedef struct dealer {
    c2s_shard_plan *plan;
    const stw_entry *entries;
    size_t n;            /* entries dealt so far */
    size_t open_from;    /* the open shard's tensors are among entries[open_from..n) */
    uint64_t open_bytes; /* in the open shard */
    int open_used;       /* the open shard holds a tensor */
} dealer;

/* Append a shard of bytes bytes to the list; its number. */
static size_t append(c2s_shard_plan *p, uint64_t bytes)
{
    p->shard_bytes[p->nshards] = bytes;
    return p->nshards++;
}

/* Append the open shard: its tensors get its number.  They were all dealt
 * since the shard before it was appended (open_from). */
static void close_open(dealer *d)
{
    if (!d->open_used)
        return;
    size_t k = append(d->plan, d->open_bytes);
    for (size_t i = d->open_from; i < d->n; i++)
        if (d->plan->shard_of[d->entries[i].src] == OPEN)
            d->plan->shard_of[d->entries[i].src] = k;
    d->open_bytes = 0;
    d->open_used = 0;
    d->open_from = d->n;
}

/* Deal the next entry. */
static void deal(dealer *d, uint64_t max_bytes)
{
    const stw_entry *e = &d->entries[d->n];
    c2s_shard_plan *p = d->plan;
    p->total_bytes += e->nbytes;
    if (e->nbytes > max_bytes) {
        p->shard_of[e->src] = append(p, e->nbytes);
    } else {
        if (d->open_bytes + e->nbytes > max_bytes)
            close_open(d);
        p->shard_of[e->src] = OPEN;
        d->open_bytes += e->nbytes;
        d->open_used = 1;
    }
    d->n++;
}

c2s_status c2s_plan_shards(const c2s_checkpoint *ck, const c2s_write_options *opts,
                           uint64_t max_bytes, c2s_shard_plan *plan, c2s_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (max_bytes == 0)
        return c2s_fail(err, C2S_ERR_USAGE, "the maximum shard size must be at least 1 byte");
    c2s_write_options o = opts ? *opts : (c2s_write_options){.out_fd = -1};
    o.only = NULL;
    c2s_write_result res;
    memset(&res, 0, sizeof res);
    stw_entry *entries = NULL;
    char **names = NULL;
    size_t n = 0, ntensors = ck->map.ntensors;
    c2s_status st = convert_entries(&ck->map, &o, &entries, &n, &names, &res, err);
    if (st == C2S_OK) {
        plan->shard_of = malloc((ntensors ? ntensors : 1) * sizeof *plan->shard_of);
        plan->shard_bytes = malloc((n ? n : 1) * sizeof *plan->shard_bytes);
        if (plan->shard_of == NULL || plan->shard_bytes == NULL)
            st = c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    }
    if (st == C2S_OK) {
        for (size_t i = 0; i < ntensors; i++)
            plan->shard_of[i] = C2S_NO_SHARD;
        dealer d = {.plan = plan, .entries = entries};
        while (d.n < n)
            deal(&d, max_bytes);
        close_open(&d);
        plan->tensors = n;
        plan->filtered = res.filtered;
        plan->skipped = res.skipped;
    }
    free(entries);
    names_free(names, ntensors);
    if (st != C2S_OK)
        c2s_shard_plan_free(plan);
    return st;
}

void c2s_shard_plan_free(c2s_shard_plan *plan)
{
    if (plan == NULL)
        return;
    free(plan->shard_of);
    free(plan->shard_bytes);
    memset(plan, 0, sizeof *plan);
}
