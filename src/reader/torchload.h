/*
 * torchload.h - what torch.load would do with a file that another reader
 * (safetensors, .npy, a TensorFlow index) claims.
 *
 * torch.load does not know those formats: a file that does not start with
 * a zip's local header goes down its legacy path, which tries the file as
 * a tar (legacy_tar.h) and then unpickles it from byte 0.  A file can be a
 * valid safetensors file or TensorFlow index and also a tar of payloads or
 * a legacy pickle stream (an index's first block is referenced by offset:
 * any bytes may come before it), so a verdict of "safe" must hold for that
 * reading too.
 *
 * torchload_judge(): when Python's tarfile takes the first block, a finding
 * and the members' globals; else the first pickle from byte 0 is run (in a
 * window grown only while the pickle is cut short by it): its globals are
 * judged when one has a module name Python could import, and when its
 * value is the legacy magic number (torch then reads on), a finding and a
 * sweep of the rest of the file.  The first bytes of a genuine file of
 * those formats may happen to be a short pickle ("N." is None), never one
 * that names an importable module or makes the magic number.  C2S_OK
 * unless out of memory or a read fails.
 */
#ifndef TORCHLOAD_H
#define TORCHLOAD_H

#include "reader/reader.h"

c2s_status torchload_judge(const rd_input *in, const c2s_open_options *o, c2s_report *r,
                           c2s_error *err);

#endif /* TORCHLOAD_H */
