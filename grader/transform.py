"""Rewrite a test cell's checks so that the kernel reports values and the grader decides.

``record`` mode (student submissions): ``check_close(name, actual, expected, ...)``
becomes ``__aie_record__("close", name, actual)``. The expected value is never
evaluated in the student's kernel, so code there cannot copy it into the answer.

``golden`` mode (the trusted solution): the real check runs, and the expected
value and the check's settings are sent to the grader, which keeps them.
"""

from __future__ import annotations

import ast

CHECKS = {"check_close": "close", "check_equal": "equal", "check_shape": "shape", "check_raises": "raises"}
PRELUDE = {
    "record": "from aie.recording import record as __aie_record__, record_raises as __aie_record_raises__",
    "golden": "from aie.recording import golden as __aie_golden__, golden_raises as __aie_golden_raises__",
}


class UnsupportedCheck(ValueError):
    """A check call the grader cannot rewrite (its name and actual value must be positional)."""


class _Rewriter(ast.NodeTransformer):
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.count = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Name) and node.func.id in CHECKS):
            return node
        kind = CHECKS[node.func.id]
        minimum = 3
        if len(node.args) < minimum or any(isinstance(a, ast.Starred) for a in node.args[:minimum]):
            raise UnsupportedCheck(f"line {node.lineno}: {node.func.id} needs its first three arguments positional")
        self.count += 1
        name = node.args[0]
        if kind == "raises":
            _, exception, function, *call_args = node.args
            if self.mode == "record":
                keywords = [k for k in node.keywords if k.arg != "hint"]
                return ast.Call(ast.Name("__aie_record_raises__", ast.Load()), [name, function, *call_args], keywords)
            return ast.Call(ast.Name("__aie_golden_raises__", ast.Load()),
                            [name, exception, function, *call_args], node.keywords)
        actual, expected = node.args[1], node.args[2]
        if self.mode == "record":
            return ast.Call(ast.Name("__aie_record__", ast.Load()), [ast.Constant(kind), name, actual], [])
        return ast.Call(ast.Name("__aie_golden__", ast.Load()),
                        [ast.Constant(kind), name, actual, expected, *node.args[3:]], node.keywords)


def rewrite_checks(source: str, mode: str) -> tuple[str, int]:
    """Return the rewritten source and the number of checks it holds."""
    if mode not in PRELUDE:
        raise ValueError(f"mode must be one of {sorted(PRELUDE)}")
    tree = ast.parse(source)
    rewriter = _Rewriter(mode)
    tree = ast.fix_missing_locations(rewriter.visit(tree))
    return ast.unparse(tree), rewriter.count
