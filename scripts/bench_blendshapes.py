"""Blendshape coefficients against annotated geometry (morph3d.evaluation.expressions).

    python scripts/bench_blendshapes.py --json work/bench/blendshapes.json

On the 300W validation split (the same 10 % as training holds out) and the dlib faces of
../shared/data, GT crop, the default network with its eye and brow refiners. The dlib faces are
small (landmark boxes of 29-104 px, median 37: eyes 6-9 px wide) and their landmarks are dlib's
own model's, stored in whole pixels; to tell what such a face costs the method from what it
costs the reference, the 300W validation faces are also shrunk to the dlib faces' sizes
(morph3d.evaluation.shrink) and scored against their full-size annotation carried exactly, and
rounded to whole pixels.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from morph3d.core.metrics import eye_aperture, landmark_box_size
from morph3d.evaluation.expressions import blendshape_agreement
from morph3d.evaluation.shrink import shrink_faces
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
    held = [faces[k] for k in val]
    dlib = find_faces("dlib", SHARED_DATA / "dlib_faces")[0]
    sizes = [landmark_box_size(face.landmarks) for face in dlib]
    reconstructor = Reconstructor(weights=args.weights)
    with tempfile.TemporaryDirectory(prefix="morph3d-shrunk-") as folder:
        sets = {
            "300w_val": held,
            "300w_val_dlib_size": shrink_faces(held, sizes, Path(folder) / "exact"),
            "300w_val_dlib_size_rounded": shrink_faces(
                held, sizes, Path(folder) / "rounded", rounded=True
            ),
            "dlib": dlib,
        }
        report = {
            name: blendshape_agreement(reconstructor, group, partial(tqdm, desc=name, leave=False))
            for name, group in sets.items()
        }
    # How far the rounded reference itself still agrees with the exact one (a ceiling)
    exact, rounded = (
        eye_aperture(np.array([face.landmarks for face in sets[name]])).reshape(-1)
        for name in ("300w_val_dlib_size", "300w_val_dlib_size_rounded")
    )
    ceiling = float(np.corrcoef(exact, rounded)[0, 1])
    report["300w_val_dlib_size_rounded"]["reference_vs_exact_eye_aperture_r"] = ceiling
    keys = [key for key in report["300w_val"] if key != "faces"]
    print(f"{'faces':26s} {'n':>4s} " + " ".join(f"{key[:-2]:>16.16s}" for key in keys))
    for name, row in report.items():
        print(f"{name:26s} {row['faces']:4.0f} " + " ".join(f"{row[key]:16.3f}" for key in keys))
    print(f"rounding alone: the rounded annotation's eye aperture vs the exact one r {ceiling:.3f}")
    write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
