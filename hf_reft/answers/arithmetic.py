"""A safe evaluator for arithmetic (program results, LaTeX expressions). Never eval."""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable

_MAX_EXPRESSION_LENGTH = 200
_CONSTANTS = {"pi": math.pi, "π": math.pi, "E": math.e}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "log10": math.log10,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "abs": abs,
    "Abs": abs,
    "Integer": float,
    "Float": float,
    "Rational": lambda numerator, denominator=1.0: numerator / denominator,
    "float": float,
    "int": float,
    "round": round,
}


def _safe_power(base: float, exponent: float) -> float:
    try:
        result = base**exponent
    except (OverflowError, ZeroDivisionError):
        return math.nan
    return result if isinstance(result, float) and math.isfinite(result) else math.nan


_BINARY_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _safe_power,
}


def _eval_node(node: ast.AST) -> float:
    """Evaluate numbers, + - * / // % **, unary signs, pi/E and whitelisted functions (keyword
    arguments such as sympy's ``precision=`` are ignored, never evaluated)."""
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return float(node.value)  # Float('0.5', precision=53), as sympy writes it
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _eval_node(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        return _BINARY_OPERATORS[type(node.op)](_eval_node(node.left), _eval_node(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return float(_FUNCTIONS[node.func.id](*(_eval_node(arg) for arg in node.args)))
    raise ValueError(f"not an arithmetic expression: {ast.dump(node)[:80]}")


def evaluate_arithmetic(expression: str) -> float | None:
    """The value of an arithmetic expression, or ``None`` when it is anything else (no ``eval``).

    Numbers, ``+ - * / // % **`` (``^`` and ``×`` read as Python's), signs, ``pi`` and a few math
    functions; powers are taken in floats, so ``9**9**9`` is no number rather than a hang.
    """
    expression = expression.strip().replace("×", "*").replace("·", "*").replace("^", "**")
    if not expression or len(expression) > _MAX_EXPRESSION_LENGTH or not re.search(r"\d|pi|π", expression):
        return None
    tree = _parse_expression(expression)
    if tree is None:
        return None
    try:
        value = _eval_node(tree)
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        return None
    return value if math.isfinite(value) else None


def _parse_expression(text: str) -> ast.Expression | None:
    """The syntax tree of a Python expression, or ``None`` (warnings about odd literals silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        try:
            return ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None
