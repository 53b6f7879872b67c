"""Rewrite ONNX regressors' channel shuffles as gathers (the same outputs, checked; faster in
ONNX Runtime): ``python scripts/gather_shuffles.py MODEL.onnx ... --out-dir DIR``.

``morph3d export`` writes new files this way already; this converts files exported before.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from morph3d.inference.shuffle import gather_shuffles_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="ONNX regressors (read only)")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the copies go")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.models if not path.is_file()]
    if missing:
        print(f"gather_shuffles: error: no file {', '.join(missing)}", file=sys.stderr)
        return 2
    for path in args.models:
        out = args.out_dir / path.name
        if out.resolve() == path.resolve():
            print(f"gather_shuffles: error: {out} would overwrite its source", file=sys.stderr)
            return 2
        try:
            count = gather_shuffles_file(path, out)
        except ValueError as error:
            print(f"gather_shuffles: error: {error}", file=sys.stderr)
            return 1
        print(f"{path} -> {out}: {count} shuffles as gathers, outputs identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
