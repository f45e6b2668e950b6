/*
 * rd_npy.h - NumPy .npy files behind the reader interface (reader.h).
 *
 * An .npy file is a magic string, a version, a header (a Python dict
 * literal: descr, fortran_order, shape) and the array's bytes.  When the
 * dtype holds Python objects ('O' in descr), numpy.save writes the array
 * with pickle and numpy.load(allow_pickle=True) unpickles it: that pickle
 * is judged like any other.  An array of plain numbers holds nothing that
 * runs (safe) and nothing this tool converts.
 */
#ifndef RD_NPY_H
#define RD_NPY_H

#include "reader/reader.h"

extern const rd_ops rd_npy_ops;

/* For an .npy held in memory (a member of an .npz): 1 when it holds an
 * object array, whose pickle starts at *pickle; 0 when it holds plain
 * numbers; -1 when it is no .npy or its header runs past its end. */
int npy_pickle_offset(const uint8_t *data, size_t len, size_t *pickle);

#endif /* RD_NPY_H */
