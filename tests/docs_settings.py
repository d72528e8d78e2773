"""What `bot/runtime/config.py` reads, taken from its source: each setting's name, default and range.

`docs/configuration.md` is checked against this (tests/test_docs.py), so a setting added, removed or
changed in the code without its line in the docs fails the suite.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from bot.runtime import config

CONFIG = Path(config.__file__)


@dataclass(frozen=True)
class Setting:
    name: str
    required: bool
    default: str  # "" when none
    range: str  # "low–high" for numbers, "`a` or `b`" for choices, "" otherwise


def _constant(node: ast.expr) -> str | None:
    """A literal string, or a module-level name of config.py bound to one (DEFAULT_PERF_API_URL)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and isinstance(getattr(config, node.id, None), str):
        value: str = getattr(config, node.id)
        return value
    return None


def _number(node: ast.expr) -> float | None:
    """A number written in the call, arithmetic included (`24 * 60`)."""
    if not all(
        isinstance(n, ast.Constant | ast.BinOp | ast.UnaryOp | ast.operator | ast.unaryop) for n in ast.walk(node)
    ):
        return None
    value = eval(compile(ast.Expression(node), str(CONFIG), "eval"), {"__builtins__": {}})
    return float(value) if isinstance(value, int | float) else None


# config.py's checks that refuse an empty value ("X is not set: …").
_REFUSE_EMPTY = frozenset({"_secret", "_perf_api_key"})


def number_range(low: float, high: float) -> str:
    return f"{low:.10g}–{high:.10g}"


def settings_in_code() -> dict[str, Setting]:
    tree = ast.parse(CONFIG.read_text())
    ranges: dict[str, str] = {}
    found: dict[str, Setting] = {}
    required: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or not node.args:
            continue
        if node.func.id in _REFUSE_EMPTY:
            # `_secret("X", get("X"), …)`: read straight into a check that refuses it empty, so required.
            for arg in node.args:
                if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "get" and arg.args:
                    read = _constant(arg.args[0])
                    if read is not None:
                        required.add(read)
        name = _constant(node.args[0])
        if name is None or not name.isupper():
            continue
        if node.func.id == "_number" and len(node.args) == 5:
            low, high = _number(node.args[3]), _number(node.args[4])
            if low is not None and high is not None:
                ranges[name] = number_range(low, high)
        elif node.func.id == "_dollars":
            ranges[name] = number_range(0, 1_000_000)
        elif node.func.id == "_choice" and isinstance(node.args[2], ast.Tuple):
            ranges[name] = " or ".join(f"`{_constant(e)}`" for e in node.args[2].elts)
        elif node.func.id == "number" and len(node.args) == 5:
            # load_settings' own `number(name, default, kind, low, high)`: read, checked, problems collected.
            low, high = _number(node.args[3]), _number(node.args[4])
            if low is not None and high is not None:
                ranges[name] = number_range(low, high)
            found[name] = Setting(name, False, _constant(node.args[1]) or "", "")
        elif node.func.id in ("get", "required"):
            default = _constant(node.args[1]) if node.func.id == "get" and len(node.args) > 1 else ""
            found[name] = Setting(name, node.func.id == "required", default or "", "")
    return {
        name: Setting(s.name, s.required or name in required, s.default, ranges.get(name, ""))
        for name, s in found.items()
    }
