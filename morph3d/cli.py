"""The ``morph3d`` command line (layer 4)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from morph3d import __version__
from morph3d.errors import Morph3DError

__all__ = ["main"]


def _info(args: argparse.Namespace) -> int:
    from morph3d.model import load_model
    from morph3d.paths import model_path

    path = model_path(args.model)
    model = load_model(path)
    summary = {
        "path": str(path),
        "vertices": model.n_vertices,
        "triangles": len(model.triangles),
        "shape_coefficients": model.layout.n_shape,
        "expression_coefficients": model.layout.n_expression,
        "grid": list(model.grid.shape),
        "metadata": model.metadata,
    }
    print(json.dumps(summary, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``morph3d`` command."""
    parser = argparse.ArgumentParser(prog="morph3d", description=__doc__)
    parser.add_argument("--version", action="version", version=f"morph3d {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe the installed morphable model")
    info.add_argument("--model", help="model file (default: $MORPH3D_HOME or ~/.cache/morph3d)")
    info.set_defaults(run=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Morph3DError as error:
        print(f"morph3d: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
