"""Train the eyelid refiner (morph3d.inference.eyes) on the annotated 300W eyes, evaluate it, export it.

    python scripts/train_eyes.py --root ../shared/data/300w --out work/eyes --export

Each annotated eye gives a 64x64 grey patch around its corner-aligned frame; training crops are
cut from it through a randomly moved, scaled and turned frame (as the 3DMM's eye corners would
place it), with random brightness, contrast, blur and noise. The held-out faces (the same 10 %
split as the main network) are evaluated with frames placed by the shipped network's landmarks:
eye-landmark error and eye-aperture error, against the 3DMM's own eye landmarks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from morph3d.core.crop import crop_box_from_landmarks
from morph3d.core.metrics import eye_aperture
from morph3d.files import atomic_path, write_json
from morph3d.inference.eyes import (
    EYE_ORDER,
    EYE_SIZE,
    crops_to_eye_input,
    eye_crops,
    eye_frames,
    refine_eyes,
    to_eye_frame,
)
from morph3d.io.datasets import find_faces, split_indices
from morph3d.io.image import read_image
from morph3d.paths import ASSETS_MODELS
from morph3d.pipeline.reconstructor import Reconstructor

PATCH = 64  # patch pixels over two frame units: frame coordinates [-1, 1]


def eye_net() -> nn.Module:
    """A small CNN: ``(B, 1, 32, 32)`` -> ``(B, 12)`` (six points in the eye frame)."""

    def block(a: int, b: int) -> list[nn.Module]:
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(1, 16), nn.MaxPool2d(2),
        *block(16, 32), nn.MaxPool2d(2),
        *block(32, 64), nn.MaxPool2d(2),
        *block(64, 96),
        nn.Flatten(),
        nn.Linear(96 * 4 * 4, 128), nn.ReLU(inplace=True),
        nn.Linear(128, 12),
    )  # fmt: skip


def patches(faces: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per eye a ``PATCH`` grey patch over frame units [-1, 1] and its points in frame units."""
    images, points = [], []
    for face in tqdm(faces, desc="eye patches", unit="face"):
        grey = cv2.cvtColor(read_image(face.image_path), cv2.COLOR_RGB2GRAY)
        frames = eye_frames(face.landmarks)
        wide = frames.copy()
        wide[:, 1:] *= 2  # the patch covers twice the crop
        images.append(eye_crops(grey, wide, PATCH))
        for eye, frame in enumerate(frames):
            points.append(to_eye_frame(face.landmarks[list(EYE_ORDER[eye])], frame))
    return np.concatenate(images), np.array(points)


def sample(
    patch: np.ndarray, points: np.ndarray, rng: np.random.Generator, jitter: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One training crop and its six points in the crop's frame."""
    if jitter:
        shift = rng.normal(0, 0.05, 2)
        scale = float(np.exp(rng.normal(0, 0.1)))
        angle = float(np.radians(rng.normal(0, 8)))
    else:
        shift, scale, angle = np.zeros(2), 1.0, 0.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    axes = scale * rotation  # columns: the moved frame's axes in frame units
    half = PATCH / 2
    frame_px = np.array(
        [(shift / 2 + 0.5) * PATCH - 0.5, axes[:, 0] * half, axes[:, 1] * half]
    )  # the moved frame in patch pixels
    crop = eye_crops(patch, frame_px[None], EYE_SIZE)[0]
    target = (points - shift) @ np.linalg.inv(axes).T
    if jitter:
        crop = crop.astype(np.float32) * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
        if rng.random() < 0.3:
            crop = cv2.GaussianBlur(crop, (3, 3), rng.uniform(0.3, 1.2))
        crop = crop + rng.normal(0, rng.uniform(0, 6), crop.shape)
        crop = np.clip(crop, 0, 255).astype(np.uint8)
    return crop, target


def batches(
    data: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, size: int, jitter: bool
) -> Any:
    images, points = data
    order = rng.permutation(len(images)) if jitter else np.arange(len(images))
    for start in range(0, len(order), size):
        pick = order[start : start + size]
        crops, targets = zip(
            *(sample(images[k], points[k], rng, jitter) for k in pick), strict=True
        )
        yield (
            torch.from_numpy(crops_to_eye_input(np.stack(crops))),
            torch.from_numpy(np.stack(targets).reshape(len(pick), 12).astype(np.float32)),
        )


def evaluate(model: nn.Module, faces: list[Any], reconstructor: Reconstructor) -> dict[str, float]:
    """Eye errors on held-out faces, frames placed by the shipped network's landmarks."""
    model.eval()
    rows = []
    for face in tqdm(faces, desc="evaluate", unit="face"):
        rgb = read_image(face.image_path)
        box = crop_box_from_landmarks(face.landmarks)[None]
        _, predicted, _ = reconstructor.predict(rgb, box)
        predicted = predicted[0][:, :2]
        with torch.no_grad():
            refined = refine_eyes(
                rgb, predicted[None], lambda batch: model(torch.from_numpy(batch)).numpy()
            )[0]
        truth = face.landmarks
        widths = [np.linalg.norm(truth[o[0]] - truth[o[3]]) for o in EYE_ORDER]
        for eye, order in enumerate(EYE_ORDER):
            index = list(order)
            rows.append(
                {
                    "truth": eye_aperture(truth)[eye],
                    "mesh": eye_aperture(predicted)[eye],
                    "refined": eye_aperture(refined)[eye],
                    "mesh_error": np.linalg.norm(predicted[index] - truth[index], axis=1).mean()
                    / widths[eye],
                    "refined_error": np.linalg.norm(refined[index] - truth[index], axis=1).mean()
                    / widths[eye],
                }
            )
    truth = np.array([r["truth"] for r in rows])
    report: dict[str, float] = {"eyes": float(len(rows))}
    for name in ("mesh", "refined"):
        values = np.array([r[name] for r in rows])
        report[f"{name}_landmark_error"] = float(np.mean([r[f"{name}_error"] for r in rows]))
        report[f"{name}_aperture_mae"] = float(np.abs(values - truth).mean())
        report[f"{name}_aperture_corr"] = float(np.corrcoef(values, truth)[0, 1])
        closed = truth < 0.12
        report[f"{name}_aperture_closed_eyes"] = (
            float(values[closed].mean()) if closed.any() else float("nan")
        )
    report["closed_eyes"] = float((truth < 0.12).sum())
    report["truth_aperture_closed_eyes"] = float(truth[truth < 0.12].mean())
    return report


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
        model = eye_net()
        model.load_state_dict(torch.load(args.out / "eyes.pt", weights_only=True))
        model.eval()
        export(model, json.loads((args.out / "report.json").read_text())["report"], args.epochs)
        return 0
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    faces, _ = find_faces("300w", args.root)
    train_index, val_index = split_indices([f.name for f in faces], 0.1)
    train = patches([faces[k] for k in train_index])
    model = eye_net()
    steps = args.epochs * args.repeats * (-(-len(train[0]) // 128))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    started = time.perf_counter()
    history = []
    for epoch in tqdm(range(args.epochs), desc="epochs"):
        model.train()
        losses = []
        for _ in range(args.repeats):
            for x, y in batches(train, rng, 128, jitter=True):
                loss = nn.functional.smooth_l1_loss(model(x) * 10, y * 10, beta=0.1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
    minutes = (time.perf_counter() - started) / 60
    model.eval()
    report = evaluate(model, [faces[k] for k in val_index], Reconstructor())
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
    with atomic_path(ASSETS_MODELS / "eyes.onnx") as temporary:
        torch.onnx.export(
            model, torch.zeros(2, 1, EYE_SIZE, EYE_SIZE), str(temporary),
            input_names=["eyes"], output_names=["points"],
            dynamic_axes={"eyes": {0: "batch"}, "points": {0: "batch"}}, dynamo=False,
        )  # fmt: skip
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
