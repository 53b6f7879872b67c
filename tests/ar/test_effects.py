"""AR effects: the shipped files, the similarity fit, anchoring, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from morph3d.ar.effects import EFFECTS, FaceSpace, load_effect, similarity_transform
from morph3d.errors import ModelFormatError, ModelNotFoundError


def test_similarity_transform_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    source = rng.normal(size=(13, 3))
    angle = 0.7
    rotation = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    target = 3.5 * source @ rotation.T + np.array([10.0, -4.0, 2.0])
    scale, found, translation = similarity_transform(source, target)
    assert scale == pytest.approx(3.5)
    np.testing.assert_allclose(found, rotation, atol=1e-12)
    np.testing.assert_allclose(translation, [10.0, -4.0, 2.0], atol=1e-9)
    # a mirrored target still gets a proper rotation
    _, mirrored, _ = similarity_transform(source, source * np.array([1.0, -1.0, 1.0]))
    assert np.linalg.det(mirrored) == pytest.approx(1.0)


@pytest.mark.parametrize("name", EFFECTS)
def test_shipped_effects_load_with_materials_and_normals(real_model, name) -> None:
    effect = load_effect(name, real_model)
    assert effect.name == name and effect.description
    roles = {part.role for part in effect.parts}
    assert roles == {"visible", "occluder"}
    for part in effect.parts:
        mesh = part.mesh
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert mesh.visual.material.baseColorFactor is not None
    # small files
    assert (Path(__file__).parents[2] / "assets" / "ar" / f"{name}.glb").stat().st_size < 1e6


def test_parts_follow_the_face_and_their_anchors(real_model) -> None:
    space = FaceSpace.of(real_model)
    effect = load_effect("dog", real_model)
    # a face = the mean face in face space, scaled by 80, turned and moved
    angle = 0.3
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    vertices = 80 * space.points @ rotation.T + np.array([200.0, -150.0, 10.0])
    poses = effect.poses(vertices)
    for pose in poses:  # anchored or not, every part lands where the face took it
        np.testing.assert_allclose(pose[:3, :3], 80 * rotation, atol=1e-8)
        np.testing.assert_allclose(pose[:3, 3], [200.0, -150.0, 10.0], atol=1e-6)
    # the forehead's corner moves up: the ear anchored there follows, the head proxy does not
    ear = next(k for k, part in enumerate(effect.parts) if part.name == "left_ear")
    head = next(k for k, part in enumerate(effect.parts) if part.name == "head")
    moved = vertices.copy()
    moved[effect.parts[ear].anchor] += [0.0, 6.0, 0.0]
    after = effect.poses(moved)
    np.testing.assert_allclose(after[ear][:3, 3], poses[ear][:3, 3] + [0.0, 6.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(after[head], poses[head], atol=1e-9)


def test_bad_effects(real_model, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="make_effects"):
        load_effect(tmp_path / "nothing.glb", real_model)
    source = Path(__file__).parents[2] / "assets" / "ar"
    (tmp_path / "odd.glb").write_bytes((source / "hat.glb").read_bytes())
    (tmp_path / "odd.json").write_text(json.dumps({"parts": {"wing": {}}}))
    with pytest.raises(ModelFormatError, match="wing"):
        load_effect(tmp_path / "odd.glb", real_model)
    (tmp_path / "odd.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match="not an effect"):
        load_effect(tmp_path / "odd", real_model)
    (tmp_path / "odd.json").write_text(
        json.dumps({"parts": {"hat": {"anchor": {"grid": [[99, 0]]}}}})
    )
    with pytest.raises(ModelFormatError, match="bad anchor"):
        load_effect(tmp_path / "odd.glb", real_model)
