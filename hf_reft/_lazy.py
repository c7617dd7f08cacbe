"""Lazy package exports (PEP 562): a package lists its public names as ordinary imports under
``if TYPE_CHECKING:`` and each name is imported from its module on first use.

Type checkers and editors read the imports; at run time :func:`lazy_exports` reads the same block
from the package's source, so the list exists once. ``import hf_reft`` and ``hf-reft --version`` then
cost milliseconds, and ``import hf_reft.answers`` loads no torch::

    from typing import TYPE_CHECKING

    from .._lazy import lazy_exports

    if TYPE_CHECKING:
        from .configuration import ReftConfig

    __getattr__, __dir__ = lazy_exports(__name__, __file__)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["lazy_exports"]


def _type_checking_imports(source: str, filename: str) -> dict[str, tuple[str, str]]:
    """``{exported name: (module, attribute)}`` from the ``if TYPE_CHECKING:`` blocks of ``source``."""
    where: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source, filename).body:
        if not (
            isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        ):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom):
                module = "." * statement.level + (statement.module or "")
                for alias in statement.names:
                    where[alias.asname or alias.name] = (module, alias.name)
            elif isinstance(statement, ast.Import):
                for alias in statement.names:
                    where[alias.asname or alias.name.partition(".")[0]] = (alias.name, "")
    return where


def lazy_exports(package: str, init_file: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose ``__init__`` is ``init_file``.

    A name of the ``TYPE_CHECKING`` imports is imported on first access and then cached in the
    package; so is a submodule reached as an attribute (``hf_reft.reftool``). Anything else raises
    the usual ``AttributeError``.
    """
    where = _type_checking_imports(Path(init_file).read_text(encoding="utf-8"), init_file)

    def __getattr__(name: str) -> Any:
        module = sys.modules[package]
        if name in where:
            source, attribute = where[name]
            imported = importlib.import_module(source, package)
            value = getattr(imported, attribute) if attribute else imported
        elif not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(module, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
