/*
 * touch_pages.c - time the first write to fresh anonymous memory (see
 * bench/cold_memory.sh).
 *
 *   touch_pages MIB huge|small
 *
 * Maps MIB MiB, advises it MADV_HUGEPAGE (huge) or MADV_NOHUGEPAGE (small),
 * writes one byte per 4 KiB page and prints the milliseconds that took, the
 * rate, and the slowest 2 MiB.  Nothing else: the point is what the kernel
 * (and, in a VM, the host) charges for memory a process touches first.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "huge") != 0 && strcmp(argv[2], "small") != 0)) {
        fprintf(stderr, "usage: touch_pages MIB huge|small\n");
        return 2;
    }
    size_t chunk = (size_t)2 << 20, n = (size_t)strtoul(argv[1], NULL, 10) << 20;
    n = (n + chunk - 1) / chunk * chunk;
    double t0 = now_ms();
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    (void)madvise(p, n, strcmp(argv[2], "huge") == 0 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    double worst = 0;
    for (size_t at = 0; at < n; at += chunk) {
        double a = now_ms();
        for (size_t i = at; i < at + chunk; i += 4096)
            p[i] = 1;
        double d = now_ms() - a;
        worst = d > worst ? d : worst;
    }
    double ms = now_ms() - t0;
    printf("%.1f ms %.2f GB/s worst-2MiB %.2f ms\n", ms, (double)n / 1e6 / ms, worst);
    return 0;
}
