"""``morph3d reconstruct``: 3D face meshes from photos."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from morph3d.cli.options import (
    CommandError,
    add_detector_option,
    add_pass_options,
    add_refine_options,
    add_weights_option,
    detector_options,
)
from morph3d.core.landmarks68 import NOSE_TIP

__all__ = ["add_parser", "parse_box", "run"]


def add_parser(commands: Any) -> None:
    """Register the command on the subparsers ``commands``."""
    parser = commands.add_parser("reconstruct", help="3D face meshes from photos")
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("-o", "--out", required=True, type=Path, help="output folder")
    parser.add_argument("--format", default="obj", choices=["obj", "ply", "glb"])
    parser.add_argument("--box", help="x0,y0,x1,y1: use this face box instead of detection")
    add_weights_option(parser, "network (.onnx, or .pt with torch)")
    add_detector_option(parser)
    parser.add_argument("--runtime", default="onnx", choices=["onnx", "torch"])
    add_refine_options(parser, reconstructor=True)
    add_pass_options(parser, flip=True, specialist=True)
    parser.add_argument(
        "--accurate", action="store_true",
        help="the accurate setting: --jitter and the two shipped large-pose specialists "
        "(morph3d.accurate_config; about twice the time; --jitter SHIFT and --specialist "
        "replace its own)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def parse_box(text: str) -> np.ndarray:
    """``"x0,y0,x1,y1"`` as a ``(1, 4)`` box array.

    Raises:
        CommandError: The text is not four numbers of a non-empty box.
    """
    try:
        boxes = np.array([[float(v) for v in text.split(",")]])
    except ValueError:
        boxes = np.zeros((0, 0))
    if boxes.shape != (1, 4) or not (boxes[0, 2] > boxes[0, 0] and boxes[0, 3] > boxes[0, 1]):
        raise CommandError(f"--box must be x0,y0,x1,y1, got {text!r}")
    return boxes


def output_names(images: Sequence[Path]) -> dict[Path, str]:
    """An output name per input image: its stem, with ``-2``, ``-3``, ... for later images of
    the same stem (``a/face.jpg`` and ``b/face.jpg`` must not overwrite each other)."""
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for path in images:
        if path in names:
            continue
        name, count = path.stem, 1
        while name in taken:
            count += 1
            name = f"{path.stem}-{count}"
        names[path] = name
        taken.add(name)
    return names


def run(args: argparse.Namespace) -> int:
    """Per face of every image: the mesh, a JSON of landmarks and pose, an overlay PNG."""
    from morph3d.cli.termination import progress
    from morph3d.core.pose import decompose_pose
    from morph3d.errors import ImageError
    from morph3d.evaluation.draw import draw_pose_axes, overlay_face
    from morph3d.files import atomic_path, write_json
    from morph3d.io.image import read_image, sample_colors, write_image
    from morph3d.io.obj import write_obj
    from morph3d.pipeline.reconstructor import Reconstructor, ReconstructorConfig, accurate_config

    boxes = parse_box(args.box) if args.box else None
    preset = accurate_config() if args.accurate else ReconstructorConfig()
    reconstructor = Reconstructor(
        ReconstructorConfig(
            weights=args.weights,
            detector=args.detector,
            detector_size=detector_options(args).get("input_size"),
            runtime=args.runtime,
            refine=args.refine,
            refine_yaw=args.refine_yaw,
            flip=args.flip,
            derotate=args.derotate,
            jitter=args.jitter or preset.jitter,
            specialist=args.specialist or preset.specialist,
            specialist_yaw=None if args.no_specialist else args.specialist_yaw,
            specialist_mirror=args.specialist_mirror and not args.no_specialist,
            # writing a face's files takes far longer than the compiled stage saves (about
            # 1 ms a face) and loading it costs the process 0.5-0.8 s: the numpy path
            compiled=False,
        )
    )
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    names = output_names(args.images)
    for path in progress(args.images, unit="image", disable=len(args.images) < 2):
        try:
            image = read_image(path)
        except ImageError as error:
            print(f"morph3d: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        faces = reconstructor.faces(image, boxes)
        if not faces:
            print(f"morph3d: {path}: no face found", file=sys.stderr)
            failed += 1
            continue
        for k, face in enumerate(faces):
            stem = f"{names[path]}_{k}"
            mesh_path = args.out / f"{stem}.{args.format}"
            if args.format == "obj":  # without trimesh, which takes longer to import than this
                colors = sample_colors(image, face.vertices)
                write_obj(mesh_path, face.vertices, reconstructor.triangles, colors)
            else:
                data = reconstructor.mesh(image, face).export(file_type=args.format)
                with atomic_path(mesh_path) as temporary:
                    temporary.write_bytes(data.encode() if isinstance(data, str) else data)
            write_json(args.out / f"{stem}.json", {"image": str(path), **face.to_dict()})
            picture = overlay_face(image, face.vertices, reconstructor.model.triangles,
                                   landmarks=face.landmarks)  # fmt: skip
            rotation = decompose_pose(face.params[:12]).rotation
            picture = draw_pose_axes(picture, rotation, face.landmarks[NOSE_TIP],
                                     0.4 * (face.box[2] - face.box[0]))  # fmt: skip
            write_image(args.out / f"{stem}.png", picture)
    print(f"reconstructed {len(args.images) - failed} of {len(args.images)} images into {args.out}")
    return 1 if failed else 0
