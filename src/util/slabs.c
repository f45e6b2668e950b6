/*
 * slabs.c - huge-page slabs faulted in ahead of use (see slabs.h).
 *
 * The thread fills ready[] up to `want` slabs (SLABS_AHEAD, 0 once quiet),
 * then faults in what is left of the prefault request, a huge page at a
 * time, and then sleeps on `wake` until slab_supply_take() makes room, a
 * request comes, or slab_supply_stop() asks it to end.  It maps and
 * populates outside the lock, so that slab_supply_take() never waits for
 * the kernel: it takes what is ready or maps its own.
 */
#include "util/slabs.h"
#include "util/huge.h"

#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

/* This thread's CPU time: what faulting a slab in cost it, preemption left
 * out (the time a VM's host spends on the guest's faults is counted, as
 * the guest sees its vCPU busy meanwhile). */
static uint64_t cpu_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A zeroed slab, in huge pages or (small) in 4 KiB ones. */
static void *map_slab(int small)
{
    void *p = huge_alloc(HUGE_PAGE);
#ifdef MADV_NOHUGEPAGE
    if (p != NULL && small)
        (void)madvise(p, HUGE_PAGE, MADV_NOHUGEPAGE);
#endif
    return p;
}

/* Fault in the pages of [p, p + n) writable, on this thread; the kernel's
 * refusal (an old kernel, a range no longer mapped) changes nothing. */
static void populate(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    (void)madvise(p, n, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

/* With the lock held: the next piece of the prefault request (at most a
 * huge page), taken off it; NULL when there is none. */
static unsigned char *next_piece(slab_supply *s, size_t *n)
{
    if (s->range_len == 0)
        return NULL;
    unsigned char *p = s->range;
    *n = s->range_len < HUGE_PAGE ? s->range_len : HUGE_PAGE;
    s->range += *n;
    s->range_len -= *n;
    return p;
}

static void *supply(void *arg)
{
    slab_supply *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (s->nready >= s->want) {
            size_t n = 0;
            unsigned char *piece = next_piece(s, &n);
            if (piece == NULL) {
                pthread_cond_wait(&s->wake, &s->mu);
                continue;
            }
            pthread_mutex_unlock(&s->mu);
            populate(piece, n);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        /* in 4 KiB pages since a slow huge page, one slab in SLAB_PROBE_EVERY
         * tries a huge page again: fast, and the slabs go back to them */
        int huge = !s->small_pages || ++s->small_run % SLAB_PROBE_EVERY == 0;
        pthread_mutex_unlock(&s->mu);
        void *p = map_slab(!huge);
        uint64_t took = 0;
        if (p != NULL) {
            uint64_t t0 = cpu_ns();
            populate(p, HUGE_PAGE);
            took = cpu_ns() - t0;
        }
        pthread_mutex_lock(&s->mu);
        if (huge && p != NULL)
            s->small_pages = took > s->cold_ns;
        if (p == NULL) /* out of memory: slab_supply_take maps its own, and fails */
            break;
        if (s->stopping || s->nready >= s->want) { /* stopped, or quiet, meanwhile */
            huge_free(p, HUGE_PAGE);
            continue;
        }
        s->ready[s->nready++] = p;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void slab_supply_start(slab_supply *s)
{
    s->nready = 0;
    s->want = SLABS_AHEAD;
    s->range = NULL;
    s->range_len = 0;
    s->stopping = 0;
    s->threaded = 0;
    s->small_pages = 0;
    s->small_run = 0;
    s->cold_ns = SLAB_COLD_NS;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&s->wake, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        return;
    }
    s->threaded = pthread_create(&s->thread, NULL, supply, s) == 0;
    if (!s->threaded) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->mu);
    }
}

void *slab_supply_take(slab_supply *s)
{
    void *p = NULL;
    int small = 0;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        small = s->small_pages;
        if (s->nready > 0) {
            p = s->ready[0];
            for (size_t i = 1; i < s->nready; i++)
                s->ready[i - 1] = s->ready[i];
            s->nready--;
            pthread_cond_signal(&s->wake);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return p != NULL ? p : map_slab(small);
}

void slab_supply_prefault(slab_supply *s, void *p, size_t n)
{
    if (!s->threaded)
        return;
    pthread_mutex_lock(&s->mu);
    s->range = p;
    s->range_len = n;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

/* The inline test of slab_supply_fill_ahead calls this for a write at
 * at >= *ahead - HUGE_PAGE + 1; *ahead is set so that the next call
 * comes when there may be something to ask: never without a thread (s is
 * the same for every write to an array), and past the array's end when
 * it is too small or its last page was asked for. */
void slab_supply_fill_next(slab_supply *s, void *base, size_t at, size_t cap, size_t *ahead)
{
    if (s == NULL) {
        *ahead = SIZE_MAX;
        return;
    }
    size_t next = (at / HUGE_PAGE + 1) * HUGE_PAGE;
    if (cap < HUGE_MIN || next >= cap) {
        *ahead = cap + HUGE_PAGE - 1; /* nothing until the array grows */
        return;
    }
    size_t n = cap - next < HUGE_PAGE ? cap - next : HUGE_PAGE;
    slab_supply_prefault(s, (unsigned char *)base + next, n);
    *ahead = next + n;
}

void slab_supply_quiet(slab_supply *s)
{
    if (!s->threaded)
        return;
    void *ready[SLABS_AHEAD];
    pthread_mutex_lock(&s->mu);
    size_t n = s->nready;
    for (size_t i = 0; i < n; i++)
        ready[i] = s->ready[i];
    s->nready = 0;
    s->want = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        huge_free(ready[i], HUGE_PAGE);
}

void slab_supply_stop(slab_supply *s)
{
    if (!s->threaded)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nready; i++)
        huge_free(s->ready[i], HUGE_PAGE);
    s->nready = 0;
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    s->threaded = 0;
}
