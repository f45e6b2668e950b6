/*
 * fuzz_tscode.c - the line reader of TorchScript code/ records on arbitrary
 * bytes.
 *
 * Property: for any text, tscode_parse() never crashes, leaks or hangs; it
 * returns C2S_OK or C2S_ERR_INPUT with a non-empty message and no class
 * kept; every class it
 * read has a qualified name under the qualifier, and can be found again by
 * that name; and when the text mentions __setstate__, every class it read
 * is marked as having one (the promise the judge relies on).  The same bytes
 * go through tseval_check(), which must say yes or no with a message, and
 * say no to a text holding "def f(x=g())" (a default that is a call).
 */
#include <string.h>

#include "fuzz.h"
#include "torch/tscode.h"
#include "torch/tseval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256] = "";
    if (!tseval_check(data, size, why, sizeof why))
        FUZZ_CHECK(why[0] != '\0', "tseval_check said no without a message");
    else if (memmem(data, size, "\ndef f(x=g()):\n", 16) != NULL)
        FUZZ_CHECK(0, "tseval_check passed a default that is a call");
    ts_classes c = {0};
    c2s_error err;
    c2s_error_clear(&err);
    c2s_status st = tscode_parse("__torch__.m", "code/__torch__/m.py", data, size, &c, &err);
    if (st != C2S_OK) {
        FUZZ_CHECK(st == C2S_ERR_INPUT, "tscode_parse returned status %d", (int)st);
        FUZZ_CHECK(err.msg[0] != '\0', "tscode_parse failed with an empty message");
        FUZZ_CHECK(c.n == 0, "tscode_parse failed but kept %zu classes", c.n);
        tscode_free(&c);
        return 0;
    }
    int setstate = memmem(data, size, "__setstate__", 12) != NULL;
    for (size_t i = 0; i < c.n; i++) {
        const ts_class *k = &c.items[i];
        FUZZ_CHECK(strncmp(k->qualname, "__torch__.m.", 12) == 0, "class %s", k->qualname);
        FUZZ_CHECK(tscode_find(&c, k->qualname) == k, "class %s found twice", k->qualname);
        FUZZ_CHECK(!setstate || k->has_setstate, "%s: __setstate__ missed", k->qualname);
        for (size_t j = 0; j < k->nparams; j++)
            FUZZ_CHECK(tscode_has(k->params, k->nparams, k->params[j]), "param lost");
    }
    tscode_free(&c);
    return 0;
}
