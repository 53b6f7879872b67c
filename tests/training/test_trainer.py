from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from morph3d.core.crop import CROP_SIZE
from morph3d.core.losses import wing_loss
from morph3d.inference.torch_predictor import TorchPredictor, load_regressor
from morph3d.io.datasets import find_faces, photo_name, split_indices
from morph3d.training.augment import AugmentConfig, Similarity, warp_landmarks
from morph3d.training.batches import collate_faces
from morph3d.training.targets import Targets, build_targets
from morph3d.training.trainer import (
    TrainConfig,
    Trainer,
    mirror_crop_landmarks,
    target_statistics,
)

from ..conftest import make_tiny_targets

STILL = AugmentConfig(0, 0, 0, 0, 0, 0, 0, 0, 0)


def test_split_keeps_photos_together() -> None:
    names = [f"helen/{k}_{j}" for k in range(400) for j in (1, 2)]
    train, val = split_indices(names, 0.1)
    assert len(train) + len(val) == len(names) and 0.05 < len(val) / len(names) < 0.15
    held = {photo_name(names[i]) for i in val}
    assert held.isdisjoint(photo_name(names[i]) for i in train)
    assert photo_name("dlib/img#3") == "dlib/img" and photo_name("afw/12_1") == "afw/12"
    again = split_indices(list(reversed(names)), 0.1)[1]
    assert {names[::-1][i] for i in again} == {names[i] for i in val}


@pytest.fixture(scope="module")
def small_targets(shared_data: Path, real_model):
    faces, _ = find_faces("300w", shared_data / "300w" / "helen_trainset")
    targets, _ = build_targets(faces[:8], real_model)
    return targets


def test_statistics_without_augmentation_are_the_targets(small_targets) -> None:
    mean, std = target_statistics(small_targets.params, STILL, draws=1)
    np.testing.assert_allclose(mean, small_targets.params.mean(axis=0), rtol=1e-10, atol=1e-12)
    assert std[11] == 1.0 and np.all(std > 0)  # the constant depth gets 1
    _, wide = target_statistics(small_targets.params, AugmentConfig())
    assert wide[3] > std[3]  # augmented translations spread more


def _config(**changes) -> TrainConfig:
    base = TrainConfig(
        width=0.5,
        input_size=64,
        epochs=12,
        batch_size=8,
        val_fraction=0.0,
        augment=STILL,
        schedule="constant",
        workers=0,
        threads=1,
    )
    return dataclasses.replace(base, **changes)


def test_min_yaw_keeps_only_the_turned_faces(small_targets, real_model, tmp_path: Path) -> None:
    from morph3d.core.pose import decompose_pose

    yaw = np.abs(decompose_pose(small_targets.params[:, :12]).angles[:, 0])
    cut = float(np.median(yaw))
    every = Trainer(small_targets, real_model, _config(val_fraction=0.5), tmp_path / "a")
    turned = Trainer(
        small_targets, real_model, _config(val_fraction=0.5, min_yaw=cut), tmp_path / "b"
    )
    for part in ("train_index", "val_index"):
        kept, all_faces = getattr(turned, part), getattr(every, part)
        np.testing.assert_array_equal(kept, all_faces[yaw[all_faces] >= cut])
    assert 0 < len(turned.train_index) + len(turned.val_index) < len(small_targets.params)
    with pytest.raises(ValueError, match="min_yaw"):
        _config(min_yaw=90.0)


@pytest.mark.slow
def test_short_run_drives_the_loss_down(small_targets, real_model, tmp_path: Path) -> None:
    trainer = Trainer(small_targets, real_model, _config(), tmp_path)
    history = trainer.fit()
    losses = [row["train_loss"] for row in history]
    assert losses[-1] < 0.7 * losses[0], losses
    # No validation faces: no best weights, but everything else.
    written = {path.name for path in tmp_path.iterdir()}
    assert written == {"checkpoint.pt", "log.json", "log.csv", "curves.png"}


@pytest.mark.slow
def test_checkpoint_round_trip_and_resume(small_targets, real_model, tmp_path: Path) -> None:
    config = _config(epochs=2, val_fraction=0.5)
    trainer = Trainer(small_targets, real_model, config, tmp_path)
    trainer.fit()
    restored = Trainer(small_targets, real_model, config, tmp_path)
    restored.load_checkpoint()
    assert restored.epoch == 2 and restored.history == trainer.history
    for key, value in trainer.network.state_dict().items():
        torch.testing.assert_close(restored.network.state_dict()[key], value)
    longer = Trainer(small_targets, real_model, dataclasses.replace(config, epochs=3), tmp_path)
    longer.load_checkpoint()
    assert [row["epoch"] for row in longer.fit()] == [1, 2, 3]
    # The best weights load on their own, with weights_only, statistics included.
    network = load_regressor(tmp_path / "best.pt")
    assert network.width == 0.5
    torch.testing.assert_close(network.param_std, trainer.network.param_std)
    crops = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    params = TorchPredictor(network, real_model).predict(crops)
    assert params.shape == (2, 62) and np.all(np.isfinite(params))


def test_load_regressor_rejects_other_files(tmp_path: Path) -> None:
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a morph3d regressor"):
        load_regressor(tmp_path / "other.pt")


@pytest.mark.unit
def test_sparse_loss_ignores_hidden_points_and_is_zero_at_the_truth(
    tiny_model, tmp_path: Path
) -> None:
    targets = make_tiny_targets(tiny_model)
    trainer = Trainer(targets, tiny_model, _config(epochs=1), tmp_path)
    params = torch.as_tensor(targets.params, dtype=torch.float32)
    network = trainer.network
    whitened = ((params - network.param_mean) / network.param_std).requires_grad_(True)
    dense_target = torch.as_tensor(targets.model_landmarks)
    sparse_target = torch.as_tensor(targets.sparse_points)
    sparse = torch.as_tensor(targets.sparse)
    # The mapped points of the true parameters: zero loss on a mixed batch.
    loss = trainer._loss(whitened, dense_target, sparse_target, sparse)
    assert float(loss.detach()) < 1e-2, float(loss.detach())
    # Away from the truth, the loss of a sparse face has no gradient w.r.t. hidden (NaN)
    # points and equals the Wing loss summed over its visible coordinates.
    moved = (sparse_target + 3.0).requires_grad_(True)
    loss = trainer._loss(whitened, dense_target, moved, sparse)
    loss.backward()
    hidden = torch.as_tensor(~np.isfinite(targets.sparse_points))
    assert moved.grad is not None and torch.all(torch.isfinite(moved.grad))
    assert torch.all(moved.grad[hidden] == 0) and torch.all(moved.grad[~hidden] != 0)
    predicted = trainer.decoder.landmarks(network.denormalize(whitened.detach()))[..., :2]
    points = to_aflw21_naive(predicted)
    reference = []
    for k in range(len(targets)):
        if not targets.sparse[k]:
            reference.append(wing_loss(predicted[k : k + 1], dense_target[k : k + 1, :, :2]))
            continue
        seen = ~hidden[k]
        reference.append(wing_loss(points[k][seen][None], moved.detach()[k][seen][None]))
    torch.testing.assert_close(loss.detach(), torch.stack(reference).mean(), rtol=1e-5, atol=1e-4)


def to_aflw21_naive(landmarks: torch.Tensor) -> torch.Tensor:
    """The 21 points as a loop over the weight matrix (ears 0)."""
    from morph3d.core.landmarks21 import AFLW21_FROM_68

    out = torch.zeros(len(landmarks), 21, 2)
    for p in range(21):
        for k in np.flatnonzero(AFLW21_FROM_68[p]):
            out[:, p] += float(AFLW21_FROM_68[p, k]) * landmarks[:, k]
    return out


@pytest.mark.unit
def test_flipped_batch_reorders_sparse_points(tiny_model, tmp_path: Path) -> None:
    from morph3d.core.landmarks21 import MIRROR_21

    targets = make_tiny_targets(tiny_model, count=4)
    config = _config(epochs=1, augment=AugmentConfig(0, 0, 0, 1.0, 0, 0, 0, 0, 0))
    trainer = Trainer(targets, tiny_model, config, tmp_path)
    _, _, sparse_points, sparse, _ = trainer._batch(np.array([1]))
    original = targets.sparse_points[1].astype(np.float64)
    expected = np.stack([121 - original[:, 0], original[:, 1]], axis=1)[MIRROR_21]
    np.testing.assert_allclose(sparse_points[0].numpy(), expected, rtol=1e-5)
    assert bool(sparse[0])


@pytest.mark.unit
def test_mixed_batch_trains(tiny_model, tmp_path: Path) -> None:
    targets = make_tiny_targets(tiny_model, count=24)
    half = len(targets) // 2
    from morph3d.training.targets import concatenate_targets

    parts = []
    for index in (np.arange(half), np.arange(half, len(targets))):
        fields = {
            name: (
                [getattr(targets, name)[i] for i in index]
                if name in ("name", "source")
                else getattr(targets, name)[index]
            )
            for name in targets.__dataclass_fields__
            if name != "attrs"
        }
        parts.append(type(targets)(**fields))
    assert len(concatenate_targets(parts)) == len(targets)
    config = _config(epochs=6, val_fraction=0.5)
    trainer = Trainer(parts, tiny_model, config, tmp_path)  # several targets files
    assert trainer.targets.sparse[trainer.train_index].any()
    assert (~trainer.targets.sparse[trainer.train_index]).any()
    history = trainer.fit()
    assert all(np.isfinite(row["train_loss"]) for row in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert "val_nme_sparse" in history[-1] and "val_nme" in history[-1]


@pytest.mark.unit
def test_consistency_is_zero_for_agreeing_views_and_trains(tiny_model, tmp_path: Path) -> None:
    targets = make_tiny_targets(tiny_model, count=12)
    config = _config(epochs=3, consistency=1.0, augment=AugmentConfig(flip=0.5))
    trainer = Trainer(targets, tiny_model, config, tmp_path)
    faces = trainer.train_index[:4]
    keys = [(0, int(i)) for i in faces] + [(0, int(i), 1) for i in faces]
    batch = collate_faces([trainer.dataset[key] for key in keys])
    images, target, _, _, undo = batch
    network = trainer.network
    # The two views' targets, mapped back by the batch's maps, coincide: a network that
    # predicted every view exactly would have no consistency loss.
    back = target[..., :2] @ undo[:, :2, :2].transpose(1, 2) + undo[:, None, :2, 2]
    first, second = back.chunk(2)
    torch.testing.assert_close(first, second, atol=1e-4, rtol=0)
    whitened = network(images).float()
    losses = trainer._agreement_losses(trainer._landmarks(whitened), undo)
    assert losses.shape == (4,) and bool((losses > 0).all())
    losses.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())
    history = trainer.fit()
    assert all(np.isfinite(row["train_consistency"]) for row in history)
    with pytest.raises(ValueError, match="--consistency"):
        Trainer(targets, tiny_model, _config(consistency=-1.0), tmp_path)


@pytest.mark.unit
def test_channels_last_on_the_cpu_trains_as_the_default_layout(tiny_model, tmp_path: Path) -> None:
    targets = make_tiny_targets(tiny_model, count=12)
    runs = []
    for layout in (False, True):
        config = _config(epochs=2, val_fraction=0.5, channels_last=layout)
        trainer = Trainer(targets, tiny_model, config, tmp_path / str(layout))
        if layout:
            weight = next(p for p in trainer.network.parameters() if p.dim() == 4)
            assert weight.is_contiguous(memory_format=torch.channels_last)
        runs.append(trainer.fit())
    # Adam amplifies rounding differences in the weights, not in what the run learns.
    for plain, last in zip(*runs, strict=True):
        assert plain["train_loss"] == pytest.approx(last["train_loss"], rel=1e-4)


def _saved_teacher(tiny_model, tmp_path: Path) -> tuple[Targets, Path]:
    """Twelve tiny faces and the state dict of a network trained one epoch on them."""
    targets = make_tiny_targets(tiny_model, count=12)
    teacher_trainer = Trainer(targets, tiny_model, _config(epochs=1), tmp_path / "teacher")
    teacher_path = tmp_path / "teacher.pt"
    torch.save(teacher_trainer.network.state_dict(), teacher_path)
    return targets, teacher_path


@pytest.mark.unit
def test_distillation_learns_the_teachers_landmarks(tiny_model, tmp_path: Path) -> None:
    targets, teacher_path = _saved_teacher(tiny_model, tmp_path)
    config = _config(epochs=4, distill=1.0, teacher=str(teacher_path), teacher_input=64)
    # A student that starts as its teacher (same weights, same outputs) has nothing to learn.
    twin = Trainer(targets, tiny_model, dataclasses.replace(config, init=str(teacher_path)),
                   tmp_path / "twin")  # fmt: skip
    images = collate_faces([twin.dataset[(0, int(i))] for i in twin.train_index[:4]])[0]
    twin.network.eval()
    with torch.no_grad():
        predicted = twin._landmarks(twin.network(images))
        assert float(twin._teacher_losses(images, predicted).abs().max()) < 1e-3
    # A student taught by it ends nearer its landmarks than one trained on the targets alone.
    gaps = []
    for weight in (0.0, 5.0):
        changed = dataclasses.replace(config, distill=weight, teacher=str(teacher_path))
        student = Trainer(targets, tiny_model, changed, tmp_path / f"student{weight}")
        history = student.fit()
        student.network.eval()
        with torch.no_grad():
            predicted = student._landmarks(student.network(images))
            student.teacher = twin.teacher
            gaps.append(float(student._teacher_losses(images, predicted).mean()))
    assert all(np.isfinite(row["train_distill"]) for row in history)
    assert gaps[1] < 0.8 * gaps[0], gaps
    with pytest.raises(ValueError, match="--teacher"):
        Trainer(targets, tiny_model, _config(distill=1.0), tmp_path / "none")
    with pytest.raises(ValueError, match="--distill"):
        Trainer(targets, tiny_model, _config(distill=-1.0), tmp_path / "none")


def test_mirrored_landmarks_match_the_augmentation_flip() -> None:
    rng = np.random.default_rng(5)
    points = np.column_stack([rng.uniform(1, CROP_SIZE, (68, 2)), rng.normal(size=68)])
    flipped = warp_landmarks(points, Similarity(flip=True))  # as a flipped training crop moves
    back = mirror_crop_landmarks(torch.from_numpy(flipped)[None])[0].numpy()
    np.testing.assert_allclose(back, points, atol=1e-9)


@pytest.mark.unit
def test_flip_averaged_teacher_is_symmetric_on_a_symmetric_crop(tiny_model, tmp_path: Path) -> None:
    targets, teacher_path = _saved_teacher(tiny_model, tmp_path)
    config = _config(distill=1.0, teacher=str(teacher_path), teacher_input=64, teacher_flip=True)
    averaged = Trainer(targets, tiny_model, config, tmp_path / "averaged")
    single = Trainer(targets, tiny_model, dataclasses.replace(config, teacher_flip=False),
                     tmp_path / "single")  # fmt: skip
    images = collate_faces([averaged.dataset[(0, int(i))] for i in averaged.train_index[:3]])[0]
    symmetric = (images + images.flip(-1)) / 2  # each crop its own mirror image
    points = averaged._teacher_landmarks(symmetric)
    torch.testing.assert_close(mirror_crop_landmarks(points), points, atol=1e-3, rtol=0)
    plain = single._teacher_landmarks(symmetric)  # the teacher alone is not symmetric
    assert float((mirror_crop_landmarks(plain) - plain).abs().max()) > 0.1
    first = single._teacher_landmarks(images)
    mirrored = mirror_crop_landmarks(single._teacher_landmarks(images.flip(-1)))
    torch.testing.assert_close(averaged._teacher_landmarks(images), (first + mirrored) / 2)
