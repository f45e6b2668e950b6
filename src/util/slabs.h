/*
 * slabs.h - huge-page slabs mapped and faulted in ahead of use, on a thread.
 *
 * Why: the pickle VM builds a graph of 70 MB for a checkpoint of 200,000
 * tensors, in slabs of HUGE_PAGE bytes (util/huge.h).  The first write to
 * each slab stops the VM while the kernel finds and clears a 2 MiB page: on
 * a virtual machine whose memory the host maps on first use, that clearing
 * was a third of the VM's run, and varied from run to run.  The machine's
 * other core has nothing to do meanwhile.
 *
 * How: slab_supply_start() starts a thread that keeps SLABS_AHEAD slabs ready:
 * each one huge_alloc'd and then populated with madvise(MADV_POPULATE_WRITE)
 * (Linux 5.14), which faults its pages in writable without writing a byte,
 * so that the kernel clears them on that thread.  slab_supply_take() hands over a
 * ready slab, or, when none is ready (the thread is behind, or there is no
 * thread), one huge_alloc'd on the spot: the caller never waits for the
 * thread.  A slab is zeroed memory either way, as huge_alloc's is, and is
 * freed with huge_free(p, HUGE_PAGE).  slab_supply_stop() stops the thread and
 * unmaps the slabs nobody took.
 *
 * The cost: up to SLABS_AHEAD slabs resident and not yet used when the VM
 * stops (freed then), on top of its peak: 4 MiB (the conversion of 200,000
 * tensors peaks at 163.4 MB with two ahead, 165.5 MB with three).
 *
 * slab_supply_prefault() gives the thread other memory to fault in when it
 * has its slabs ready: arrays the caller fills in order, a page ahead of
 * its writes (the VM's memo; the tensor map's tensors and storages, once
 * slab_supply_quiet() has ended the slabs with the VM's run).
 *
 * Cold memory: on a VM whose balloon reports free memory to the host (virtio
 * free page reporting), free blocks of 2 MiB that sat a few seconds are
 * handed back, and the host maps them again, 4 KiB at a time, on the next
 * touch: a huge page then cost 3 to 8 ms to fault in, against 0.1 ms warm,
 * while 4 KiB pages, taken from smaller free blocks the balloon does not
 * report, cost 1 ms per 2 MiB either way (bench/cold_memory.sh; the 200,000-
 * tensor scan took 330 to 600 ms cold, 200 ms warm).  So the thread times
 * each slab's populate on its own CPU clock, and once one takes more than
 * cold_ns it maps the next ones, and slab_supply_take its own, in 4 KiB
 * pages; one slab in SLAB_PROBE_EVERY tries a huge page again, and a fast
 * one brings the huge pages back (memory a run just freed is warm again:
 * the run after a cold one would otherwise pay 4 KiB pages for nothing).
 *
 * Where MADV_POPULATE_WRITE is unknown (an older kernel refuses it), the
 * thread maps slabs without populating them: no gain, no harm.  Only one
 * thread may take slabs.  A zeroed struct, never started (or stopped),
 * maps each slab on the spot.
 */
#ifndef UTIL_SLABS_H
#define UTIL_SLABS_H

#include "util/huge.h"

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#define SLABS_AHEAD 2

/* A huge page that takes more than this (1.5 ms of the thread's CPU time)
 * to fault in came from memory the host had taken back: see "Cold memory"
 * above. */
#define SLAB_COLD_NS 1500000u

/* While slabs come in 4 KiB pages, one in this many tries a huge page again. */
#define SLAB_PROBE_EVERY 16

typedef struct slab_supply {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the thread waits here for room (or the stop) */
    void *ready[SLABS_AHEAD];
    size_t nready;
    size_t want;          /* slabs to keep ready: SLABS_AHEAD, 0 once quiet */
    unsigned char *range; /* slab_supply_prefault's request, range_len bytes */
    size_t range_len;
    int stopping, threaded;
    int small_pages;  /* set by the thread once a slab's huge page took more
                         than cold_ns of its CPU time to fault in */
    uint64_t cold_ns; /* SLAB_COLD_NS from slab_supply_start */
    size_t small_run; /* slabs mapped in 4 KiB pages so far (probes counted) */
    pthread_t thread;
} slab_supply;

/* Start the thread (threaded 0 if it cannot be started: slab_supply_take then
 * maps each slab itself). */
void slab_supply_start(slab_supply *s);

/* A zeroed slab of HUGE_PAGE bytes, or NULL when out of memory. */
void *slab_supply_take(slab_supply *s);

/* Ask the thread to fault in [p, p + n) writable too, once it has its
 * slabs ready: memory of the caller's that it is about to fill in order.
 * One request at a time: a
 * new one replaces what is left of the last.  A hint only: nothing when
 * there is no thread; the range's bytes are never written, so it may be
 * freed or moved meanwhile (the kernel then refuses the request, or faults
 * in whatever now lies there, which changes no byte). */
void slab_supply_prefault(slab_supply *s, void *p, size_t n);

/* For an array of cap bytes at base that its owner fills in order (a
 * mapping of its own: big_calloc or big_realloc past HUGE_MIN), the write
 * at byte at: when it lies past the start of the last page asked for
 * (*ahead bytes, 0 at first), ask the thread (s; NULL: none, for every
 * write to this array) to fault in the huge page after at's, and move
 * *ahead past it.  Nothing for a smaller array.  Every write of millions
 * calls it, so the test is inline; slab_supply_fill_next does the rest. */
void slab_supply_fill_next(slab_supply *s, void *base, size_t at, size_t cap, size_t *ahead);
static inline void slab_supply_fill_ahead(slab_supply *s, void *base, size_t at, size_t cap,
                                          size_t *ahead)
{
    /* the test the owner's every write makes, inline; the rest once a
     * huge page */
    if (at + HUGE_PAGE > *ahead)
        slab_supply_fill_next(s, base, at, cap, ahead);
}

/* No more slabs: free those ready, and keep the thread for prefault
 * requests only (the VM's run is over; the tensor map, built from its
 * graph, fills its own table in order). */
void slab_supply_quiet(slab_supply *s);

/* Stop the thread and free the slabs not taken. */
void slab_supply_stop(slab_supply *s);

#endif /* UTIL_SLABS_H */
