/*
 * tsnodes.h - pickle-VM values made by a reader rather than by a pickle.
 *
 * The TorchScript readers (rd_script.c, tsjson.c) hand the tensor map
 * (tmap.h) a tree they build themselves: dicts named like state_dict()
 * whose leaves are tensor rebuild calls, either the pickle's own nodes or,
 * for a model.json archive, calls made here.  Each node gets an id after
 * the ids of the pickle VM whose nodes the tree shares (first_id), so the
 * tensor map's visited marks stay unique; tsn_free() frees every node made.
 * Globals made here name string constants, never text from the file.
 */
#ifndef TSNODES_H
#define TSNODES_H

#include <stddef.h>
#include <stdint.h>

#include "pickle/pvm.h"

typedef struct ts_nodes {
    pvm_value **made;
    size_t n, cap;
    size_t first_id; /* the id of the first node made */
} ts_nodes;

/* A new node of kind (zeroed); NULL when out of memory. */
pvm_value *tsn_new(ts_nodes *t, pvm_kind kind);
pvm_value *tsn_str(ts_nodes *t, const char *s);
pvm_value *tsn_int(ts_nodes *t, int64_t i);
/* A tuple of n items, all NULL until set. */
pvm_value *tsn_tuple(ts_nodes *t, size_t n);
/* A reference to module.name; both must outlive the nodes (constants). */
pvm_value *tsn_global(ts_nodes *t, const char *module, const char *name);

/* dict[key] = val (key copied into a new str node); 0 when out of memory. */
int tsn_dict_add(ts_nodes *t, pvm_value *dict, const char *key, pvm_value *val);

size_t tsn_count(const ts_nodes *t);
void tsn_free(ts_nodes *t);

#endif /* TSNODES_H */
