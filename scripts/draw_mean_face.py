"""Draw the mean face of the morphable model with its 68 landmarks: docs/mean_face.png.

Two views side by side: the mean shape and expression under the mean pose made rigid, and the
same face turned by 40 degrees of yaw. With --expressions, a second picture: the mean face with
each of the first expression components at -2 and +2 standard deviations (the mesh should move
with its landmarks). (The statistics' mean pose matrix itself is not a scaled
rotation: its rows have different lengths, because the 300W-LP crops it was measured on were
stretched to squares. decompose_pose keeps the rotation and one scale.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from morph3d.core.crop import crop_to_image
from morph3d.core.model import load_model
from morph3d.core.pose import angles_to_rotation, compose_pose, decompose_pose
from morph3d.evaluation.draw import draw_landmarks, shade_mesh
from morph3d.io.image import write_image

SIDE = 480  # output pixels per view
SUPERSAMPLE = 2


def render_view(model, params: np.ndarray) -> np.ndarray:
    """Render one view at ``SIDE`` pixels: shaded mesh plus landmarks on white."""
    size = SIDE * SUPERSAMPLE
    vertices = crop_to_image(model.decode(params), np.array([0.0, 0.0, size, size]))
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    canvas = shade_mesh(canvas, vertices, model.triangles, color=(230, 205, 190), alpha=1.0)
    canvas = cv2.resize(canvas, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    landmarks = vertices[model.landmark_indices] / SUPERSAMPLE
    return draw_landmarks(canvas, landmarks, color=(220, 40, 40), radius=3.0)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "docs" / "mean_face.png"
    parser.add_argument("--out", type=Path, default=default)
    parser.add_argument("--model", type=Path, help="model file (default: the cache)")
    parser.add_argument("--expressions", type=Path, help="also draw expressions into this PNG")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    frontal = model.layout.mean.copy()
    pose = decompose_pose(frontal[:12])
    frontal[:12] = pose.matrix.reshape(-1)
    turned = frontal.copy()
    rotation = angles_to_rotation(np.array([40.0, 0.0, 0.0])) @ pose.rotation
    turned[:12] = compose_pose(pose.scale, rotation, pose.translation).reshape(-1)
    views = [render_view(model, frontal), render_view(model, turned)]
    picture = np.concatenate(views, axis=1)
    for k, label in enumerate(["mean face", "yaw +40 deg"]):
        cv2.putText(
            picture,
            label,
            (12 + k * SIDE, SIDE - 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7,
            (60, 60, 60),
            2,
            cv2.LINE_AA,
        )
    write_image(args.out, picture)
    print(f"wrote {args.out}")
    if args.expressions:
        rows = []
        for sign in (-2, 2):
            views = []
            for component in range(4):
                params = frontal.copy()
                params[52 + component] += sign * model.layout.std[52 + component]
                view = cv2.resize(render_view(model, params), (SIDE // 2, SIDE // 2))
                label = f"expression {component} {sign:+d} sd"
                cv2.putText(view, label, (8, SIDE // 2 - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                            (60, 60, 60), 1, cv2.LINE_AA)  # fmt: skip
                views.append(view)
            rows.append(np.concatenate(views, axis=1))
        write_image(args.expressions, np.concatenate(rows, axis=0))
        print(f"wrote {args.expressions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
