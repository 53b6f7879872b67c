"""scripts/make_effects.py writes effects that load and match the shipped ones."""

from __future__ import annotations

import json
from pathlib import Path

from morph3d.ar.effects import EFFECTS, load_effect
from morph3d.paths import ASSETS_EFFECTS

from ..conftest import load_script

make_effects = load_script("scripts/make_effects.py")


def test_regenerates_the_shipped_effects(real_model, tmp_path: Path) -> None:
    assert make_effects.main(["--out", str(tmp_path)]) == 0
    for name in EFFECTS:
        made = load_effect(tmp_path / f"{name}.glb", real_model)
        shipped = load_effect(name, real_model)
        assert [p.name for p in made.parts] == [p.name for p in shipped.parts]
        for a, b in zip(made.parts, shipped.parts, strict=True):
            assert a.mesh.vertices.shape == b.mesh.vertices.shape and a.role == b.role
            assert abs(a.mesh.volume - b.mesh.volume) < 1e-6
        assert json.loads((tmp_path / f"{name}.json").read_text()) == json.loads(
            (ASSETS_EFFECTS / f"{name}.json").read_text()
        )
