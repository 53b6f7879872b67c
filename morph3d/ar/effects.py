"""AR effects: 3D parts anchored to the morphable model's face.

An effect is a GLB file (its parts, one named mesh each, with materials) and a JSON file saying
how each part is anchored. Parts are modelled in **face space**, defined on the model's mean face:
the origin halfway between the outer eye corners (landmarks 36 and 45), one unit the distance
between them (about 9 cm on an adult), x to the image's right, y up, z out of the face toward the
viewer. The JSON::

    {"name": "dog", "description": "...",
     "parts": {"nose": {"anchor": {"landmarks": [30]}},
               "left_ear": {"anchor": {"grid": [[0, 10]]}},
               "head": {"role": "occluder"}}}

Each frame, a similarity transform (scale, rotation, translation) is fitted from the mean face's
rigid landmarks (nose and eye corners) to the tracked face's, which gives the head's pose and size.
A part follows that pose and size and is placed so that its anchor — the mean of the listed
landmarks and/or grid vertices, or the head itself when none are listed — sits where the tracked
face's anchor vertices are: the nose follows the nose tip, ears the top of the forehead, including
their motion with expression. ``"role": "occluder"`` parts (e.g. a head proxy) are not drawn but
hide what is behind them.

A part may also be **driven** by the face's blendshape coefficients (``TrackedFace.blendshapes``,
each in [0, 1]): ``"drivers": [{"blendshape": "eyeBlinkLeft", "scale": [1, 12.5, 1],
"pivot": [0.36, 0.2, 0.17]}, {"blendshape": "browInnerUp", "translate": [0, 0.1, 0]}]``. At
coefficient ``w`` a driver scales the part about its ``pivot`` by ``1 + w (scale - 1)`` per
axis and moves it by ``w translate`` (face space), before the head pose; drivers apply in order.
A lid modelled open, scaled shut by ``eyeBlink*``, closes with the user's eye.

Poses are given in the renderer's scene space (:mod:`morph3d.ar.renderer`): pixels, x right,
**y up** (``y = -row``), z toward the viewer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from morph3d.core.landmarks68 import RIGID
from morph3d.core.model import MorphableModel
from morph3d.errors import ModelFormatError, ModelNotFoundError
from morph3d.paths import ASSETS_EFFECTS

__all__ = [
    "EFFECTS",
    "Driver",
    "Effect",
    "EffectPart",
    "FaceSpace",
    "load_effect",
    "similarity_transform",
]

#: The effects the project ships.
EFFECTS = ("dog", "glasses", "hat", "toon")

Role = Literal["visible", "occluder"]


def similarity_transform(
    source: np.ndarray, target: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """The least-squares similarity ``target ≈ scale * rotation @ source + translation``.

    Umeyama's closed form (a proper rotation, no reflection).

    Args:
        source: ``(n, 3)`` points.
        target: ``(n, 3)`` corresponding points.

    Returns:
        ``(scale, rotation (3, 3), translation (3,))``.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mean_source, mean_target = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mean_source, target - mean_target
    covariance = b.T @ a / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance = float((a**2).sum() / len(source))
    scale = float((singular * sign).sum() / variance)
    return scale, rotation, mean_target - scale * rotation @ mean_source


@dataclass(frozen=True)
class FaceSpace:
    """Face space of a morphable model's mean face (see the module docstring).

    Attributes:
        origin: ``(3,)`` face-space origin in model units.
        unit: Model units per face-space unit.
        points: ``(N, 3)`` the mean face's vertices in face space.
        landmark_indices: ``(68,)`` vertex indices of the landmarks.
        grid: ``(rows, columns)`` vertex index of each grid node.
    """

    origin: np.ndarray
    unit: float
    points: np.ndarray
    landmark_indices: np.ndarray
    grid: np.ndarray

    @classmethod
    def of(cls, model: MorphableModel) -> FaceSpace:
        """Face space of ``model``'s mean face."""
        mean = model.mean.reshape(-1, 3).astype(np.float64)
        landmarks = mean[model.landmark_indices]
        origin = (landmarks[36] + landmarks[45]) / 2
        unit = float(np.linalg.norm(landmarks[36] - landmarks[45]))
        return cls(origin, unit, (mean - origin) / unit, model.landmark_indices, model.grid)

    def anchor_vertices(self, anchor: dict[str, Any]) -> np.ndarray:
        """Vertex indices of an anchor spec (``landmarks`` and/or ``grid`` ``[row, column]``)."""
        indices = [int(self.landmark_indices[k]) for k in anchor.get("landmarks", [])]
        indices += [int(self.grid[row, column]) for row, column in anchor.get("grid", [])]
        return np.array(indices, dtype=np.int64)

    @cached_property
    def rigid(self) -> np.ndarray:
        """``(13, 3)`` the mean face's rigid landmarks in face space."""
        return self.points[self.landmark_indices[list(RIGID)]]

    def head_pose(self, landmarks: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Similarity from face space to scene space for a face's ``(68, 3)`` scene landmarks."""
        return similarity_transform(self.rigid, np.asarray(landmarks)[list(RIGID)])


@dataclass(frozen=True)
class Driver:
    """How one blendshape coefficient moves a part (see the module docstring).

    Attributes:
        blendshape: The coefficient's name (e.g. ``"eyeBlinkLeft"``).
        scale: ``(3,)`` scale factors about ``pivot`` at coefficient 1.
        pivot: ``(3,)`` face-space point the scaling keeps fixed.
        translate: ``(3,)`` face-space motion at coefficient 1.
    """

    blendshape: str
    scale: np.ndarray
    pivot: np.ndarray
    translate: np.ndarray

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Driver:
        """A driver from its JSON spec (``scale``, ``pivot``, ``translate`` optional)."""

        def vector(key: str, default: float) -> np.ndarray:
            value = np.asarray(spec.get(key, [default] * 3), dtype=np.float64)
            if value.shape != (3,) or not np.isfinite(value).all():
                raise ValueError(f"{key} must be three finite numbers, got {spec.get(key)!r}")
            return value

        if not isinstance(spec.get("blendshape"), str):
            raise ValueError(f"a driver needs a blendshape name, got {spec!r}")
        return cls(spec["blendshape"], vector("scale", 1.0), vector("pivot", 0.0),
                   vector("translate", 0.0))  # fmt: skip

    def matrix(self, weight: float) -> np.ndarray:
        """The ``4x4`` face-space transform at coefficient ``weight`` (clipped to [0, 1])."""
        w = min(max(float(weight), 0.0), 1.0)
        factors = 1.0 + w * (self.scale - 1.0)
        transform = np.eye(4)
        transform[:3, :3] = np.diag(factors)
        transform[:3, 3] = self.pivot - factors * self.pivot + w * self.translate
        return transform


@dataclass(frozen=True)
class EffectPart:
    """One part of an effect.

    Attributes:
        name: Part name (its mesh's name in the GLB).
        mesh: ``trimesh.Trimesh`` in face space, with its material.
        anchor: Vertex indices of the model that it follows (empty: the head).
        role: ``"visible"`` or ``"occluder"`` (hides what is behind it, is not drawn).
        drivers: Blendshape drivers, applied in order (none: the part is rigid).
    """

    name: str
    mesh: Any
    anchor: np.ndarray
    role: Role
    drivers: tuple[Driver, ...] = ()

    def driven(self, blendshapes: Mapping[str, float]) -> np.ndarray:
        """The part's ``4x4`` face-space transform for these coefficients (missing: 0)."""
        transform = np.eye(4)
        for driver in self.drivers:
            transform = driver.matrix(blendshapes.get(driver.blendshape, 0.0)) @ transform
        return transform


@dataclass(frozen=True)
class Effect:
    """An AR effect: its parts and the face space they are modelled in."""

    name: str
    parts: tuple[EffectPart, ...]
    space: FaceSpace
    description: str = ""

    def poses(
        self, vertices: np.ndarray, blendshapes: Mapping[str, float] | None = None
    ) -> list[np.ndarray]:
        """Each part's ``4x4`` transform from face space to scene space for one face.

        Args:
            vertices: ``(N, 3)`` the tracked face's model vertices in scene space (including
                the landmark rows), e.g. :func:`morph3d.ar.renderer.image_to_scene` of the decoded
                mesh.
            blendshapes: The face's coefficients by name, for driven parts (None: all 0).
        """
        blendshapes = blendshapes or {}
        vertices = np.asarray(vertices, dtype=np.float64)
        scale, rotation, translation = self.space.head_pose(vertices[self.space.landmark_indices])
        poses = []
        for part in self.parts:
            pose = np.eye(4)
            pose[:3, :3] = scale * rotation
            if len(part.anchor):
                # the anchor's mean-face position lands on the tracked anchor
                reference = self.space.points[part.anchor].mean(axis=0)
                pose[:3, 3] = vertices[part.anchor].mean(axis=0) - scale * rotation @ reference
            else:
                pose[:3, 3] = translation
            poses.append(pose @ part.driven(blendshapes) if part.drivers else pose)
        return poses


def _effect_files(effect: str | os.PathLike[str]) -> tuple[Path, Path]:
    name = str(effect)
    if name in EFFECTS:
        base = ASSETS_EFFECTS / name
    else:
        base = Path(effect)
        base = base.with_suffix("") if base.suffix in (".glb", ".json") else base
    return base.with_suffix(".glb"), base.with_suffix(".json")


def load_effect(effect: str | os.PathLike[str], model: MorphableModel) -> Effect:
    """Load an effect: a shipped name (``"dog"``, ``"glasses"``, ``"hat"``, ``"toon"``) or the
    path of a ``.glb`` with its ``.json`` beside it.

    Raises:
        ModelNotFoundError: a file is missing.
        ModelFormatError: the JSON names a part the GLB lacks, or is malformed.
    """
    import trimesh

    glb, spec_path = _effect_files(effect)
    for path in (glb, spec_path):
        if not path.is_file():
            raise ModelNotFoundError(
                path, "python scripts/make_effects.py (shipped: dog, glasses, hat, toon)"
            )
    try:
        spec = json.loads(spec_path.read_text())
        parts_spec = spec["parts"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFormatError(spec_path, f"not an effect description ({error})") from error
    scene: Any = trimesh.load(glb, force="scene")
    space = FaceSpace.of(model)
    parts = []
    for name, part in parts_spec.items():
        if name not in scene.geometry:
            raise ModelFormatError(spec_path, f"part {name!r} is not a mesh of {glb.name}")
        role = part.get("role", "visible")
        if role not in ("visible", "occluder"):
            raise ModelFormatError(spec_path, f"part {name!r} has unknown role {role!r}")
        try:
            anchor = space.anchor_vertices(part.get("anchor", {}))
        except (IndexError, TypeError, ValueError) as error:
            raise ModelFormatError(spec_path, f"bad anchor of {name!r} ({error})") from error
        try:
            drivers = tuple(Driver.from_dict(driver) for driver in part.get("drivers", []))
        except (TypeError, ValueError, AttributeError) as error:
            raise ModelFormatError(spec_path, f"bad driver of {name!r} ({error})") from error
        unknown = [d.blendshape for d in drivers if d.blendshape not in model.blendshape_names]
        if unknown:
            raise ModelFormatError(
                spec_path, f"part {name!r} is driven by {unknown}, which the model lacks"
            )
        parts.append(EffectPart(name, scene.geometry[name], anchor, role, drivers))
    return Effect(spec.get("name", glb.stem), tuple(parts), space, spec.get("description", ""))
