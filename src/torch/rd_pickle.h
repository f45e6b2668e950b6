/*
 * rd_pickle.h - files that are not zip archives: torch.load's legacy path.
 *
 * torch.load decides on the first four bytes: anything that is not a zip
 * goes down its legacy path, which unpickles the pickles at the start of
 * the file (magic number, protocol, system info, the object, the storage
 * keys), stopping early when the magic or protocol number is wrong.  This
 * reader judges the same pickles with the restricted VM, reports a zip
 * hidden behind leading bytes (a polyglot), and then says what the file is
 * (a pre-1.6 checkpoint, a bare pickle, a safetensors file, ...): none of
 * them converts yet.
 */
#ifndef RD_PICKLE_H
#define RD_PICKLE_H

#include "reader/reader.h"

extern const rd_ops rd_pickle_ops;

#endif /* RD_PICKLE_H */
