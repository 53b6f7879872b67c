"""Lazy re-exports for package ``__init__`` modules (PEP 562), so importing a package loads
none of its heavy modules until a name is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from morph3d.errors import naming_extras

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``names`` (name -> module, relative to ``package``).

    A name whose module needs a package of an extra that is not installed raises
    :class:`~morph3d.errors.MissingExtraError` naming the extra.

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
        with naming_extras():  # a module of an extra that is not installed names the extra
            return getattr(importlib.import_module(module), name)

    return __getattr__
