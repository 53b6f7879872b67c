from __future__ import annotations

from pathlib import Path

import numpy as np

from morph3d.inference.eyes import EYE_SIZE
from morph3d.io.datasets import find_faces
from morph3d.training.eyes import PATCH, evaluate_eyes, eye_batches, eye_patches, train_eyes


def test_patches_train_and_evaluate(shared_data: Path) -> None:
    faces, _ = find_faces("300w", shared_data / "300w")
    faces = faces[:4]
    patches, points = eye_patches(faces)
    assert patches.shape == (8, PATCH, PATCH) and points.shape == (8, 6, 2)
    # the outer and inner corners sit on the frame's x axis, a crop side apart / 2
    np.testing.assert_allclose(points[:, [0, 3], 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(points[:, 3, 0] - points[:, 0, 0], 0.5, atol=1e-9)
    x, y = next(eye_batches((patches, points), np.random.default_rng(0), 5, jitter=False))
    assert tuple(x.shape) == (5, 1, EYE_SIZE, EYE_SIZE) and tuple(y.shape) == (5, 12)
    np.testing.assert_allclose(y.numpy().reshape(5, 6, 2), points[:5], atol=1e-6)
    model, history, minutes = train_eyes((patches, points), epochs=2, repeats=1, batch_size=4)
    assert minutes > 0 and [row["epoch"] for row in history] == [1, 2]
    assert np.isfinite(history[-1]["loss"])
    report = evaluate_eyes(model, faces[:2], lambda rgb, landmarks: landmarks[:, :2])
    assert report["eyes"] == 4.0 and report["mesh_landmark_error"] == 0.0
    assert report["refined_landmark_error"] > 0


def test_brow_patches_train_and_evaluate(shared_data: Path) -> None:
    from morph3d.inference.eyes import BROW_RISE, BROW_SCALE, BROWS_FEATURE
    from morph3d.training.eyes import evaluate_brows

    faces, _ = find_faces("300w", shared_data / "300w")
    faces = faces[:3]
    patches, points = eye_patches(faces, feature=BROWS_FEATURE)
    assert patches.shape == (6, PATCH, PATCH) and points.shape == (6, 5, 2)
    # the brows lie above the eye's centre (which is BROW_RISE / BROW_SCALE below the crop's
    # centre in crop sides, y down) and inside the crop
    assert (points[..., 1] < BROW_RISE / BROW_SCALE).all() and np.abs(points).max() < 0.5
    # outer end first: x grows along each brow in both (mirrored) frames
    assert (np.diff(points[..., 0], axis=1) > 0).mean() > 0.9
    model, _, _ = train_eyes((patches, points), epochs=1, repeats=1, batch_size=4)
    report = evaluate_brows(model, faces[:2], lambda rgb, landmarks: landmarks[:, :2])
    assert report["brows"] == 4.0 and report["mesh_landmark_error"] == 0.0
    assert report["mesh_height_mae"] == 0.0 and report["refined_landmark_error"] > 0


def test_a_saved_brow_network_loads_with_its_own_outputs(tmp_path: Path) -> None:
    import torch

    from morph3d.inference.eye_network import eye_network, load_eye_network

    network = eye_network(10)
    torch.save(network.state_dict(), tmp_path / "brows.pt")
    loaded = load_eye_network(tmp_path / "brows.pt")
    assert tuple(loaded(torch.zeros(2, 1, EYE_SIZE, EYE_SIZE)).shape) == (2, 10)


def test_low_resolution_crops_lose_detail_but_keep_their_targets(shared_data: Path) -> None:
    import cv2

    from morph3d.training.eyes import eye_sample

    faces, _ = find_faces("300w", shared_data / "300w")
    patches, points = eye_patches(faces[:2])
    sharp, blurred = [], []
    for seed in range(20):
        crop, target = eye_sample(patches[0], points[0], np.random.default_rng(seed), True)
        small, same = eye_sample(patches[0], points[0], np.random.default_rng(seed), True, 1.0)
        np.testing.assert_array_equal(same, target)  # the frame is drawn first
        sharp.append(cv2.Laplacian(crop.astype(np.float32), cv2.CV_32F).var())
        blurred.append(cv2.Laplacian(small.astype(np.float32), cv2.CV_32F).var())
    assert np.median(blurred) < 0.7 * np.median(sharp)  # (both get the same noise levels)


def test_shrunk_faces_are_evaluated_in_their_own_pixels(shared_data: Path) -> None:
    faces, _ = find_faces("300w", shared_data / "300w")
    seen: list[tuple[int, int]] = []

    def predict(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        seen.append(rgb.shape[:2])
        assert landmarks[:, :2].max() < max(rgb.shape[:2])
        return landmarks[:, :2]

    from morph3d.inference.eye_network import eye_network

    model = eye_network(12)
    full = evaluate_eyes(model, faces[:2], predict)
    small = evaluate_eyes(model, faces[:2], predict, scale=0.25)
    assert full["mesh_landmark_error"] == small["mesh_landmark_error"] == 0.0
    # the apertures are ratios: the same at any scale, to rounding
    assert abs(full["mesh_aperture_mae"] - small["mesh_aperture_mae"]) < 1e-9
    assert all(abs(a / b - 0.25) < 0.01 for a, b in zip(seen[2], seen[0], strict=True))
