/*
 * rd_script.h - the reader of TorchScript archives (torch.jit.save).
 *
 * A TorchScript archive is a torch zip archive (zipsrc.h) that also holds
 * constants.pkl and code/: torch.load hands it to torch.jit.load.  Judged:
 * every pickle torch.jit.load reads (data.pkl, constants.pkl, and the
 * code/...py.debug_pkl records of the classes the pickles name).  A global
 * "__torch__.<qualifier>.<Class>" is not a Python import: TorchScript's
 * unpickler resolves it only against the class of that name compiled from
 * the archive's own code/<qualifier as a path>.py.  Such a global is "data"
 * when that record declares the class and the class has no __setstate__
 * (building its objects runs none of the archive's code); otherwise it stays
 * "unknown" (refused).  torch.jit._pickle's list builders, which that
 * unpickler interprets itself, are allowed.  The code of the classes runs
 * when the model is used (forward()); the verdict does not cover it.
 *
 * Converted: what torch.jit.load(f).state_dict() returns.  From the module
 * object data.pkl holds, each module's parameters (its class's
 * __parameters__ list, read from code/ by tscode.h), then its buffers
 * (__buffers__), then its sub-modules (attributes holding a __torch__
 * module object, in the order data.pkl sets them), named by attribute path
 * ("seq.0.weight").  Other tensor attributes and the tensor constants of
 * constants.pkl are left out, as notes.
 *
 * The archives of torch 1.0 to 1.2 have no data.pkl: their module tree and
 * tensor table are the JSON record model.json (read by tsjson.h), their
 * storages any records it names.  Judged there: attributes.pkl, the debug
 * arenas model.json names and the debug_pkl records of code/ and libs/; a
 * module with a __setstate__ is a finding (torch runs it while loading).
 */
#ifndef RD_SCRIPT_H
#define RD_SCRIPT_H

#include "reader/reader.h"

extern const rd_ops rd_script_ops;

#endif /* RD_SCRIPT_H */
