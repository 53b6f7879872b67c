"""Head pose: scale, rotation and translation of the 3x4 pose matrix, and Euler angles.

Frame: the 120x120 crop frame of the model, x to the right, y **up**, z toward the viewer
(right-handed).

Angles, in degrees, are ordered ``(yaw, pitch, roll)`` and compose as

    R = Rz(roll) @ Ry(yaw) @ Rx(pitch)

so a positive yaw turns the nose toward +x (the viewer's right, the subject's left), a positive
pitch tilts the nose down (toward -y), and a positive roll turns the face counter-clockwise as the
viewer sees it in the y-up frame (clockwise in an image whose y points down). ``|yaw|`` is what the
AFLW2000-3D yaw bins use.

All functions work on numpy arrays with any number of leading batch dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Pose",
    "angles_to_rotation",
    "compose_pose",
    "decompose_pose",
    "image_tilt",
    "rotation_to_angles",
    "turned_by",
    "yaw_degrees",
]


@dataclass(frozen=True)
class Pose:
    """A weak-perspective pose ``P = [scale * rotation | translation]``.

    Attributes:
        scale: ``(...)`` positive scale.
        rotation: ``(..., 3, 3)`` rotation matrices (orthonormal, determinant +1).
        translation: ``(..., 3)`` translation in the crop frame.
    """

    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    @property
    def angles(self) -> np.ndarray:
        """``(..., 3)`` yaw, pitch, roll in degrees (see the module docstring)."""
        return rotation_to_angles(self.rotation)

    @property
    def matrix(self) -> np.ndarray:
        """``(..., 3, 4)`` the pose matrix ``[scale * rotation | translation]``."""
        return compose_pose(self.scale, self.rotation, self.translation)


def angles_to_rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices from Euler angles.

    Args:
        angles: ``(..., 3)`` yaw, pitch, roll in degrees.

    Returns:
        ``(..., 3, 3)`` ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1] != 3:
        raise ValueError(f"angles must end with 3 entries (yaw, pitch, roll), got {angles.shape}")
    yaw, pitch, roll = np.moveaxis(np.deg2rad(angles), -1, 0)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    # Rz @ Ry @ Rx written out.
    rows = [
        [cr * cy, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def rotation_to_angles(rotation: np.ndarray) -> np.ndarray:
    """Euler angles of rotation matrices, the inverse of :func:`angles_to_rotation`.

    Yaw is returned in [-90, 90]. At yaw = +-90 (gimbal lock) roll is set to 0 and the whole
    in-plane part is given to pitch.

    Args:
        rotation: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 3)`` yaw, pitch, roll in degrees.
    """
    r = np.asarray(rotation, dtype=np.float64)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"rotation must end with (3, 3), got {r.shape}")
    yaw = np.arcsin(np.clip(-r[..., 2, 0], -1.0, 1.0))
    cos_yaw = np.sqrt(r[..., 2, 1] ** 2 + r[..., 2, 2] ** 2)
    locked = cos_yaw < 1e-6
    pitch = np.where(
        locked, np.arctan2(-r[..., 1, 2], r[..., 1, 1]), np.arctan2(r[..., 2, 1], r[..., 2, 2])
    )
    roll = np.where(locked, 0.0, np.arctan2(r[..., 1, 0], r[..., 0, 0]))
    return np.rad2deg(np.stack([yaw, pitch, roll], axis=-1))


def compose_pose(scale: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Build ``(..., 3, 4)`` pose matrices ``[scale * rotation | translation]``.

    Args:
        scale: ``(...)`` scales.
        rotation: ``(..., 3, 3)`` rotations.
        translation: ``(..., 3)`` translations.
    """
    scale = np.asarray(scale, dtype=np.float64)
    rotation = np.asarray(rotation, dtype=np.float64)
    translation = np.asarray(translation, dtype=np.float64)
    return np.concatenate([scale[..., None, None] * rotation, translation[..., :, None]], axis=-1)


def decompose_pose(matrix: np.ndarray) -> Pose:
    """Split pose matrices into scale, rotation and translation.

    A network or a fit may give a 3x4 matrix whose 3x3 part is not exactly a scaled rotation.
    Only the first two rows decide where points land in the image, so the rotation is taken from
    them: their nearest pair of orthonormal rows (the polar factor of the 2x3 block, from its SVD)
    gives ``r1, r2``, the third row is ``r1 x r2``, and the scale is the mean of the block's two
    singular values.

    Args:
        matrix: ``(..., 3, 4)`` or ``(..., 12)`` pose matrices (row-major).

    Returns:
        The :class:`Pose`.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape[-1] == 12:
        m = m.reshape(*m.shape[:-1], 3, 4)
    if m.shape[-2:] != (3, 4):
        raise ValueError(f"pose matrix must end with (3, 4) or (12,), got {m.shape}")
    block = m[..., :2, :3]  # (..., 2, 3)
    u, s, vt = np.linalg.svd(block, full_matrices=False)
    rows = u @ vt  # (..., 2, 3), orthonormal rows
    x, y = rows[..., 0, :], rows[..., 1, :]
    third = _cross(x, y)
    rotation = np.concatenate([rows, third[..., None, :]], axis=-2)
    return Pose(scale=s.mean(axis=-1), rotation=rotation, translation=m[..., :, 3].copy())


def _cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x`` cross ``y`` over the last axis, written out (np.cross costs twice as much on one
    pose)."""
    return x[..., [1, 2, 0]] * y[..., [2, 0, 1]] - x[..., [2, 0, 1]] * y[..., [1, 2, 0]]


def image_tilt(matrix: np.ndarray) -> np.ndarray:
    """How far the head leans in the picture: the angle (degrees, counterclockwise as seen)
    from the crop's up direction to the head's up axis (the model's y axis) projected into
    the crop. Unlike the Euler roll it stays meaningful at any yaw.

    Args:
        matrix: ``(..., 3, 4)`` or ``(..., 12)`` pose matrices in a crop frame (y up).

    Returns:
        ``(...)`` angles in (-180, 180].
    """
    pose = np.asarray(matrix, dtype=np.float64)
    pose = pose.reshape(*pose.shape[:-1], 3, 4) if pose.shape[-1] == 12 else pose
    up = pose[..., :2, 1]  # the model's y axis in the crop frame (x right, y up)
    return np.degrees(np.arctan2(-up[..., 0], up[..., 1]))


def yaw_degrees(matrix: np.ndarray) -> np.ndarray:
    """The yaw of pose matrices in degrees, as :func:`decompose_pose` gives it, without its SVD.

    The rotation's third row is the cross product of the polar factor's two rows, which is the
    cross product of the block's own two rows scaled to unit length (the rows of ``U V^T`` and
    of ``U S V^T`` span one plane, with the same orientation); its first entry gives the yaw.

    Args:
        matrix: ``(..., 3, 4)`` or ``(..., 12)`` pose matrices.

    Returns:
        ``(...)`` yaw in [-90, 90] (0 for a degenerate block).
    """
    m = np.asarray(matrix, dtype=np.float64)
    m = m.reshape(*m.shape[:-1], 3, 4) if m.shape[-1] == 12 else m
    if m.shape[-2:] != (3, 4):
        raise ValueError(f"pose matrix must end with (3, 4) or (12,), got {m.shape}")
    normal = _cross(m[..., 0, :3], m[..., 1, :3])
    length = np.sqrt(np.einsum("...i,...i->...", normal, normal))
    sine = -normal[..., 0] / np.where(length > 0, length, 1.0)
    return np.rad2deg(np.arcsin(np.clip(sine, -1.0, 1.0)))


def turned_by(matrix: np.ndarray, degrees: float) -> np.ndarray:
    """Whether each pose is turned by at least ``degrees`` of |yaw| (the measure of the
    AFLW2000-3D yaw bins).

    Args:
        matrix: ``(..., 3, 4)`` or ``(..., 12)`` pose matrices.
        degrees: The |yaw| threshold.

    Returns:
        ``(...)`` booleans.
    """
    return np.abs(yaw_degrees(matrix)) >= degrees
