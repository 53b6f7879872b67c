from __future__ import annotations

import numpy as np
import pytest

from morph3d.ar.authoring import MAKERS, rotation_x, rotation_y, rotation_z
from morph3d.ar.effects import EFFECTS


def test_a_builder_for_every_shipped_effect() -> None:
    assert set(MAKERS) == set(EFFECTS)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_parts_match_their_spec(name: str) -> None:
    parts, spec = MAKERS[name]()
    assert list(parts) == list(spec["parts"]) and spec["parts"]["head"]["role"] == "occluder"
    for mesh in parts.values():
        assert mesh.volume > 0  # outward normals


def test_rotations_are_proper() -> None:
    for rotation in (rotation_x(30), rotation_y(-50), rotation_z(12)):
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation_z(90) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_a_rod_runs_from_its_start_to_its_end() -> None:
    from morph3d.ar.authoring import material, rod

    mesh = rod((0.2, 0.3, 0.1), (0.6, 0.3, 0.1), 0.05, material((1, 1, 1, 1)))
    np.testing.assert_allclose(mesh.bounds[:, 0], [0.15, 0.65], atol=1e-6)  # ends + radius
    np.testing.assert_allclose(mesh.bounds[:, 1], [0.25, 0.35], atol=1e-6)
