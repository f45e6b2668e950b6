/*
 * test_tseval.c - what torch.jit.load evaluates while compiling a
 * TorchScript archive's code/ must be literals (src/torch/tseval.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "torch/tseval.h"

static int literal(const char *s)
{
    return tseval_is_literal(s, strlen(s));
}

Test(tseval, literals_as_torch_jit_save_prints_them)
{
    static const char *const OK[] = {
        "3",
        " -1 ",
        "1.0000000000000001e-05",
        "0.10000000000000001",
        "2.",
        ".5",
        "1E+3",
        "None",
        "True",
        "False",
        "\"zeros\"",
        "'a\\'b'",
        "(0, 0)",
        "[1, 2, ]",
        "()",
        "[]",
        "(\"a\", [1, (2,)], None)",
        "float(\"inf\")",
        "float(\"-inf\")",
        "float(\"nan\")",
        "torch.device(\"cpu\")",
    };
    for (size_t i = 0; i < sizeof OK / sizeof *OK; i++)
        cr_expect(literal(OK[i]), "%s", OK[i]);
}

Test(tseval, anything_else_is_not_a_literal)
{
    static const char *const NO[] = {
        "(torch.save(1, \"c2s-marker\"), 1)[1]",
        "torch.save(1, \"x\")",
        "x",
        "1 + 2",
        "(1 + 2)",
        "[1][0]",
        "\"a\" \"b\"",
        "float(\"x\")",
        "None.x",
        "Truex",
        "1e",
        "-",
        "\"open",
        "(1, 2",
        "torch.device(x)",
        "",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof NO / sizeof *NO; i++)
        cr_expect(!literal(NO[i]), "%s", NO[i]);
}

static int check(const char *text, char *msg)
{
    return tseval_check((const uint8_t *)text, strlen(text), msg, 256);
}

/* A record as torch.jit.save writes it: defaults, Final constants,
 * __annotations__, a module-level function whose body sits at two spaces. */
Test(tseval, a_record_torch_writes_passes)
{
    char msg[256] = "";
    cr_assert(check("class Conv2d(Module):\n"
                    "  __parameters__ = [\"weight\", \"bias\", ]\n"
                    "  __buffers__ = []\n"
                    "  weight : Tensor\n"
                    "  padding : Final[Tuple[int, int]] = (0, 0)\n"
                    "  padding_mode : Final[str] = \"zeros\"\n"
                    "  __annotations__[\"0\"] = __torch__.torch.nn.modules.conv.Conv2d\n"
                    "  def forward(self: __torch__.Conv2d,\n"
                    "    input: Tensor,\n"
                    "    eps: float=1.0000000000000001e-05,\n"
                    "    dims: List[int]=[1, 2],\n"
                    "    bias: Optional[Tensor]=None) -> Tensor:\n"
                    "    _0 = torch.save(input, \"x\")\n"
                    "    return input\n"
                    "def helper(x: int=3) -> int:\n"
                    "  _0 = torch.add(x, 1)\n"
                    "  return _0\n",
                    msg),
              "%s", msg);
}

Test(tseval, evaluated_non_literals_are_named_by_line)
{
    char msg[256];
    cr_assert_not(check("class M(Module):\n"
                        "  def forward(self: __torch__.M,\n"
                        "    x: int=(torch.save(1, \"c2s-marker\"), 1)[1]) -> int:\n"
                        "    return x\n",
                        msg));
    cr_expect_str_eq(msg, "line 2: the default of parameter 'x' is not a literal, and "
                          "torch.jit.load evaluates it while compiling");
    cr_assert_not(check("class M(Module):\n"
                        "  k : Final[int] = (torch.save(1, \"m\"), 1)[1]\n",
                        msg));
    cr_expect_str_eq(msg, "line 2: a class-level value is not a literal, and torch.jit.load "
                          "evaluates it while compiling");
    cr_assert_not(check("class E(Enum):\n  A = ops.x()\n", msg));
    cr_expect_str_eq(msg, "line 2: a class-level value is not a literal, and torch.jit.load "
                          "evaluates it while compiling");
    cr_assert_not(check("x = torch.save(1, \"m\")\n", msg));
    cr_expect_str_eq(msg, "line 1: a module-level statement torch.jit.save does not write");
    cr_assert_not(check("def f(x: int=3,\n", msg));
    cr_expect_str_eq(msg, "line 1: a def header does not end");
    /* a header left open does not swallow the next def (found by fuzz_tscode) */
    cr_assert_not(check("def a(x: Tensor,\n  y\ndef f(x=g()):\n  pass\n", msg));
    cr_expect_str_eq(msg, "line 1: a def header does not end");
    cr_assert(check("op_version_set = 1\nimport __torch__.a\nfrom typing import List\n", msg), "%s",
              msg);
}
