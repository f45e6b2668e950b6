/*
 * tscode.h - what the converter reads from a TorchScript archive's code/
 * records: which classes a file declares, which of them are modules, and
 * their __parameters__ and __buffers__ lists.  Never evaluated: the text is
 * only searched for a few line shapes.
 *
 * torch.jit.save writes each class of the qualifier "__torch__.a.b" to the
 * record code/__torch__/a/b.py, as Python-like source:
 *
 *     class Linear(Module):
 *       __parameters__ = ["weight", "bias", ]
 *       __buffers__ = []
 *       weight : Tensor
 *       ...
 *       def forward(self: __torch__.a.b.Linear, ...
 *
 * tscode_parse() reads, at column 0, "class NAME(BASES):" or "class NAME:"
 * (a module when BASES is exactly "Module"), and in the class body, at an
 * indent of exactly two spaces, the lines "__parameters__ = [...]" and
 * "__buffers__ = [...]" (a list of double-quoted names, each followed by
 * ", "), and the declared attributes: "NAME : TYPE" (a Final constant has
 * " = VALUE" after its type) and '__annotations__["NAME"] = TYPE'.  Every
 * class of a file that mentions __setstate__ anywhere is
 * taken to have one (the class runs its own code when torch's unpickler
 * builds an object of it; the file's Python syntax is not followed far
 * enough to say which class defines it).
 * Anything else is skipped.  A list line it cannot read, a backslash in a
 * name, a tab or another indent of the class's own statements, or a class
 * declared twice fails: the converter would not know which tensors torch
 * registers, nor whether the class runs code while loading.
 */
#ifndef TSCODE_H
#define TSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "util/c2s_error.h"

typedef struct ts_class {
    char *qualname;   /* "__torch__.a.b.Linear" */
    int is_module;    /* declared "class NAME(Module):" */
    int has_setstate; /* defines __setstate__ */
    char **params;    /* __parameters__, in list order */
    size_t nparams;
    char **buffers; /* __buffers__, in list order */
    size_t nbuffers;
    char **attrs; /* declared attributes ("NAME : TYPE", __annotations__["NAME"] = TYPE) */
    char **types; /* the TYPE text of each, as written */
    size_t nattrs;
} ts_class;

typedef struct ts_classes {
    ts_class *items;
    size_t n, cap;
} ts_classes;

/* Add the classes the source text (the record called where) declares for
 * qualifier to out (none when it fails).  Fails with C2S_ERR_INPUT: "<where> line N: cannot read
 * the __parameters__ list", "<where> declares class X twice". */
c2s_status tscode_parse(const char *qualifier, const char *where, const uint8_t *text, size_t len,
                        ts_classes *out, c2s_error *err);

/* The class called qualname; NULL when none was read. */
const ts_class *tscode_find(const ts_classes *c, const char *qualname);

/* The declared type of attribute name in k ("Tensor", "Optional[Tensor]",
 * "__torch__.a.L"), or NULL when k declares no such attribute. */
const char *tscode_attr_type(const ts_class *k, const char *name);

/* 1 when name is in the list. */
int tscode_has(char *const *list, size_t n, const char *name);

void tscode_free(ts_classes *c);

#endif /* TSCODE_H */
