"""Train the eyelid or brow refiner (morph3d.inference.eyes) on 300W; evaluate, export.

    python scripts/train_eyes.py --root ../shared/data/300w --out work/eyes --export
    python scripts/train_eyes.py --root ../shared/data/300w --out work/brows --feature brows \
        --export
    # the int8 LiteRT copy of a trained run (needs tensorflow-cpu; session 25)
    python scripts/train_eyes.py --root ../shared/data/300w --out work/eyes --no-train --litert

The data, augmentation and loop are morph3d.training.eyes, the network
morph3d.inference.eye_network. The held-out faces (the same 10 % split as the main network) are
evaluated with eye frames placed by the shipped network's landmarks: eye-landmark error and
eye-aperture error (brows: brow-landmark error and brow height), against the 3DMM's own
landmarks; and again with the images shrunk to ``SMALL_SCALE`` (``small_*`` entries), where an
eye is about 6 pixels wide, as in the dlib faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from morph3d.core.crop import crop_box_from_landmarks
from morph3d.files import atomic_path, write_json
from morph3d.inference.eye_network import export_eye_network, load_eye_network
from morph3d.inference.eyes import BROWS_FEATURE, EYES_FEATURE, Feature
from morph3d.io.datasets import find_faces, split_indices
from morph3d.paths import ASSETS_MODELS
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.training.eyes import evaluate_brows, evaluate_eyes, eye_patches, train_eyes

FEATURES = {"eyes": EYES_FEATURE, "brows": BROWS_FEATURE}
#: 300W eyes are about 24 pixels wide at the median: a quarter of that is a small face's eye.
SMALL_SCALE = 0.25


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="300W folder")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4, help="crops per eye per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--feature", choices=list(FEATURES), default="eyes")
    parser.add_argument("--export", action="store_true", help=f"write {ASSETS_MODELS}/<feature>.*")
    parser.add_argument(
        "--no-train", action="store_true", help="export the run's eyes.pt and report as they are"
    )
    parser.add_argument(
        "--low-res-share",
        type=float,
        default=0.0,
        help="share of training crops seen at a lower resolution (see morph3d.training.eyes)",
    )
    parser.add_argument(
        "--evaluate-only", action="store_true", help="evaluate the run's <feature>.pt, no training"
    )
    parser.add_argument(
        "--litert", action="store_true",
        help=f"with --no-train, write {ASSETS_MODELS}/<feature>.tflite, int8, calibrated on the "
        "crops of 256 training faces (needs tensorflow-cpu)",
    )  # fmt: skip
    parser.add_argument(
        "--width",
        type=float,
        default=1.0,
        help="channels over the shipped network's (0.5: a quarter of the multiply-adds)",
    )
    args = parser.parse_args(argv)
    feature = FEATURES[args.feature]
    saved = args.out / f"{feature.name}.pt"
    needed = [saved, args.out / "report.json"] if args.no_train and not args.litert else [saved]
    missing = [str(path) for path in needed if not path.is_file()]
    if (args.no_train or args.evaluate_only) and missing:
        print(f"train_eyes: error: no {', '.join(missing)} (train it first)", file=sys.stderr)
        return 2
    if args.no_train and args.litert:
        from morph3d.inference.litert_export import export_refiner_litert
        from morph3d.training.eyes import refiner_inputs

        faces, _ = find_faces("300w", args.root)
        train_index, _ = split_indices([f.name for f in faces], 0.1)
        inputs = refiner_inputs([faces[k] for k in train_index[:256]], feature)
        out = ASSETS_MODELS / f"{feature.name}.tflite"
        print(export_refiner_litert(load_eye_network(saved), out, inputs))
        return 0
    if args.no_train:
        model = load_eye_network(saved)
        report = json.loads((args.out / "report.json").read_text())["report"]
        export(model, report, args.epochs, feature)
        return 0
    try:
        faces, _ = find_faces("300w", args.root)
    except FileNotFoundError as error:
        print(f"train_eyes: error: {error}", file=sys.stderr)
        return 2
    train_index, val_index = split_indices([f.name for f in faces], 0.1)
    if args.evaluate_only:
        model = load_eye_network(saved)
        history: list[dict[str, float]] = []
        minutes, trained = 0.0, 0
    else:
        train = eye_patches([faces[k] for k in train_index], tqdm, feature)
        model, history, minutes = train_eyes(
            train, args.epochs, args.repeats, args.seed, progress=tqdm,
            low_res_share=args.low_res_share, width=args.width,
        )  # fmt: skip
        trained = len(train[0])
    reconstructor = Reconstructor()

    def predict(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        _, predicted, _ = reconstructor.predict(rgb, crop_box_from_landmarks(landmarks)[None])
        return predicted[0][:, :2]

    evaluate = evaluate_brows if feature is BROWS_FEATURE else evaluate_eyes
    held_out = [faces[k] for k in val_index]
    report = evaluate(model, held_out, predict, tqdm)
    small = evaluate(model, held_out, predict, tqdm, scale=SMALL_SCALE)
    report.update({f"small_{key}": value for key, value in small.items()})
    report["train_minutes"] = minutes
    report[f"train_{feature.name}"] = float(trained)
    if args.evaluate_only:
        print(json.dumps(report, indent=1))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "report.json", {"report": report, "history": history})
    print(json.dumps(report, indent=1))
    with atomic_path(args.out / f"{feature.name}.pt") as temporary:
        torch.save(model.state_dict(), temporary)
    if args.export:
        export(model, report, args.epochs, feature)
    return 0


def export(model: nn.Module, report: dict[str, float], epochs: int, feature: Feature) -> None:
    """Write the state dict, the ONNX network and a model card to the assets."""
    name = feature.name
    with atomic_path(ASSETS_MODELS / f"{name}.pt") as temporary:
        torch.save(model.state_dict(), temporary)
    export_eye_network(model, ASSETS_MODELS / f"{name}.onnx")
    what = {
        "eyes": "eyelid refiner: six landmarks per eye from a 32x32 grey eye crop",
        "brows": "brow refiner: five landmarks per brow from a 32x32 grey crop above the eye",
    }[name]
    write_json(
        ASSETS_MODELS / f"{name}.json",
        {
            "what": f"{what} (morph3d.inference.eyes)",
            "trained_on": f"300W, {int(report[f'train_{name}'])} {name} of the training split",
            "command": "python scripts/train_eyes.py --root ../shared/data/300w "
            f"--out work/{name} --feature {name} --epochs {epochs} --export",
            "held_out": report,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
