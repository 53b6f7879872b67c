"""``morph3d info``: describe the installed morphable model."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Register the command on the subparsers ``commands``."""
    parser = commands.add_parser("info", help="describe the installed morphable model")
    parser.add_argument("--model", help="model file (default: $MORPH3D_HOME or ~/.cache/morph3d)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the model's sizes and metadata as JSON."""
    from morph3d.core.model import load_model
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
