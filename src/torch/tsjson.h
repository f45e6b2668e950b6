/*
 * tsjson.h - the module tree of a TorchScript archive of torch 1.0 to 1.2,
 * read from its model.json (cJSON); nothing else of the archive is run.
 *
 * model.json is a torch.ModelDef (caffe2/proto/torch.proto) in protobuf's
 * JSON form: a tensor table ("tensors": dims, offset, strides, dataType,
 * data.key = the record holding the storage, device) and the main module
 * ("mainModule": name, "parameters" = [{name, tensorId, isBuffer}],
 * "submodules", "attributes", code arenas).  Field names are accepted in
 * protobuf's lowerCamelCase or in the proto's snake_case, int64 values as
 * JSON strings or numbers, the data type by enum name or number.
 *
 * torch.jit.load (import_legacy.cpp) registers a module's sub-modules, then
 * its parameters and buffers in table order; state_dict() gives each
 * module's parameters, then its buffers, then its sub-modules.
 * tsjson_build() makes that tree (tsnodes.h): dicts named like state_dict()
 * over _rebuild_tensor_v2 calls made here, whose storage keys are indexes
 * ("0", "1", ...) into out->records, the records holding the bytes (a
 * storage is one record, read whole, numel = record size / element size, as
 * torch reads it).  A module with a __setstate__ (getStateAttributeId)
 * makes torch run the archive's code while loading: a finding.  The records
 * torch unpickles besides (the modules' torchscriptDebugArena) are listed in
 * out->pickles for the caller to judge.
 */
#ifndef TSJSON_H
#define TSJSON_H

#include <stddef.h>
#include <stdint.h>

#include "torch/tsnodes.h"
#include "util/c2s_error.h"
#include "util/findings.h"
#include "zip/zipsrc.h"

typedef struct tsjson_out {
    pvm_value *tree; /* the state_dict tree */
    char **records;  /* storage key i -> record name */
    size_t nrecords;
    char **pickles; /* other records torch unpickles, to judge */
    size_t npickles;
    int64_t proto_version;
} tsjson_out;

/* Read model.json (text of len bytes, from z) into out; where names it in
 * messages.  Fails with C2S_ERR_INPUT: "<where>: not valid JSON",
 * "<where>: tensor 3: unknown data type 'STRING'", ... */
c2s_status tsjson_build(zipsrc *z, const char *where, const uint8_t *text, size_t len,
                        ts_nodes *nodes, tsjson_out *out, findings *f, c2s_error *err);

void tsjson_free(tsjson_out *out);

#endif /* TSJSON_H */
