"""``morph3d evaluate``: landmark NME on an annotated dataset."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from morph3d.cli.options import (
    CommandError,
    add_detector_option,
    add_model_option,
    add_pass_options,
    add_refine_options,
    add_weights_option,
    detector_options,
)
from morph3d.io.datasets import DatasetFormat

if TYPE_CHECKING:
    from morph3d.core.model import MorphableModel
    from morph3d.inference.predictor import Predictor

__all__ = ["DATASETS", "add_parser", "run"]

#: Command-line dataset names and their annotation formats.
DATASETS: dict[str, DatasetFormat] = {"aflw2000-3d": "mat", "300w": "300w", "dlib": "dlib"}


def add_parser(commands: Any) -> None:
    """Register the command on the subparsers ``commands``."""
    parser = commands.add_parser("evaluate", help="landmark NME on an annotated dataset")
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    parser.add_argument("--root", required=True, type=Path, help="dataset folder (or XML)")
    parser.add_argument(
        "--crop", default="gt", choices=["gt", "detector"],
        help="crop from the ground-truth landmarks, or from a face detector's box",
    )  # fmt: skip
    add_detector_option(parser)
    add_refine_options(parser, reconstructor=False)
    parser.add_argument(
        "--blendshapes", action="store_true",
        help="fit the eye blendshapes to the re-read eyelids, as reconstruct does",
    )  # fmt: skip
    add_pass_options(parser, flip=False, specialist=False)
    parser.add_argument("--json", required=True, type=Path, help="output report")
    add_weights_option(
        parser, "network weights: .pt (torch) or .onnx (ONNX Runtime); default: shipped x1.0"
    )
    add_model_option(parser)
    parser.add_argument("--plot", type=Path, help="CED curves PNG")
    parser.add_argument("--compare", type=Path, nargs="*", help="other reports on the plot")
    parser.add_argument("--label", help="this run's name on the plot")
    parser.add_argument("--split", default="all", choices=["all", "train", "val"])
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--device", default="cpu")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the JSON report (and plot), print the summary."""
    from functools import partial

    import numpy as np

    from morph3d.cli.termination import progress
    from morph3d.core.mirror import ParamMirror
    from morph3d.core.model import load_model
    from morph3d.evaluation.accuracy import Boxer, evaluate_faces
    from morph3d.files import write_json
    from morph3d.inference.specialist import with_specialist
    from morph3d.io.datasets import AnnotatedFace, find_faces, split_indices

    if not Path(args.root).exists():
        raise CommandError(f"no dataset at {args.root}")
    model = load_model(args.model)
    predictor = with_specialist(
        _predictor(args, args.weights, model),
        [_predictor(args, path, model) for path in args.specialist or []],
        ParamMirror(model) if args.flip else None,
        args.specialist_yaw,
        args.specialist_mirror,
    )
    faces, failures = find_faces(DATASETS[args.dataset], args.root)
    if args.split != "all":
        train, val = split_indices([face.name for face in faces], args.val_fraction)
        faces = [faces[i] for i in (val if args.split == "val" else train)]
    if not faces:
        raise CommandError(
            f"no annotated {args.dataset} faces under {args.root}"
            + (f" in the {args.split} split" if args.split != "all" else "")
        )
    boxer: Boxer | None = None
    if args.crop == "detector":
        from morph3d.core.boxes import box_iou
        from morph3d.detection import create_detector

        detector = create_detector(args.detector, **detector_options(args))

        def detected_box(face: AnnotatedFace, image: np.ndarray) -> np.ndarray | None:
            # The detection that overlaps the annotated face most (a photo may hold several).
            detections = detector.detect(image)
            if not detections:
                return None
            truth = np.r_[face.landmarks.min(axis=0), face.landmarks.max(axis=0)]
            overlaps = box_iou(truth, np.stack([d.box for d in detections]))
            best = int(np.argmax(overlaps))
            if overlaps[best] < 0.2:
                return None
            return detector.crop_box(detections[best].box)

        boxer = detected_box

    eyes = brows = None
    if args.blendshapes:
        from morph3d.inference.eyes import BROWS_FEATURE, EyeRefiner

        if "eyeBlinkLeft" not in model.blendshape_names:
            raise CommandError("the model file has no eye blendshapes: run bash setup.sh again")
        eyes, brows = EyeRefiner(), EyeRefiner(feature=BROWS_FEATURE)
    result = evaluate_faces(
        faces, predictor, model, boxer=boxer, refine=args.refine, refine_yaw=args.refine_yaw,
        progress=partial(progress, leave=False), eyes=eyes, brows=brows, derotate=args.derotate,
        jitter=args.jitter,
    )  # fmt: skip
    result.failures = failures + result.failures
    report = result.summary(with_yaw_bins=args.dataset == "aflw2000-3d")
    report.update({"dataset": args.dataset, "root": str(args.root), "crop": args.crop})
    report.update({"refine": args.refine, "detector": None if boxer is None else args.detector})
    report["refine_yaw"] = args.refine_yaw
    report["blendshapes"] = args.blendshapes
    report["flip"] = args.flip
    report["derotate"] = args.derotate
    report["jitter"] = args.jitter
    named = [str(path) for path in args.specialist or []]
    report["specialist"] = named if len(named) > 1 else named[0] if named else None
    report["specialist_yaw"] = None if args.specialist is None else args.specialist_yaw
    report["specialist_mirror"] = (
        args.specialist is not None and args.flip and args.specialist_mirror
    )
    report["split"] = args.split
    write_json(args.json, report)
    print(f"{args.dataset}: {report['count']} faces, {len(result.failures)} failed")
    print(f"  NME (bbox)        mean {report['nme_mean']:.3f}  median {report['nme_median']:.3f}")
    print(f"  NME (inter-ocular) mean {report['nme_interocular_mean']:.3f}")
    print(f"  eye aperture vs annotation r {report['eye_aperture_corr']:.3f}")
    print(f"  brow height vs annotation r {report['brow_height_corr']:.3f}")
    if "yaw_bins" in report:
        for label, item in report["yaw_bins"].items():
            value = "-" if item["nme"] is None else f"{item['nme']:.3f}"
            print(f"  |yaw| {label:<10} {item['count']:>5} faces  NME {value}")
        print(f"  balanced {report['nme_balanced']:.3f}")
    if args.plot:
        _plot(args, result, "yaw_bins" in report)
    return 0


def _predictor(args: argparse.Namespace, weights: Path | None, model: MorphableModel) -> Predictor:
    """The network of a weights file (``.onnx``: ONNX Runtime, ``.tflite``: LiteRT, as
    reconstruct runs them; else torch, default the shipped ``.pt``)."""
    from morph3d.inference.litert import LITERT_SUFFIX

    predictor: Predictor
    if weights is not None and Path(weights).suffix in (".onnx", LITERT_SUFFIX):
        from morph3d.inference.onnx_predictor import OnnxPredictor

        predictor = OnnxPredictor(weights)  # a LiteRT file through LiteRTSession
    else:
        from morph3d.inference.torch_predictor import TorchPredictor

        predictor = TorchPredictor(weights, model, device=args.device)
    return predictor


def _plot(args: argparse.Namespace, result: Any, by_yaw: bool) -> None:
    """CED curves of this run and the ``--compare`` reports (one panel per |yaw| bin)."""
    from morph3d.evaluation.plots import plot_ced, plot_ced_by_yaw

    runs: dict[str, tuple[list[float], list[float]]] = {
        args.label or args.json.stem: (list(result.nme), list(result.yaw))
    }
    for other in args.compare or []:
        try:
            faces = list(json.loads(other.read_text())["per_image"].values())
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"--compare {other}: not a report of evaluate ({error})") from error
        if by_yaw and not all("yaw" in face for face in faces):
            raise CommandError(f"--compare {other}: no per-face yaw in it; evaluate it again")
        runs[other.stem] = ([f["nme"] for f in faces], [f.get("yaw", math.nan) for f in faces])
    title = f"{args.dataset}, NME (bbox)"
    if by_yaw:
        plot_ced_by_yaw(runs, args.plot, title=title)
    else:
        plot_ced({label: errors for label, (errors, _) in runs.items()}, args.plot, title=title)
    print(f"  wrote {args.plot}")
