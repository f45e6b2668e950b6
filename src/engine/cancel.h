/*
 * cancel.h - reading the caller's cancel flag (c2s_write_options.cancel).
 *
 * What it is for.  The flag stays a `volatile sig_atomic_t` in the public
 * API because signal handlers set it.  The engine reads it between blocks
 * (ring.c) and between verified blocks (verify.c), always on the thread
 * that called c2s_write.  That is often not the thread the signal handler
 * ran on: the CLI converts on worker threads (-j N), and the kernel hands a
 * process signal to any thread.  In C11, `volatile` promises nothing
 * between threads (a plain read racing with a store from another thread is
 * a data race), so every engine read of the flag goes through
 * cancel_requested(), which makes it an atomic load.
 *
 * How it works.  The object is not declared _Atomic (that would change the
 * public type), so stdatomic.h's atomic_load cannot be applied to it; the
 * GCC/Clang builtin __atomic_load_n can: it loads any int-sized object
 * atomically.  Relaxed order is enough: the flag carries nothing but
 * "stop", no other data is published through it.
 *
 * Which threads.  Only the c2s_write thread reads the flag.  The CRC pipe's
 * thread (zip/crcpipe.c) never does: a cancelled write stops handing it
 * jobs and crcpipe_finish() waits for the queued ones, which the slots
 * bound (32 MiB by default).  So no internal copy of the flag is kept.
 *
 * What is left to the caller: the store in the handler is the caller's.
 * Both sides would be atomic in the sense of the C11 memory model only if
 * the public field became a pointer to a lock-free atomic_int (which a
 * signal handler may also set); that is an API change.
 */
#ifndef CANCEL_H
#define CANCEL_H

#include <signal.h>

/* 1 when flag is set (flag NULL: never). */
static inline int cancel_requested(const volatile sig_atomic_t *flag)
{
    return flag != NULL && __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
}

#endif /* CANCEL_H */
