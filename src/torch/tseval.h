/*
 * tseval.h - the expressions torch.jit.load evaluates while it compiles a
 * TorchScript archive's code/ records, which must all be literals.
 *
 * torch.jit.load compiles every class and function it resolves (those the
 * pickles name, and those named in the signatures and annotations of code
 * it compiles), and compiling evaluates two kinds of expression at once,
 * before any method runs: the default value of every parameter of every
 * def (methods, functions, Interface methods: to_ir's evaluateDefaults runs
 * it in the interpreter) and the value of every class-level assignment
 * (Final constants, Enum members).  torch.jit.save prints those as
 * literals.  Anything else is TorchScript run at load time: under PyTorch
 * 1.13, a default of `(torch.save(1, "c2s-marker"), 1)[1]` wrote a file while
 * torch.load only loaded the archive (tests/diff/torch_diff_cases.py).
 *
 * tseval_check() walks a record's lines: each def header (from "def " to the
 * line that ends it with ':' outside brackets, however many lines it takes)
 * is split into parameters at top-level commas, and a parameter's text after
 * a top-level '=' must be a literal; at a class's indent of two spaces, a
 * statement with a top-level '=' must assign a literal, except for the
 * __parameters__ and __buffers__ lists and __annotations__["name"] = TYPE
 * (a type, which the compiler resolves and does not run); at column 0 only
 * "class", "def", "import", "from" and "op_version_set = INT" may stand.
 *
 * A literal: None, True, False; an int or float (a sign, digits, a point,
 * an exponent), float("inf"), float("-inf"), float("nan"); a string in
 * single or double quotes; torch.device(STRING); a tuple or list of
 * literals.  The text is never evaluated.
 */
#ifndef TSEVAL_H
#define TSEVAL_H

#include <stddef.h>
#include <stdint.h>

/* 1 when every expression torch.jit.load evaluates in the record's text is
 * a literal.  Otherwise 0, and why (one line, "line N: ...") in msg. */
int tseval_check(const uint8_t *text, size_t len, char *msg, size_t cap);

/* 1 when s[0..n) is a literal as above (surrounding spaces allowed). */
int tseval_is_literal(const char *s, size_t n);

#endif /* TSEVAL_H */
