/*
 * rd_legacy.h - files that are not zip archives: torch.load's legacy path.
 *
 * torch.load decides on the first bytes: anything that is not a zip goes
 * down its legacy path, which unpickles, one after the other,
 *
 *   1. the magic number 0x1950a86a20f9469cfc6c (compared by value),
 *   2. the protocol version 1001 (by value),
 *   3. the system info (byte order, type sizes: loaded and ignored),
 *   4. the object, whose persistent ids are ('storage', class, key,
 *      location, numel, view) with view None or (view_key, offset, numel),
 *   5. the list of storage keys,
 *
 * and then, for each key of that list in order, reads an 8-byte
 * little-endian element count, which must equal the storage's, and the
 * storage's bytes (always little-endian: torch swaps on big-endian hosts,
 * whatever the system info says).  The first persistent id naming a key
 * decides its type and size; a key listed twice is read twice, the second
 * read winning.  A view is made by the first id naming its view key, and
 * every later id naming that key gets it, whatever its own storage, offset
 * and size say (a view key naming a storage gets the storage): files where
 * that differs from each id's own view are refused.
 *
 * This reader follows those steps with the restricted VM, never reading a
 * pickle Python would not reach.  Every pickle it runs is judged; a file
 * that stops being a legacy checkpoint on the way (a wrong magic number, a
 * bare pickle, a safetensors file) is reported as what it is.  A zip
 * hidden behind leading bytes (a polyglot) is a finding.  Storages stream
 * straight from their offsets: the file is never held in memory, only each
 * pickle, read through a window that grows until the pickle fits.
 *
 * Not read: the legacy tar format (torch.save before 0.4 with tarfile), a
 * clear error for now.
 */
#ifndef RD_LEGACY_H
#define RD_LEGACY_H

#include "reader/reader.h"

extern const rd_ops rd_legacy_ops;

/* Whether v equals torch's legacy magic number (as Python compares it). */
int rd_legacy_is_magic(const pvm_value *v);

/* Sweep the file from pos (up to the limit on pickle size) for the globals
 * a pipeline calling pickle.load again would meet; they go to r, named
 * "file" with offsets from the start of the file. */
c2s_status rd_legacy_sweep_rest(const rd_input *in, uint64_t pos, const c2s_open_options *o,
                                c2s_report *r, c2s_error *err);

#endif /* RD_LEGACY_H */
