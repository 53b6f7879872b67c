"""Train the eyelid refiner (morph3d.inference.eyes) on the annotated 300W eyes; evaluate, export.

    python scripts/train_eyes.py --root ../shared/data/300w --out work/eyes --export

The data, augmentation and loop are morph3d.training.eyes, the network
morph3d.inference.eye_network. The held-out faces (the same 10 % split as the main network) are
evaluated with eye frames placed by the shipped network's landmarks: eye-landmark error and
eye-aperture error, against the 3DMM's own eye landmarks.
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
from morph3d.io.datasets import find_faces, split_indices
from morph3d.paths import ASSETS_MODELS
from morph3d.pipeline.reconstructor import Reconstructor
from morph3d.training.eyes import evaluate_eyes, eye_patches, train_eyes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="300W folder")
    parser.add_argument("--out", type=Path, required=True, help="run folder")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4, help="crops per eye per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export", action="store_true", help=f"write {ASSETS_MODELS}/eyes.*")
    parser.add_argument(
        "--no-train", action="store_true", help="export the run's eyes.pt and report as they are"
    )
    args = parser.parse_args(argv)
    if args.no_train:
        model = load_eye_network(args.out / "eyes.pt")
        export(model, json.loads((args.out / "report.json").read_text())["report"], args.epochs)
        return 0
    faces, _ = find_faces("300w", args.root)
    train_index, val_index = split_indices([f.name for f in faces], 0.1)
    train = eye_patches([faces[k] for k in train_index], tqdm)
    model, history, minutes = train_eyes(train, args.epochs, args.repeats, args.seed, progress=tqdm)
    reconstructor = Reconstructor()

    def predict(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        _, predicted, _ = reconstructor.predict(rgb, crop_box_from_landmarks(landmarks)[None])
        return predicted[0][:, :2]

    report = evaluate_eyes(model, [faces[k] for k in val_index], predict, tqdm)
    report["train_minutes"] = minutes
    report["train_eyes"] = float(len(train[0]))
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "report.json", {"report": report, "history": history})
    print(json.dumps(report, indent=1))
    with atomic_path(args.out / "eyes.pt") as temporary:
        torch.save(model.state_dict(), temporary)
    if args.export:
        export(model, report, args.epochs)
    return 0


def export(model: nn.Module, report: dict[str, float], epochs: int) -> None:
    """Write the state dict, the ONNX network and a model card to the assets."""
    with atomic_path(ASSETS_MODELS / "eyes.pt") as temporary:
        torch.save(model.state_dict(), temporary)
    export_eye_network(model, ASSETS_MODELS / "eyes.onnx")
    write_json(
        ASSETS_MODELS / "eyes.json",
        {
            "what": "eyelid refiner: six landmarks per eye from a 32x32 grey eye crop "
            "(morph3d.inference.eyes)",
            "trained_on": f"300W, {int(report['train_eyes'])} eyes of the training split",
            "command": "python scripts/train_eyes.py --root ../shared/data/300w "
            f"--out work/eyes --epochs {epochs} --export",
            "held_out": report,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
