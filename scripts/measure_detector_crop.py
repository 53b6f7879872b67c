"""Measure how a face detector's boxes relate to the landmark crop boxes the network expects.

    python scripts/measure_detector_crop.py --json work/detector_crop.json

For every annotated face (300W, dlib) the detection that overlaps its landmark box most is
paired with its ground-truth crop box (morph3d.core.crop.crop_box_from_landmarks). With the
detection's centre (cx, cy), width w and height h, the crop box is modelled as

    centre = (cx + dx * w, cy + dy * h),   side = k * sqrt(w * h)

and dx, dy, k are the medians over the faces. Prints them per backend (Ultra-Light at each input
size of its calibration table) with their spread; the values go into each detector's
``calibration`` (morph3d/detection/ultralight.py's CALIBRATIONS, yunet.py).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from morph3d.core.boxes import box_iou
from morph3d.core.crop import crop_box_from_landmarks
from morph3d.detection import UltraLightDetector, YuNetDetector
from morph3d.detection.ultralight import CALIBRATIONS
from morph3d.files import write_json
from morph3d.io.datasets import find_faces
from morph3d.io.image import read_image
from morph3d.paths import SHARED_DATA


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    faces = (
        find_faces("300w", SHARED_DATA / "300w")[0]
        + find_faces("dlib", SHARED_DATA / "dlib_faces")[0]
    )
    report = {}
    detectors = {
        **{f"ultralight {w}x{h}": partial(UltraLightDetector, input_size=(w, h))
           for w, h in CALIBRATIONS},
        "yunet": YuNetDetector,
    }  # fmt: skip
    for backend, make in detectors.items():
        detector = make()
        rows, missed = [], 0
        for face in tqdm(faces, desc=backend, leave=False):
            detections = detector.detect(read_image(face.image_path))
            landmark_box = np.r_[face.landmarks.min(0), face.landmarks.max(0)]
            overlaps = box_iou(landmark_box, np.array([d.box for d in detections]))
            if not detections or overlaps.max() < 0.2:
                missed += 1
                continue
            best = detections[int(np.argmax(overlaps))]
            crop = crop_box_from_landmarks(face.landmarks)
            x0, y0, x1, y1 = best.box
            w, h = x1 - x0, y1 - y0
            rows.append(
                [
                    ((crop[0] + crop[2]) / 2 - (x0 + x1) / 2) / w,
                    ((crop[1] + crop[3]) / 2 - (y0 + y1) / 2) / h,
                    (crop[2] - crop[0]) / np.sqrt(w * h),
                ]
            )
        values = np.asarray(rows)
        median = np.median(values, axis=0)
        spread = np.median(np.abs(values - median), axis=0)
        report[backend] = {
            "faces": len(faces),
            "matched": len(rows),
            "missed": missed,
            "dx": float(median[0]),
            "dy": float(median[1]),
            "k": float(median[2]),
            "mad": spread.tolist(),
        }
        print(
            f"{backend}: {len(rows)}/{len(faces)} matched; dx {median[0]:+.4f} dy {median[1]:+.4f}"
            f" k {median[2]:.4f} (median absolute deviations {np.round(spread, 4).tolist()})"
        )
    if args.json:
        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
