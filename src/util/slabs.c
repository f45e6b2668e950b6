/*
 * slabs.c - huge-page slabs faulted in ahead of use (see slabs.h).
 *
 * The thread fills ready[] up to SLABS_AHEAD and then sleeps on `wake`
 * until slab_supply_take() makes room or slab_supply_stop() asks it to end.  It maps and
 * populates a slab outside the lock, so that slab_supply_take() never waits for
 * the kernel: it takes what is ready or maps its own.
 */
#include "util/slabs.h"
#include "util/huge.h"

#include <sys/mman.h>

/* Fault in the pages of slab p writable, on this thread (0: not done). */
static void populate(void *p)
{
#ifdef MADV_POPULATE_WRITE
    (void)madvise(p, HUGE_PAGE, MADV_POPULATE_WRITE);
#else
    (void)p;
#endif
}

static void *supply(void *arg)
{
    slab_supply *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (s->nready == SLABS_AHEAD) {
            pthread_cond_wait(&s->wake, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        void *p = huge_alloc(HUGE_PAGE);
        if (p != NULL)
            populate(p);
        pthread_mutex_lock(&s->mu);
        if (p == NULL) /* out of memory: slab_supply_take maps its own, and fails */
            break;
        if (s->stopping) {
            huge_free(p, HUGE_PAGE);
            break;
        }
        s->ready[s->nready++] = p;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void slab_supply_start(slab_supply *s)
{
    s->nready = 0;
    s->stopping = 0;
    s->threaded = 0;
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
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        if (s->nready > 0) {
            p = s->ready[0];
            for (size_t i = 1; i < s->nready; i++)
                s->ready[i - 1] = s->ready[i];
            s->nready--;
            pthread_cond_signal(&s->wake);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return p != NULL ? p : huge_alloc(HUGE_PAGE);
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
