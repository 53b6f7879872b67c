"""Mirroring a face's parameters: the parameters of the same face seen in a mirrored crop.

A crop flipped left to right shows the mirror image of the face. Its vertices are the original
ones with x reflected in the crop (``x -> 121 - x`` in the 1-based crop frame, as the training
augmentation flips) and left and right swapped (vertex ``k`` of the mirror image is vertex
``perm[k]`` of the face: the grid read right to left, the landmarks by
:data:`~morph3d.core.landmarks68.MIRROR`).

The pose maps exactly: with ``D = diag(-1, 1, 1)``, ``s*R -> D (s*R) D`` about the model's
mirror plane. The coefficients map through the affine least-squares map ``c -> A c + b`` that
best reproduces the mirrored shape inside the model's span (the bases are close to closed under
mirroring; :attr:`ParamMirror.residual` says how close).

Uses: averaging a network's prediction with its prediction on the flipped crop (a test-time
ensemble, :class:`morph3d.inference.flip.FlipAveraged`), and checks of left/right symmetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from morph3d.core.crop import CROP_SIZE
from morph3d.core.landmarks68 import MIRROR
from morph3d.core.model import MorphableModel

__all__ = ["ParamMirror", "vertex_mirror"]

#: x -> -x, the reflection of the model frame and of the crop frame.
_FLIP = np.diag([-1.0, 1.0, 1.0])


def vertex_mirror(model: MorphableModel) -> np.ndarray:
    """``(N,)`` vertex permutation of the mirror image: vertex ``k`` of the mirrored face is
    vertex ``perm[k]`` of the face (the grid's columns reversed, the landmark rows by
    :data:`~morph3d.core.landmarks68.MIRROR`).

    Raises:
        ValueError: the model has no grid (its vertices have no known left/right pairing).
    """
    if model.grid.size == 0:
        raise ValueError("the model has no vertex grid: its mirror pairing is unknown")
    perm = np.arange(model.n_vertices)
    perm[model.grid.reshape(-1)] = model.grid[:, ::-1].reshape(-1)
    perm[model.landmark_indices] = model.landmark_indices[MIRROR]
    return perm


@dataclass(frozen=True, eq=False)
class ParamMirror:
    """The parameters of a face's mirror image, for one morphable model.

    Args:
        model: The morphable model (with a vertex grid).
    """

    model: MorphableModel

    @cached_property
    def _plane(self) -> float:
        """x of the model's mirror plane: the mean x of the mean shape's surface."""
        return float(self.model.mean[: self.model.n_surface, 0].mean())

    @cached_property
    def _map(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(A, b, residual)``: coefficients ``A c + b`` of the mirrored shape, and the RMS
        of what the bases cannot express as a share of their RMS motion.

        Solved over every vertex, landmark rows included (they carry the landmark model's own
        bases), in whitened coordinates (one standard deviation of each coefficient is one
        unit) with a small ridge, so that a component the vertices hardly see stays put instead
        of being amplified.
        """
        model = self.model
        perm = vertex_mirror(model)
        layout = model.layout
        std = np.ones(model.basis.shape[1])
        if layout.std is not None:
            std = np.asarray(layout.std, dtype=np.float64)[layout.coefficients]
        basis = model.basis.astype(np.float64).reshape(model.n_vertices, 3, -1) * std
        mean = model.mean.astype(np.float64)
        # Mirrored in model space: x about the plane, then left and right swapped.
        mirrored_mean = mean[perm] @ _FLIP
        mirrored_mean[:, 0] += 2 * self._plane
        mirrored = np.einsum("ij,njk->nik", _FLIP, basis[perm]).reshape(-1, basis.shape[2])
        flat = basis.reshape(-1, basis.shape[2])
        gram = flat.T @ flat
        ridge = 1e-6 * np.trace(gram) / len(gram) * np.eye(len(gram))
        moved = np.column_stack([mirrored, (mirrored_mean - mean).reshape(-1)])
        solved = np.linalg.solve(gram + ridge, flat.T @ moved)  # whitened
        matrix, offset = solved[:, :-1], solved[:, -1]
        residual = float(np.linalg.norm(mirrored - flat @ matrix) / np.linalg.norm(flat))
        return std[:, None] * matrix / std[None, :], std * offset, residual

    @property
    def residual(self) -> float:
        """How far the bases are from closed under mirroring: the relative RMS of the part
        of the mirrored bases outside their span (0: exactly closed)."""
        return self._map[2]

    @cached_property
    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """``(M, b)``: the whole map as one affine map of the raw parameters, ``p -> M p + b``
        (``(P, P)`` and ``(P,)`` float64; the pose maps linearly too)."""
        size = self.model.layout.size
        offset = self._mirror(np.zeros(size))
        matrix = self._mirror(np.eye(size)) - offset  # row i: the image of e_i
        return np.ascontiguousarray(matrix.T), offset

    def __call__(self, params: np.ndarray) -> np.ndarray:
        """The raw parameters of the mirror image, in the mirrored crop's frame.

        Args:
            params: ``(..., 62)`` raw parameters in a 120x120 crop frame.

        Returns:
            ``(..., 62)`` float64 raw parameters of the face seen in the crop flipped left to
            right (``crop[:, ::-1]``).
        """
        params = np.asarray(params, dtype=np.float64)
        if params.shape[-1] != self.model.layout.size:
            raise ValueError(
                f"expected {self.model.layout.size} parameters, got shape {params.shape}"
            )
        matrix, offset = self.affine
        mirrored: np.ndarray = params @ matrix.T + offset
        return mirrored

    def _mirror(self, params: np.ndarray) -> np.ndarray:
        """The map itself, term by term: the pose about the mirror plane, the coefficients
        through the least-squares map (what :attr:`affine` is made of)."""
        layout = self.model.layout
        params = np.asarray(params, dtype=np.float64)
        matrix, offset, _ = self._map
        pose = layout.pose_matrix(params)  # (..., 3, 4)
        turned = _FLIP @ pose[..., :3] @ _FLIP
        # V' = D V(perm) + 121 e_x with V = P S + t and S(perm) = D (S' - 2 c e_x).
        shift = _FLIP @ pose[..., 3:] - 2 * self._plane * turned[..., :, :1]
        shift[..., 0, 0] += CROP_SIZE + 1
        out = np.empty_like(params)
        out[..., layout.pose] = np.concatenate([turned, shift], axis=-1).reshape(
            *params.shape[:-1], layout.n_pose
        )
        out[..., layout.coefficients] = params[..., layout.coefficients] @ matrix.T + offset
        return out
