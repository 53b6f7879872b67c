"""Lazy re-exports for package ``__init__`` modules (PEP 562), so importing a package loads
none of its heavy modules until a name is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``names`` (name -> module, relative to ``package``).

    Args:
        package: The package's ``__name__``.
        names: Each exported name and the submodule (``"session"``, or absolute
            ``"morph3d.x.y"``) that defines it.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = names[name]
        if not module.startswith("morph3d."):
            module = f"{package}.{module}"
        return getattr(importlib.import_module(module), name)

    return __getattr__
