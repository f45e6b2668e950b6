/*
 * checkpoint.h - the checkpoint handle shared by checkpoint.c (opening) and
 * convert.c (writing).  Private to the library; users see c2s.h.
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include <sys/types.h>

#include "c2s.h"
#include "zipsrc.h"

struct c2s_checkpoint {
    zipsrc *zip;
    uint8_t *pickle;
    size_t pickle_len;
    size_t pickle_end;   /* offset just past STOP */
    pvm *vm;
    tmap map;
    dev_t in_dev;        /* identity of the input, to refuse writing over it */
    ino_t in_ino;
};

#endif /* CHECKPOINT_H */
