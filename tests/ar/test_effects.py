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


def test_a_driver_scales_about_its_pivot_and_moves() -> None:
    from morph3d.ar.effects import Driver

    driver = Driver.from_dict(
        {"blendshape": "eyeBlinkLeft", "scale": [1, 5, 1], "pivot": [0, 2, 0],
         "translate": [0.5, 0, 0]}
    )  # fmt: skip
    np.testing.assert_allclose(driver.matrix(0.0), np.eye(4))
    full = driver.matrix(1.0)
    np.testing.assert_allclose(full @ [0, 2, 0, 1], [0.5, 2, 0, 1])  # the pivot stays, then moves
    np.testing.assert_allclose(full @ [0, 1, 0, 1], [0.5, 2 - 5, 0, 1])  # 1 below: 5 below
    np.testing.assert_allclose(driver.matrix(0.5) @ [0, 1, 0, 1], [0.25, 2 - 3, 0, 1])
    np.testing.assert_allclose(driver.matrix(7.0), full)  # coefficients are clipped to [0, 1]
    with pytest.raises(ValueError, match="scale"):
        Driver.from_dict({"blendshape": "x", "scale": [1, 2]})
    with pytest.raises(ValueError, match="blendshape"):
        Driver.from_dict({"scale": [1, 2, 3]})


def test_toon_lids_close_with_eye_blink_and_brows_rise(real_model) -> None:
    space = FaceSpace.of(real_model)
    effect = load_effect("toon", real_model)
    vertices = 80 * space.points + np.array([200.0, -150.0, 10.0])
    index = {part.name: k for k, part in enumerate(effect.parts)}
    lid, ball = effect.parts[index["left_lid"]], effect.parts[index["left_eyeball"]]

    def extent(k: int, blendshapes: dict[str, float]) -> np.ndarray:
        mesh = effect.parts[k].mesh.copy()
        mesh.apply_transform(effect.poses(vertices, blendshapes)[k])
        return mesh.bounds[:, 1]  # y range in the scene

    ball_y = extent(index["left_eyeball"], {})
    open_y = extent(index["left_lid"], {})
    shut_y = extent(index["left_lid"], {"eyeBlinkLeft": 1.0})
    assert open_y[1] - open_y[0] < 0.15 * (ball_y[1] - ball_y[0])  # a thin cap when open
    assert shut_y[0] < ball_y[0] and shut_y[1] > ball_y[1]  # covers the eyeball when shut
    assert open_y[1] == pytest.approx(shut_y[1], abs=1e-4)  # closing from its top edge
    # the other eye's lid and the eyeball do not move
    other = extent(index["right_lid"], {"eyeBlinkLeft": 1.0})
    np.testing.assert_allclose(other, extent(index["right_lid"], {}))
    assert lid.drivers and not ball.drivers
    brow = index["left_brow"]
    up = extent(brow, {"browInnerUp": 1.0}) - extent(brow, {})
    down = extent(brow, {"browDownLeft": 1.0}) - extent(brow, {})
    np.testing.assert_allclose(up, [8.0, 8.0], atol=1e-4)  # 0.1 face units of 80 px
    np.testing.assert_allclose(down, [-8.0, -8.0], atol=1e-4)


def test_bad_drivers_are_model_format_errors(real_model, tmp_path: Path) -> None:
    source = Path(__file__).parents[2] / "assets" / "ar"
    (tmp_path / "odd.glb").write_bytes((source / "hat.glb").read_bytes())
    for drivers, message in (
        ([{"blendshape": "jawWide"}], "lacks"),
        ([{"blendshape": "eyeBlinkLeft", "pivot": "here"}], "bad driver"),
        ("not a list", "bad driver"),
    ):
        (tmp_path / "odd.json").write_text(json.dumps({"parts": {"hat": {"drivers": drivers}}}))
        with pytest.raises(ModelFormatError, match=message):
            load_effect(tmp_path / "odd.glb", real_model)
