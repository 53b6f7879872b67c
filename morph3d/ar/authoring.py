"""Authoring the shipped AR effects: their meshes and anchors, modelled in code.

Every part is modelled in face space (see :mod:`morph3d.ar.effects`): origin between the outer
eye corners, one unit = their distance, x right, y up, z toward the viewer. Positions were read
off the default model's mean face (nose tip at (0, -0.39, 0.52), top of the forehead grid row at
y 0.63, the grid's outer columns at z -1.0). Each effect also carries an invisible head proxy, an
ellipsoid just inside the face, so the head hides what is behind it.

A builder (:data:`MAKERS`) returns the parts by name and the effect spec (``description`` and the
anchor of each part), which ``scripts/make_effects.py`` writes as ``<name>.glb`` and
``<name>.json`` in ``assets/ar``.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import trimesh

__all__ = [
    "HEAD",
    "MAKERS",
    "dog",
    "ellipsoid",
    "finish",
    "glasses",
    "hat",
    "head_proxy",
    "material",
    "rod",
    "rotation_x",
    "rotation_y",
    "rotation_z",
    "toon",
]


def material(
    color: tuple[float, float, float, float],
    roughness: float = 0.6,
    metallic: float = 0.0,
    blend: bool = False,
) -> trimesh.visual.material.PBRMaterial:
    """A glTF metallic-roughness material (colour components in 0..1)."""
    return trimesh.visual.material.PBRMaterial(
        baseColorFactor=[round(255 * c) for c in color],
        metallicFactor=metallic,
        roughnessFactor=roughness,
        alphaMode="BLEND" if blend else "OPAQUE",
        doubleSided=False,
    )


def finish(mesh: trimesh.Trimesh, look: Any) -> trimesh.Trimesh:
    """Give a mesh its material and consistent outward normals."""
    mesh.fix_normals()
    mesh.visual = trimesh.visual.TextureVisuals(material=look)
    return mesh


def ellipsoid(
    centre: tuple[float, float, float],
    radii: tuple[float, float, float],
    look: Any,
    rotation: np.ndarray | None = None,
    subdivisions: int = 3,
) -> trimesh.Trimesh:
    """An ellipsoid, optionally rotated about its centre."""
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions, radius=1.0)
    mesh.apply_scale(radii)
    if rotation is not None:
        transform = np.eye(4)
        transform[:3, :3] = rotation
        mesh.apply_transform(transform)
    mesh.apply_translation(centre)
    return finish(mesh, look)


def rod(
    start: tuple[float, ...], end: tuple[float, ...], radius: float, look: Any
) -> trimesh.Trimesh:
    """A cylinder from ``start`` to ``end`` with rounded (spherical) ends."""
    mesh = trimesh.creation.capsule(
        height=float(np.linalg.norm(np.subtract(end, start))), radius=radius, count=[12, 12]
    )
    # trimesh's capsule runs along z, centred on the origin (its sphere centres at +-height/2)
    direction = np.subtract(end, start) / np.linalg.norm(np.subtract(end, start))
    transform = trimesh.geometry.align_vectors([0, 0, 1], direction)
    transform[:3, 3] = np.add(start, end) / 2
    mesh.apply_transform(transform)
    return finish(mesh, look)


def rotation_z(degrees: float) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` about z by ``degrees``."""
    angle = np.radians(degrees)
    return np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )


def rotation_y(degrees: float) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` about y by ``degrees``."""
    angle = np.radians(degrees)
    return np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )


def rotation_x(degrees: float) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` about x by ``degrees``."""
    angle = np.radians(degrees)
    return np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )


def head_proxy() -> trimesh.Trimesh:
    """The invisible occluder: an ellipsoid inside the head, behind the face surface."""
    return ellipsoid((0.0, 0.25, -1.0), (0.92, 1.2, 1.15), material((0, 0, 0, 1)), subdivisions=3)


#: The spec of the head proxy part.
HEAD = {"role": "occluder", "note": "head proxy: hides what is behind the head"}


def dog() -> tuple[dict[str, trimesh.Trimesh], dict[str, Any]]:
    """Dog ears and nose: the parts by name and the effect spec (anchors per part)."""
    fur = material((0.47, 0.30, 0.17, 1.0), roughness=0.85)
    inner = material((0.86, 0.56, 0.56, 1.0), roughness=0.7)
    nose = material((0.05, 0.04, 0.04, 1.0), roughness=0.25)
    parts: dict[str, trimesh.Trimesh] = {}
    spec: dict[str, Any] = {}
    parts["nose"] = ellipsoid((0.0, -0.36, 0.56), (0.17, 0.115, 0.11), nose)
    spec["nose"] = {"anchor": {"landmarks": [30]}, "note": "follows the nose tip"}
    for side, sign, column in (("left", -1, 8), ("right", 1, 55)):
        # floppy: hanging beside the head, the lower end flaring out, the inside turned forward
        tilt = rotation_z(sign * 18) @ rotation_y(sign * 40)
        centre = (sign * 1.02, 0.42, -0.42)
        parts[f"{side}_ear"] = ellipsoid(centre, (0.24, 0.58, 0.08), fur, tilt)
        inner_centre = tuple(np.add(centre, tilt @ np.array([0.0, 0.02, 0.055])))
        parts[f"{side}_inner_ear"] = ellipsoid(inner_centre, (0.14, 0.42, 0.035), inner, tilt)
        anchor = {"grid": [[0, column]], "note": "outer end of the forehead grid's top row"}
        spec[f"{side}_ear"] = {"anchor": anchor}
        spec[f"{side}_inner_ear"] = {"anchor": anchor}
    parts["head"] = head_proxy()
    spec["head"] = HEAD
    return parts, {"description": "dog ears and nose", "parts": spec}


def glasses() -> tuple[dict[str, trimesh.Trimesh], dict[str, Any]]:
    """Glasses with tinted lenses: the parts by name and the effect spec."""
    frame = material((0.22, 0.07, 0.04, 1.0), roughness=0.3, metallic=0.1)
    tint = material((0.10, 0.16, 0.22, 0.35), roughness=0.05, blend=True)
    parts: dict[str, trimesh.Trimesh] = {}
    spec: dict[str, Any] = {}
    anchor = {"landmarks": [27, 28, 39, 42], "note": "nose bridge and inner eye corners"}
    rims = []
    for sign in (-1, 1):
        rim = trimesh.creation.torus(major_radius=0.215, minor_radius=0.024)
        rim.apply_scale((1.0, 0.82, 1.0))
        rim.apply_translation((sign * 0.36, -0.03, 0.34))
        rims.append(rim)
        lens = trimesh.creation.cylinder(radius=0.2, height=0.012, sections=48)
        lens.apply_scale((1.0, 0.82, 1.0))
        lens.apply_translation((sign * 0.36, -0.03, 0.34))
        side = "left" if sign < 0 else "right"
        parts[f"{side}_lens"] = finish(lens, tint)
        spec[f"{side}_lens"] = {"anchor": anchor}
        parts[f"{side}_temple"] = rod(
            (sign * 0.575, 0.0, 0.33), (sign * 0.97, 0.02, -0.85), 0.02, frame
        )
        spec[f"{side}_temple"] = {"anchor": anchor}
    rims.append(rod((-0.15, 0.03, 0.36), (0.15, 0.03, 0.36), 0.02, frame))
    parts["frame"] = finish(cast(trimesh.Trimesh, trimesh.util.concatenate(rims)), frame)
    spec["frame"] = {"anchor": anchor}
    parts["head"] = head_proxy()
    spec["head"] = HEAD
    return parts, {"description": "glasses with tinted lenses", "parts": spec}


def hat() -> tuple[dict[str, trimesh.Trimesh], dict[str, Any]]:
    """A top hat: the parts by name and the effect spec."""
    felt = material((0.07, 0.07, 0.08, 1.0), roughness=0.9)
    ribbon = material((0.65, 0.06, 0.08, 1.0), roughness=0.5)
    parts: dict[str, trimesh.Trimesh] = {}
    spec: dict[str, Any] = {}
    anchor = {"grid": [[0, 32]], "note": "top middle of the forehead"}
    tilt = rotation_x(-10)  # leaning back a little

    def placed(mesh: trimesh.Trimesh, centre: tuple[float, float, float]) -> trimesh.Trimesh:
        transform = np.eye(4)
        transform[:3, :3] = tilt @ rotation_x(-90)  # trimesh cylinders run along z: stand up
        transform[:3, 3] = centre
        mesh.apply_transform(transform)
        return mesh

    base = (0.0, 0.95, -0.9)  # middle of the brim, resting on the upper head
    brim = placed(trimesh.creation.cylinder(radius=1.0, height=0.05, sections=64), base)
    crown_centre = tuple(np.add(base, tilt @ np.array([0.0, 0.5, 0.0])))
    crown = placed(trimesh.creation.cylinder(radius=0.66, height=1.0, sections=64), crown_centre)
    band_centre = tuple(np.add(base, tilt @ np.array([0.0, 0.11, 0.0])))
    band = placed(trimesh.creation.cylinder(radius=0.675, height=0.17, sections=64), band_centre)
    parts["hat"] = finish(cast(trimesh.Trimesh, trimesh.util.concatenate([brim, crown])), felt)
    spec["hat"] = {"anchor": anchor}
    parts["band"] = finish(band, ribbon)
    spec["band"] = {"anchor": anchor}
    parts["head"] = head_proxy()
    spec["head"] = HEAD
    return parts, {"description": "a top hat", "parts": spec}


def toon() -> tuple[dict[str, trimesh.Trimesh], dict[str, Any]]:
    """Cartoon eyes whose lids close and brows move with the user's (blendshape drivers).

    Per eye (the mean face's eye centre at x ±0.36, y 0.01, z 0.07, eye width 0.28): a white
    eyeball and a pupil in front of the eye, a lid modelled open — a thin cap at the eyeball's
    top — that ``eyeBlink*`` scales down over the eyeball from its top edge, and a brow bar that
    ``browInnerUp`` and ``browOuterUp*`` raise and ``browDown*`` lowers. Every part is anchored
    to its eye's corners, which do not move with a blink, so only the drivers move lids and
    brows.
    """
    white = material((0.97, 0.97, 0.95, 1.0), roughness=0.35)
    black = material((0.03, 0.03, 0.05, 1.0), roughness=0.2)
    lid = material((0.55, 0.30, 0.75, 1.0), roughness=0.6)
    brow = material((0.20, 0.10, 0.05, 1.0), roughness=0.8)
    parts: dict[str, trimesh.Trimesh] = {}
    spec: dict[str, Any] = {}
    radius, depth, open_share = 0.17, 0.09, 0.08
    for side, sign, corners in (("Right", -1, [36, 39]), ("Left", 1, [42, 45])):
        # the subject's left eye is on the image's right: face-space x > 0
        x = sign * 0.36
        anchor = {"landmarks": corners, "note": f"the subject's {side.lower()} eye corners"}
        key = side.lower()
        parts[f"{key}_eyeball"] = ellipsoid((x, 0.01, 0.16), (radius, radius, depth), white)
        parts[f"{key}_pupil"] = ellipsoid((x, -0.01, 0.225), (0.065, 0.065, 0.03), black)
        lid_radius, lid_depth, centre_z = radius + 0.015, depth + 0.025, 0.165
        top = 0.01 + lid_radius
        thin = lid_radius * open_share
        parts[f"{key}_lid"] = ellipsoid(
            (x, top - thin, centre_z), (lid_radius, thin, lid_depth), lid
        )
        for part in ("eyeball", "pupil"):
            spec[f"{key}_{part}"] = {"anchor": anchor}
        spec[f"{key}_lid"] = {
            "anchor": anchor,
            "drivers": [{"blendshape": f"eyeBlink{side}", "scale": [1.0, 1 / open_share, 1.0],
                         "pivot": [x, top, centre_z]}],
            "note": "open: a thin cap at the top; shut: covers the eyeball",
        }  # fmt: skip
        parts[f"{key}_brow"] = rod((sign * 0.2, 0.27, 0.27), (sign * 0.56, 0.29, 0.14), 0.032, brow)
        spec[f"{key}_brow"] = {
            "anchor": anchor,
            "drivers": [
                {"blendshape": "browInnerUp", "translate": [0.0, 0.1, 0.0]},
                {"blendshape": f"browOuterUp{side}", "translate": [0.0, 0.1, 0.0]},
                {"blendshape": f"browDown{side}", "translate": [0.0, -0.1, 0.0]},
            ],
        }
    parts["head"] = head_proxy()
    spec["head"] = HEAD
    description = "cartoon eyes: their lids close and their brows move with the user's"
    return parts, {"description": description, "parts": spec}


#: Builder of each shipped effect.
MAKERS = {"dog": dog, "glasses": glasses, "hat": hat, "toon": toon}
