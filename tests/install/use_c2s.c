/*
 * use_c2s.c - a program outside the project that uses the installed library:
 * tests/install/run.sh builds it against the installed c2s.h and c2s.pc
 * (shared, static, and compiled as C++: this file is both C and C++) and
 * runs it.
 *
 *   use_c2s IN OUT   convert checkpoint IN to OUT, print the library's version
 *                    and how many tensors were written; exit with the status
 */
#include <c2s.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    c2s_open_options oo;
    c2s_write_options wo;
    c2s_write_result res;
    c2s_error err;
    c2s_checkpoint *ck = NULL;
    memset(&oo, 0, sizeof oo);
    memset(&wo, 0, sizeof wo);
    memset(&res, 0, sizeof res);
    c2s_error_clear(&err);
    if (argc != 3) {
        fprintf(stderr, "usage: use_c2s IN OUT\n");
        return 2;
    }
    c2s_status st = c2s_open(argv[1], &oo, &ck, &err);
    if (st == C2S_OK)
        st = c2s_write(ck, argv[2], &wo, &res, &err);
    c2s_close(ck);
    if (st != C2S_OK) {
        fprintf(stderr, "use_c2s: %s\n", err.msg);
        return (int)st;
    }
    printf("c2s %s: %zu tensors\n", C2S_VERSION, res.tensors);
    return 0;
}
