/*
 * rd_st.h - safetensors files behind the reader interface (reader.h).
 *
 * A safetensors file holds no pickle: nothing in it can run.  The reader
 * gives such a file a verdict so that a pipeline can scan every file it
 * meets: safe when its header passes the validator (stread.h), corrupt
 * (rule C2S_RULE_CORRUPT, the validator's message) when it breaks one of
 * its rules.  It has nothing to convert.
 */
#ifndef RD_ST_H
#define RD_ST_H

#include "reader/reader.h"

extern const rd_ops rd_st_ops;

#endif /* RD_ST_H */
