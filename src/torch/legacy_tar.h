/*
 * legacy_tar.h - the first thing torch.load's legacy path tries: a tar.
 *
 * For a file that is not a zip, torch.load (1.13, loading from a path)
 * first calls tarfile.open(mode='r:') and, when that succeeds, unpickles
 * the members "storages", "tensors" (plain pickle.load: any global runs)
 * and "pickle" (the pre-0.4 format).  Only when tarfile raises TarError
 * does it read the file as a pickle stream.  So whether a file "is a tar"
 * must be decided exactly as Python's tarfile decides it, or a file can be
 * a clean pickle stream to us and a tar of payloads to torch.
 *
 * tarfile.open reads the first 512-byte header and accepts it when its
 * checksum field, read by tarfile.nti() (base-256, or octal text with
 * Python's int() leniency: spaces, a sign, a 0o prefix, underscores), equals
 * the unsigned or the signed sum of the header's bytes (the field counted as
 * spaces); a first block of zeros is an empty archive (torch then fails on
 * the missing member).  The other number fields are parsed too, and a bad
 * one makes tarfile fail; they are not checked here: taking such a file for
 * a tar only makes us refuse one that torch would read as a pickle stream.
 *
 * A tar is never converted: its members are judged (legacy_tar_judge) and
 * the file refused.
 */
#ifndef LEGACY_TAR_H
#define LEGACY_TAR_H

#include <stdint.h>

#include "reader/reader.h"

#define LEGACY_TAR_BLOCK 512

/* Does tarfile.open take a file whose first 512 bytes are block? */
int legacy_tar_first_block(const unsigned char block[LEGACY_TAR_BLOCK]);

/* Does it take the file in (legacy_tar_first_block on its first block)? */
int legacy_tar_takes(const rd_input *in);

/* tarfile.nti() on the n-byte field f: 0 and *v, 1 when the number does not
 * fit an int64 (*v then saturated), or -1 when tarfile raises. */
int legacy_tar_number(const unsigned char *f, size_t n, int64_t *v);

/* Walk the members as tarfile does and sweep every byte tarfile would hand
 * to an extracted member for the globals it names (into r); what the walk
 * cannot follow is a finding.  C2S_OK unless out of memory or a read fails. */
c2s_status legacy_tar_judge(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                            c2s_error *err);

#endif /* LEGACY_TAR_H */
