/*
 * crc_speed.c - how fast each CRC-32 path of src/zip/crc32.h runs here:
 * `make bench-crc`.  64 MiB of bytes already in memory, each path (zlib's
 * tables, PCLMULQDQ, VPCLMULQDQ with AVX-512, as far as the CPU goes) run
 * five times; the best run is reported in GB/s, with the CRC, which must be
 * the same on every path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "zip/crc32.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    size_t n = (size_t)64 << 20;
    unsigned char *buf = malloc(n);
    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
    static const char *names[] = {"", "zlib", "PCLMULQDQ", "VPCLMULQDQ + AVX-512"};
    for (int path = 1; path <= crc32_path_count(); path++) {
        double best = 1e9;
        uint32_t crc = 0;
        for (int run = 0; run < 5; run++) {
            double t = now();
            crc = crc32_with_path(path, 0, buf, n);
            if (now() - t < best)
                best = now() - t;
        }
        printf("%-22s %6.1f GB/s  (crc %08x)\n", names[path], (double)n / best / 1e9, crc);
    }
    free(buf);
    return 0;
}
