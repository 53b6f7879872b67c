"""Lighting effect parts per vertex on the CPU (the default ``"baked"`` shading)."""

from __future__ import annotations

from typing import Any

import numpy as np

from morph3d.ar.opengl import load_pyrender

__all__ = ["HALFWAY", "LIGHT", "BakedPart"]


#: Direction toward the key light in scene space (upper left, in front), for baked shading.
LIGHT = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])


#: Halfway between the light and the view direction (+z), for the highlight.
HALFWAY = (LIGHT + np.array([0.0, 0.0, 1.0])) / np.linalg.norm(LIGHT + np.array([0.0, 0.0, 1.0]))


class BakedPart:
    """An effect part whose lighting is computed per vertex on the CPU each frame.

    pyrender's physically based fragment shader is slow on a software OpenGL (with Mesa
    llvmpipe the colour pass took twice as long as with flat colours), so by default the colour
    of every vertex is computed here — ambient, Lambert diffuse and a Blinn-Phong highlight whose
    sharpness and strength follow the material's roughness — and drawn flat (interpolated across
    triangles).

    Args:
        mesh: ``trimesh.Trimesh`` with a PBR material (base colour, roughness, alpha mode).
    """

    def __init__(self, mesh: Any) -> None:
        material = getattr(mesh.visual, "material", None)
        factor = getattr(material, "baseColorFactor", None)
        base = np.asarray([200, 200, 200, 255] if factor is None else factor, dtype=np.float64)
        base = base / (255.0 if base.max() > 1 else 1.0)
        self.color = base[:3]
        self.alpha = float(base[3])
        self.roughness = float(getattr(material, "roughnessFactor", None) or 0.6)
        self.positions = np.asarray(mesh.vertices, dtype=np.float32)
        self.normals = np.asarray(mesh.vertex_normals, dtype=np.float64)
        self.indices = np.asarray(mesh.faces, dtype=np.uint32)
        pyrender = load_pyrender()
        self.material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(1.0, 1.0, 1.0, self.alpha),
            alphaMode="BLEND" if self.alpha < 1 else "OPAQUE",
        )
        self._lit: tuple[np.ndarray, Any] | None = None

    #: Turn (degrees) after which a part is lit again.
    RELIGHT_DEGREES = 2.0

    def colors(self, rotation: np.ndarray) -> np.ndarray:
        """``(N, 4)`` lit vertex colours for a part turned by ``rotation`` (scene space)."""
        normals = self.normals @ rotation.T
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        diffuse = np.clip(normals @ LIGHT, 0.0, None)
        shininess = min(2.0 / max(self.roughness, 0.05) ** 4, 512.0)
        highlight = (1.0 - self.roughness) * np.clip(normals @ HALFWAY, 0.0, None) ** shininess
        rgb = self.color * (0.45 + 0.75 * diffuse[:, None]) + 0.6 * highlight[:, None]
        # alpha lives in the material (which makes pyrender blend); the shader multiplies both
        return np.concatenate([np.clip(rgb, 0, 1), np.ones((len(rgb), 1))], axis=1)

    def mesh(self, pose: np.ndarray) -> Any:
        """A pyrender mesh lit for ``pose`` (its rotation; the pose itself goes on the node).

        The last mesh is reused while the part has turned by less than :attr:`RELIGHT_DEGREES`
        since it was lit (lighting barely changes; uploading a new mesh costs every frame).
        """
        linear = pose[:3, :3]
        rotation = linear / np.cbrt(max(abs(np.linalg.det(linear)), 1e-300))
        if self._lit is not None:
            lit_rotation, lit_mesh = self._lit
            cosine = (np.trace(lit_rotation.T @ rotation) - 1.0) / 2.0
            if cosine > np.cos(np.radians(self.RELIGHT_DEGREES)):
                return lit_mesh
        pyrender = load_pyrender()
        primitive = pyrender.Primitive(
            positions=self.positions,
            color_0=self.colors(rotation).astype(np.float32),
            indices=self.indices,
            material=self.material,
        )
        mesh = pyrender.Mesh([primitive])
        self._lit = (rotation, mesh)
        return mesh
