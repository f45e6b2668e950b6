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

/* What every reader of a torch zip archive does alike (rd_script.c too):
 * CRC-check every record; check that each storage of m has its record
 * "<archive>/data/<key>", long enough; open a storage stream. */
c2s_status rd_zip_verify_all(zipsrc *zip, findings *f, c2s_error *err);
c2s_status rd_zip_check_storages(zipsrc *zip, const tmap *m, c2s_error *err);
c2s_status rd_zip_stream_open(zipsrc *zip, const char *key, rd_stream *s, c2s_error *err);
/* Make s, whose s->u.zip is open, an rd_stream over it. */
void rd_zip_stream_wrap(rd_stream *s);

#endif /* RD_ZIP_H */
