/*
 * rd_zip.h - the reader of torch.save's zip checkpoints (PyTorch >= 1.6).
 *
 * The archive is read from the input's descriptor (zipsrc.h); its data.pkl
 * is interpreted by the restricted VM and judged; storages are the
 * "<archive>/data/<key>" records, streamed with their CRC-32 checked.
 */
#ifndef RD_ZIP_H
#define RD_ZIP_H

#include "reader/reader.h"

extern const rd_ops rd_zip_ops;

#endif /* RD_ZIP_H */
