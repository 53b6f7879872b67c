"""Training the eyelid refiner: eye patches of annotated faces, augmented crops, the
training loop and the held-out evaluation.

Each annotated eye gives a ``PATCH`` x ``PATCH`` grey patch around its corner-aligned frame
(:func:`morph3d.inference.eyes.eye_frames`, twice the crop); training crops are cut from it
through a randomly moved, scaled and turned frame (as the 3DMM's eye corners would place it),
with random brightness, contrast, blur and noise. The loss is the smooth L1 loss (beta 0.01 in
frame units) of the six points in the crop's frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from morph3d.core.landmarks68 import EYE_ORDER
from morph3d.core.metrics import brow_height, eye_aperture
from morph3d.inference.eye_network import eye_network
from morph3d.inference.eyes import (
    EYE_SIZE,
    EYES_FEATURE,
    Feature,
    crops_to_eye_input,
    eye_crops,
    refine_eyes,
    to_eye_frame,
)
from morph3d.io.datasets import AnnotatedFace
from morph3d.io.image import read_image

__all__ = [
    "LOW_RES_SCALE",
    "PATCH",
    "evaluate_brows",
    "evaluate_eyes",
    "eye_batches",
    "eye_patches",
    "eye_sample",
    "refiner_inputs",
    "train_eyes",
]

#: Patch pixels over two frame units: frame coordinates [-1, 1].
PATCH = 64
#: Range of the lower resolution of ``low_res_share`` crops, as a fraction of ``EYE_SIZE``
#: (0.2: a 6-pixel eye crop). Tried at a share of 0.35 (session 7, 60 epochs): on the 244
#: held-out 300W eyes shrunk 4x, aperture r 0.844 -> 0.860; at full size 0.883 -> 0.878; on the
#: dlib faces (mesh aperture, blendshapes on) 0.576 -> 0.526. Not shipped: the dlib eyes are
#: not read worse for their size alone.
LOW_RES_SCALE = (0.2, 0.8)

Progress = Callable[..., Any]


def _identity(items: Any, **_: Any) -> Any:
    return items


def eye_patches(
    faces: Sequence[AnnotatedFace], progress: Progress = _identity, feature: Feature = EYES_FEATURE
) -> tuple[np.ndarray, np.ndarray]:
    """Per eye (or brow) a ``PATCH`` grey patch over frame units [-1, 1] and its points in frame
    units.

    Returns:
        ``(2F, PATCH, PATCH)`` uint8 patches and ``(2F, P, 2)`` points (right side, left side
        of each face in turn; ``P = feature.points``).
    """
    images, points = [], []
    for face in progress(faces, desc=f"{feature.name} patches", unit="face"):
        grey = cv2.cvtColor(read_image(face.image_path), cv2.COLOR_RGB2GRAY)
        frames = feature.frames(face.landmarks)
        wide = frames.copy()
        wide[:, 1:] *= 2  # the patch covers twice the crop
        images.append(eye_crops(grey, wide, PATCH))
        for eye, frame in enumerate(frames):
            points.append(to_eye_frame(face.landmarks[list(feature.orders[eye])], frame))
    return np.concatenate(images), np.array(points)


def refiner_inputs(faces: Sequence[AnnotatedFace], feature: Feature = EYES_FEATURE) -> np.ndarray:
    """``(2F, 1, S, S)`` float32: the refiner's input for both eyes (or brows) of each face, the
    crops placed by the annotated landmarks (the calibration of its int8 LiteRT copy,
    :func:`~morph3d.inference.litert_export.export_refiner_litert`)."""
    inputs = []
    for face in faces:
        grey = cv2.cvtColor(read_image(face.image_path), cv2.COLOR_RGB2GRAY)
        inputs.append(crops_to_eye_input(eye_crops(grey, feature.frames(face.landmarks))))
    return np.concatenate(inputs).astype(np.float32)


def eye_sample(
    patch: np.ndarray,
    points: np.ndarray,
    rng: np.random.Generator,
    jitter: bool,
    low_res_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One ``EYE_SIZE`` crop of a patch and its points in the crop's frame; with ``jitter``
    a randomly moved frame, random photometry and (in ``low_res_share`` of crops) a resolution
    lowered to a random fraction in ``LOW_RES_SCALE``, as the eyes of a small face are read
    (down, then back up)."""
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
        if low_res_share and rng.random() < low_res_share:  # no draw at 0: the same stream
            side = max(2, round(EYE_SIZE * rng.uniform(*LOW_RES_SCALE)))
            small = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            crop = cv2.resize(small, (EYE_SIZE, EYE_SIZE), interpolation=cv2.INTER_LINEAR)
        crop = crop.astype(np.float32) * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
        if rng.random() < 0.3:
            crop = cv2.GaussianBlur(crop, (3, 3), rng.uniform(0.3, 1.2))
        crop = crop + rng.normal(0, rng.uniform(0, 6), crop.shape)
        crop = np.clip(crop, 0, 255).astype(np.uint8)
    return crop, target


def eye_batches(
    data: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    size: int,
    jitter: bool,
    low_res_share: float = 0.0,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of network inputs ``(B, 1, 32, 32)`` and targets ``(B, 2P)`` (shuffled when
    ``jitter``; ``low_res_share`` as for :func:`eye_sample`)."""
    images, points = data
    order = rng.permutation(len(images)) if jitter else np.arange(len(images))
    for start in range(0, len(order), size):
        pick = order[start : start + size]
        crops, targets = zip(
            *(eye_sample(images[k], points[k], rng, jitter, low_res_share) for k in pick),
            strict=True,
        )
        yield (
            torch.from_numpy(crops_to_eye_input(np.stack(crops))),
            torch.from_numpy(np.stack(targets).reshape(len(pick), -1).astype(np.float32)),
        )


def train_eyes(
    data: tuple[np.ndarray, np.ndarray],
    epochs: int = 60,
    repeats: int = 4,
    seed: int = 0,
    batch_size: int = 128,
    progress: Progress = _identity,
    low_res_share: float = 0.0,
    width: float = 1.0,
) -> tuple[nn.Module, list[dict[str, float]], float]:
    """Train a new eyelid (or brow) CNN on :func:`eye_patches` (AdamW, one-cycle rate 2e-3);
    its outputs are two per point of the patches.

    Args:
        data: Patches and points.
        epochs: Epochs.
        repeats: Random crops per eye per epoch.
        seed: Seed of torch and of the augmentation.
        batch_size: Crops per step.
        progress: tqdm-like wrapper of the epochs.
        low_res_share: Share of crops seen at a lower resolution (:func:`eye_sample`).
        width: The network's width (:func:`~morph3d.inference.eye_network.eye_network`).

    Returns:
        The network (eval mode), the mean loss per epoch, and the training minutes.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = eye_network(2 * data[1].shape[1], width)
    steps = epochs * repeats * (-(-len(data[0]) // batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    started = time.perf_counter()
    history = []
    for epoch in progress(range(epochs), desc="epochs"):
        model.train()
        losses = []
        for _ in range(repeats):
            for x, y in eye_batches(data, rng, batch_size, True, low_res_share):
                loss = nn.functional.smooth_l1_loss(model(x) * 10, y * 10, beta=0.1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
    model.eval()
    return model, history, (time.perf_counter() - started) / 60


def _scaled_face(face: AnnotatedFace, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A face's RGB image and 68 landmarks, both resized by ``scale`` (area interpolation)."""
    rgb = read_image(face.image_path)
    if scale == 1.0:
        return rgb, face.landmarks
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    factor = np.array([size[0] / width, size[1] / height])
    landmarks = face.landmarks.copy()
    landmarks[:, :2] = (landmarks[:, :2] + 0.5) * factor - 0.5
    return small, landmarks


def evaluate_eyes(
    model: nn.Module,
    faces: Sequence[AnnotatedFace],
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    progress: Progress = _identity,
    scale: float = 1.0,
) -> dict[str, float]:
    """Eye errors on held-out faces, the eye frames placed by a network's landmarks.

    Args:
        model: The eyelid CNN.
        faces: Annotated faces (68 points).
        predict: ``(rgb, landmarks)`` -> ``(68, 2)`` predicted landmarks of the face whose
            annotated ``landmarks`` are given (e.g. the shipped network cropped from them).
        progress: tqdm-like wrapper of the faces.
        scale: Images (and annotations) resized by this factor first: below 1, the eyes of
            small faces.

    Returns:
        For ``mesh`` (the predicted landmarks) and ``refined`` (after the refiner): the mean
        eye-landmark error over the eye width, the eye aperture's mean absolute error and
        correlation with the truth, the mean aperture of closed eyes (true aperture < 0.12);
        the number of eyes and of closed eyes.
    """
    model.eval()
    rows = []
    for face in progress(faces, desc="evaluate", unit="face"):
        rgb, truth = _scaled_face(face, scale)
        predicted = predict(rgb, truth)
        with torch.no_grad():
            refined = refine_eyes(
                rgb, predicted[None], lambda batch: model(torch.from_numpy(batch)).numpy()
            )[0]
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
    closed = truth < 0.12
    report["closed_eyes"] = float(closed.sum())
    report["truth_aperture_closed_eyes"] = float(truth[closed].mean()) if closed.any() else np.nan
    return report


def evaluate_brows(
    model: nn.Module,
    faces: Sequence[AnnotatedFace],
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    progress: Progress = _identity,
    scale: float = 1.0,
) -> dict[str, float]:
    """Brow errors on held-out faces, the brow frames placed by a network's landmarks.

    Args:
        model: The brow CNN (:data:`~morph3d.inference.eyes.BROWS_FEATURE`).
        faces: Annotated faces (68 points).
        predict: ``(rgb, landmarks)`` -> ``(68, 2)`` predicted landmarks, as for
            :func:`evaluate_eyes`.
        progress: tqdm-like wrapper of the faces.
        scale: Images (and annotations) resized by this factor first, as for
            :func:`evaluate_eyes`.

    Returns:
        For ``mesh`` and ``refined``: the mean brow-landmark error over the outer-eye-corner
        distance, and the brow height's (:func:`~morph3d.core.metrics.brow_height`) mean
        absolute error and correlation with the truth over every brow; the number of brows.
    """
    from morph3d.inference.eyes import BROWS_FEATURE

    model.eval()
    truth, mesh, refined = [], [], []
    for face in progress(faces, desc="evaluate", unit="face"):
        rgb, landmarks = _scaled_face(face, scale)
        predicted = predict(rgb, landmarks)
        with torch.no_grad():
            read = refine_eyes(
                rgb,
                predicted[None],
                lambda batch: model(torch.from_numpy(batch)).numpy(),
                BROWS_FEATURE,
            )[0]
        truth.append(landmarks[:, :2])
        mesh.append(predicted[:, :2])
        refined.append(read[:, :2])
    truths = np.array(truth)
    distance = np.linalg.norm(truths[:, 45] - truths[:, 36], axis=-1)
    heights = brow_height(truths).reshape(-1)
    report: dict[str, float] = {"brows": float(heights.size)}
    for name, values in (("mesh", np.array(mesh)), ("refined", np.array(refined))):
        errors = np.linalg.norm(values[:, 17:27] - truths[:, 17:27], axis=-1).mean(axis=1)
        report[f"{name}_landmark_error"] = float((errors / distance).mean())
        height = brow_height(values).reshape(-1)
        report[f"{name}_height_mae"] = float(np.abs(height - heights).mean())
        report[f"{name}_height_corr"] = float(np.corrcoef(height, heights)[0, 1])
    return report
