/*
 * policy.h - the safety policy: what would loading the pickle run?
 *
 * Loading a pickle with Python imports the module of every global it names
 * (find_class) and calls whatever REDUCE, NEWOBJ, INST, OBJ and BUILD
 * point at.  policy_classify() sorts each global named by a file into:
 *
 *   allowed    exactly the (module, name) pairs that are interpreted rather
 *              than run: the calls the pickle VM itself turns into plain
 *              containers (collections.OrderedDict, builtins.set, frozenset,
 *              bytes, _codecs.encode; see pvm.h), and the pairs the caller's
 *              classifier accepts (for the converter, its table of PyTorch
 *              globals: rebuild functions, storage classes, dtypes, ...).
 *   data       a short curated list of globals real checkpoints carry as
 *              plain data (numpy scalars and arrays, argparse.Namespace,
 *              Lightning's AttributeDict, omegaconf containers, pathlib
 *              paths, ...).  Inert here; their constructors run no code of
 *              the file's choosing.
 *   dangerous  names that run code, touch files or the network, or load
 *              other code: os, subprocess, builtins.eval, pickle.loads,
 *              torch.load, torch.hub, ...  Matched by module (and its
 *              sub-modules) or by exact pair.
 *   unknown    everything else.
 *
 * Allowed and data pairs are matched exactly, never by prefix.  A dotted
 * name ("os.system" under module "torch") is an attribute path Python
 * would walk (reaching os.system through torch), and a dunder name
 * ("__globals__") reaches interpreter internals: both are dangerous, so
 * neither --allow-global nor --permissive nor the caller's classifier can
 * accept them.
 *
 * A file is refused when it names any dangerous global, or any unknown one
 * that the user did not allow (--allow-global) unless --permissive.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

#include "c2s.h"

/* The classes are c2s_global_class (c2s.h), named there by
 * c2s_global_class_name(). */

typedef struct policy_options {
    const char *const *allow; /* "module.name" entries moved from unknown to data;
                                  "module.*" moves every name of module and of its
                                  sub-modules ("models.*": models.yolo.Model, ...) */
    size_t nallow;
    int permissive; /* every unknown global counts as data */
} policy_options;

/* The caller's classifier: 1 when the caller itself interprets module.name
 * (so it is allowed), 0 otherwise.  Asked only about names that are not
 * dangerous. */
typedef int (*policy_known_fn)(const char *module, const char *name);

/* Class of the global module.name (module already mapped to Python 3).
 * known may be NULL (the caller interprets nothing itself).  The options
 * only matter for unknown globals. */
c2s_global_class policy_classify(const char *module, const char *name, policy_known_fn known,
                                 const policy_options *opts);

/* 1 when module.name, if only named (no REDUCE, NEWOBJ, INST, OBJ or BUILD
 * made use of it), is inert: it is one of the builtins' plain containers
 * and scalars (set, frozenset, dict, list, tuple, ...), which whatever
 * calls them turns into a container or an error, so such an unknown global
 * counts as data (judge.c).  Any other unknown name stays unknown even when
 * only named: torch calls values a pickle hands it (policy.c says how). */
int policy_inert_reference(const char *module, const char *name);

/* 1 when a global of this class makes the file refused. */
int policy_refuses(c2s_global_class cls);

#endif /* POLICY_H */
