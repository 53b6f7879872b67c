"""Blendshape coefficients against annotated geometry (morph3d.evaluation.expressions).

    python scripts/bench_blendshapes.py --json work/bench/blendshapes.json

On the 300W validation split (the same 10 % as training holds out) and the dlib faces of
../shared/data, GT crop, the default network with its eye and brow refiners.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from tqdm import tqdm

from morph3d.evaluation.expressions import blendshape_agreement
from morph3d.files import write_json
from morph3d.io.datasets import find_faces, split_indices
from morph3d.paths import SHARED_DATA
from morph3d.pipeline.reconstructor import Reconstructor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, required=True, help="write the figures here")
    parser.add_argument("--weights", type=Path, help="regressor (default: the shipped one)")
    args = parser.parse_args(argv)
    faces, _ = find_faces("300w", SHARED_DATA / "300w")
    _, val = split_indices([face.name for face in faces], 0.1)
    sets = {"300w_val": [faces[k] for k in val],
            "dlib": find_faces("dlib", SHARED_DATA / "dlib_faces")[0]}  # fmt: skip
    reconstructor = Reconstructor(weights=args.weights)
    report = {
        name: blendshape_agreement(reconstructor, group, partial(tqdm, desc=name, leave=False))
        for name, group in sets.items()
    }
    keys = [key for key in report["300w_val"] if key != "faces"]
    print(f"{'faces':10s} {'n':>4s} " + " ".join(f"{key[:-2]:>24s}" for key in keys))
    for name, row in report.items():
        print(f"{name:10s} {row['faces']:4.0f} " + " ".join(f"{row[key]:24.3f}" for key in keys))
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
