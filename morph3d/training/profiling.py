"""3D face profiling: large-pose training views synthesised from fitted faces.

After Zhu et al., "Face Alignment Across Large Poses: A 3D Solution" (CVPR 2016), whose 300W-LP
was made this way. For each fitted face of a targets file (:mod:`morph3d.training.targets`):

1. **Mesh of the whole picture.** The fitted face's visible grid vertices (z-buffered, so the
   side of the nose hidden in the photo is left out) keep their fitted depth. Background anchors
   surround them: rings made by enlarging the face's 2D outline (its convex hull) about the face
   centre, a fixed frame on the stored image's edge and one on that edge enlarged by
   :attr:`ProfileConfig.border` (its colour repeats the edge's). The
   mesh is the 2D Delaunay triangulation of all these points in the source picture, a height
   field: every point of the picture has one depth, and its texture is the source pixel under it.
2. **Rotation.** The face's vertices turn rigidly by a rotation ``Q`` (yaw, then pitch) about a
   head centre: the model point :attr:`ProfileConfig.centre` (behind the cheeks, on the face's
   middle line), posed with the face. A ring anchor ``k`` at source position ``a`` moves to
   ``w_k Q (a - c) + c + (1 - w_k) a`` with weights falling from 1 next to the face (hair, ears
   and neck turn with the head) to 0 on the border (the far picture stays), and takes a depth
   that falls from the outline's to behind the head, so the turned face covers it.
3. **Rendering.** Weak perspective (drop z, as the model projects). Each output pixel takes the
   source pixel that the nearest triangle over it maps back to (:func:`rasterize`, vectorised,
   z-buffered; one ``cv2.remap``). Where the turned head uncovers what the photo never showed
   (the side of the head behind the near cheek), the pixels are **stretched** from the band just
   outside the face outline in the source: filled, not masked. Where the view's box reaches past
   the stored image, the edge's pixels are repeated.
4. **Exact targets.** The view's parameters are the source's with the pose ``[s R | t]``
   replaced by ``[s Q R | Q (t - c) + c]``: decoding them gives exactly the turned face. The
   view's crop box is :func:`~morph3d.core.crop.crop_box_from_landmarks` of its marched
   landmarks (:func:`~morph3d.core.marching.march_landmarks`, the jaw on the new silhouette),
   and the parameters are re-expressed in that box's crop frame; its ``annotation`` is those
   marched landmarks (exact by construction, not a person's clicks).

Views are named ``<face>@<view>`` (:data:`morph3d.io.datasets.VIEW_SEPARATOR`), so that
:func:`morph3d.io.datasets.split_indices` puts them with their face; ``view_of`` gives the index
of their face, ``synthetic`` marks them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import ConvexHull, Delaunay

from morph3d.core.crop import (
    CROP_SIZE,
    crop_box_from_landmarks,
    crop_to_image,
    params_to_crop,
    params_to_image,
    scale_box,
)
from morph3d.core.marching import ContourLines, contour_lines, march_landmarks
from morph3d.core.mesh import vertex_normals
from morph3d.core.model import MorphableModel
from morph3d.core.pose import angles_to_rotation, decompose_pose
from morph3d.io.datasets import VIEW_SEPARATOR
from morph3d.progress import Progress, no_progress
from morph3d.training.targets import STORED_SIZE, Targets

__all__ = [
    "FaceMesh",
    "ProfileConfig",
    "View",
    "face_mesh",
    "motion_pair",
    "profile_face",
    "profile_targets",
    "rasterize",
    "rasterize_torch",
    "render_view",
    "rotate_params",
    "turn_rotation",
    "view_angles",
]

logger = logging.getLogger(__name__)

#: Stored pixel of crop-frame ``(x, y)``: ``(x - 1 + m, CROP_SIZE - y + m)``, ``m`` the margin.
_MARGIN = (STORED_SIZE - CROP_SIZE) / 2


@dataclass(frozen=True)
class ProfileConfig:
    """Settings of face profiling.

    Attributes:
        yaw_step: Spacing in degrees of the lattice of target yaws (..., -15, 0, 15, ...).
        max_yaw: Largest target ``|yaw|`` in degrees.
        turn_back: A face at yaw ``y0`` turns toward its hidden side (to a yaw of the other
            sign than ``y0``, or toward frontal) by at most ``max(yaw_step, turn_back - 2|y0|)``
            degrees, so that little of what the photo hid comes into view; it turns further
            away from frontal as far as ``max_yaw``.
        min_views: Views per face at least: faces with fewer allowed yaws repeat the largest
            ones with another pitch.
        max_views: Views per face at most (0: every allowed yaw): a random draw of the allowed
            turns, for many source faces at a few views each.
        pitch: Each view also tilts by a pitch drawn uniformly in +- this many degrees.
        centre: Rotation centre in model units (x, y, z): behind the cheeks on the face's
            middle line.
        rings: Scales of the anchor rings (the face outline enlarged about its centre).
        ring_weights: How much each ring turns with the head (1: rigidly, 0: not at all).
        ring_depths: Each ring's depth, from the outline's (1) to the plane behind the head (0).
        ring_points: Anchors per ring.
        border: Side of the outer fixed frame over the stored image's side.
        border_points: Anchors per side of each fixed frame.
        seed: Seed of the pitch draws (with the face index: reproducible per face).
        device: Where the rasterisation runs: ``"numpy"`` or a torch device such as
            ``"cuda"`` or ``"cpu"`` (:func:`rasterize_torch`; the same pixels).
    """

    yaw_step: float = 15.0
    max_yaw: float = 90.0
    turn_back: float = 90.0
    min_views: int = 10
    max_views: int = 0
    pitch: float = 15.0
    centre: tuple[float, float, float] = (0.0, -15_000.0, -20_000.0)
    rings: tuple[float, ...] = (1.12, 1.3, 1.6, 2.0)
    ring_weights: tuple[float, ...] = (1.0, 0.8, 0.45, 0.15)
    ring_depths: tuple[float, ...] = (1.0, 0.7, 0.3, 0.0)
    ring_points: int = 48
    border: float = 1.5
    border_points: int = 12
    seed: int = 0
    device: str = "numpy"


@dataclass(frozen=True)
class FaceMesh:
    """The mesh of a stored picture (crop frame of the source face, y up).

    Attributes:
        points: ``(N, 3)`` source positions and depths; the first ``n_face`` are face vertices.
        texture: ``(N, 2)`` where each point takes its colour: source stored-image pixels
            (column, row), the outer frame's clamped onto the stored image's edge.
        weights: ``(N,)`` how much each point turns with the head (1 for the face).
        back_depth: Depth the background falls to (the plane behind the head).
        triangles: ``(F, 3)`` Delaunay triangles of ``points[:, :2]``.
        n_face: Number of face vertices at the front of ``points``.
    """

    points: np.ndarray
    texture: np.ndarray
    weights: np.ndarray
    back_depth: float
    triangles: np.ndarray
    n_face: int


@dataclass(frozen=True)
class View:
    """One rendered view: its stored image, boxes and exact parameters (new crop frame)."""

    image: np.ndarray
    image_box: np.ndarray
    crop_box: np.ndarray
    params: np.ndarray
    rotation: np.ndarray


def rasterize(
    points: np.ndarray, triangles: np.ndarray, size: tuple[int, int], device: str = "numpy"
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered rasterisation of triangles at pixel centres, vectorised over triangles.

    Both windings are drawn (no culling): the nearest surface wins; of equally near ones, the
    first triangle.

    Args:
        points: ``(N, 3)`` vertices in output pixels ``(column, row)`` with depth toward the
            viewer (larger is nearer).
        triangles: ``(F, 3)`` vertex indices.
        size: ``(height, width)`` of the output.
        device: ``"numpy"``, or a torch device (``"cuda"``, ``"cpu"``) for
            :func:`rasterize_torch`.

    Returns:
        ``(H, W)`` int64 index of the triangle seen at each pixel (-1: none) and ``(H, W, 3)``
        float64 barycentric weights of its three vertices there.
    """
    if device != "numpy":
        return rasterize_torch(points, triangles, size, device)
    height, width = size
    corners = points[triangles]  # (F, 3, 3)
    low = np.ceil(corners[..., :2].min(axis=1)).astype(np.int64)
    high = np.floor(corners[..., :2].max(axis=1)).astype(np.int64)
    low = np.maximum(low, 0)
    high = np.minimum(high, [width - 1, height - 1])
    span = np.maximum(high - low + 1, 0)  # (F, 2)
    a, b, c = corners[:, 0, :2], corners[:, 1, :2], corners[:, 2, :2]
    determinant = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (
        b[:, 1] - a[:, 1]
    )
    counts = np.where(np.abs(determinant) > 1e-12, span[:, 0] * span[:, 1], 0)
    index = np.full((height, width), -1, dtype=np.int64)
    weights = np.zeros((height, width, 3))
    total = int(counts.sum())
    if total == 0:
        return index, weights
    face = np.repeat(np.arange(len(triangles)), counts)
    local = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    columns = low[face, 0] + local % span[face, 0]
    rows = low[face, 1] + local // span[face, 0]
    dx = columns - a[face, 0]
    dy = rows - a[face, 1]
    inverse = 1.0 / determinant[face]
    w1 = (dx * (c[face, 1] - a[face, 1]) - dy * (c[face, 0] - a[face, 0])) * inverse
    w2 = (dy * (b[face, 0] - a[face, 0]) - dx * (b[face, 1] - a[face, 1])) * inverse
    w0 = 1.0 - w1 - w2
    eps = -1e-9
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    face, rows, columns = face[inside], rows[inside], columns[inside]
    w = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    depth = np.einsum("kj,kj->k", w, corners[face, :, 2])
    pixel = rows * width + columns
    order = np.lexsort((-depth, pixel))
    first = order[np.r_[True, pixel[order][1:] != pixel[order][:-1]]]
    index.reshape(-1)[pixel[first]] = face[first]
    weights.reshape(-1, 3)[pixel[first]] = w[first]
    return index, weights


def rasterize_torch(
    points: np.ndarray, triangles: np.ndarray, size: tuple[int, int], device: str = "cuda"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rasterize` in torch on ``device`` (float64, the same pixels and weights).

    The candidate pixels of every triangle's box are enumerated at once; per pixel the largest
    depth wins (``scatter_reduce`` ``amax``) and, among equal depths, the first triangle
    (``amin`` of the candidates' order).
    """
    import torch

    height, width = size
    corners = torch.as_tensor(np.asarray(points, dtype=np.float64), device=device)[
        torch.as_tensor(np.asarray(triangles, dtype=np.int64), device=device)
    ]  # (F, 3, 3)
    low = torch.ceil(corners[..., :2].amin(dim=1)).long().clamp(min=0)
    high = torch.floor(corners[..., :2].amax(dim=1)).long()
    high = torch.minimum(high, torch.tensor([width - 1, height - 1], device=device))
    span = (high - low + 1).clamp(min=0)
    a, b, c = corners[:, 0, :2], corners[:, 1, :2], corners[:, 2, :2]
    determinant = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (
        b[:, 1] - a[:, 1]
    )
    counts = torch.where(determinant.abs() > 1e-12, span[:, 0] * span[:, 1], 0)
    index = np.full((height, width), -1, dtype=np.int64)
    weights = np.zeros((height, width, 3))
    total = int(counts.sum())
    if total == 0:
        return index, weights
    face = torch.repeat_interleave(torch.arange(len(corners), device=device), counts)
    starts = torch.cumsum(counts, 0) - counts
    local = torch.arange(total, device=device) - torch.repeat_interleave(starts, counts)
    columns = low[face, 0] + local % span[face, 0]
    rows = low[face, 1] + local // span[face, 0]
    dx, dy = columns - a[face, 0], rows - a[face, 1]
    inverse = 1.0 / determinant[face]
    w1 = (dx * (c[face, 1] - a[face, 1]) - dy * (c[face, 0] - a[face, 0])) * inverse
    w2 = (dy * (b[face, 0] - a[face, 0]) - dx * (b[face, 1] - a[face, 1])) * inverse
    w0 = 1.0 - w1 - w2
    inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
    face, rows, columns = face[inside], rows[inside], columns[inside]
    w = torch.stack([w0[inside], w1[inside], w2[inside]], dim=1)
    depth = (w * corners[face, :, 2]).sum(dim=1)
    pixel = rows * width + columns
    best = torch.full((height * width,), -torch.inf, dtype=depth.dtype, device=device)
    best = best.scatter_reduce(0, pixel, depth, "amax")
    order = torch.arange(len(pixel), device=device)
    nearest = torch.where(depth == best[pixel], order, len(pixel))
    first = torch.full((height * width,), len(pixel), dtype=torch.long, device=device)
    first = first.scatter_reduce(0, pixel, nearest, "amin")
    first = first[first < len(pixel)]
    index.reshape(-1)[pixel[first].cpu().numpy()] = face[first].cpu().numpy()
    weights.reshape(-1, 3)[pixel[first].cpu().numpy()] = w[first].cpu().numpy()
    return index, weights


def _to_stored(points: np.ndarray) -> np.ndarray:
    """Crop-frame ``(..., 3)`` points to stored-image pixels (column, row, depth)."""
    out = np.array(points, dtype=np.float64)
    out[..., 0] = points[..., 0] - 1 + _MARGIN
    out[..., 1] = CROP_SIZE - points[..., 1] + _MARGIN
    return out


def _resample(polygon: np.ndarray, count: int) -> np.ndarray:
    """``count`` points evenly spaced along a closed ``(M, 2)`` polygon."""
    closed = np.vstack([polygon, polygon[:1]])
    lengths = np.r_[0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    at = np.linspace(0, lengths[-1], count, endpoint=False)
    return np.stack([np.interp(at, lengths, closed[:, k]) for k in range(2)], axis=1)


def _square(count: int) -> np.ndarray:
    """``(4 count, 2)`` points around the square ``[-1, 1]^2``, ``count`` per side."""
    side = np.linspace(-1.0, 1.0, count, endpoint=False)
    ones = np.ones(count)
    return np.concatenate(
        [
            np.column_stack([side, -ones]),
            np.column_stack([ones, side]),
            np.column_stack([-side, ones]),
            np.column_stack([-ones, -side]),
        ]
    )


def face_mesh(
    model: MorphableModel, params: np.ndarray, config: ProfileConfig | None = None
) -> FaceMesh:
    """Build the mesh of a stored picture around its fitted face (see the module docstring).

    Args:
        model: The morphable model (with a grid).
        params: ``(62,)`` fitted raw parameters in the face's crop frame.
        config: Profiling settings.

    Returns:
        The mesh, in the face's crop frame.
    """
    config = config or ProfileConfig()
    vertices = model.decode(np.asarray(params, dtype=np.float64))  # (N, 3)
    grid = model.grid.reshape(-1)
    stored = _to_stored(vertices)
    index, weights = rasterize(stored, model.triangles, (STORED_SIZE, STORED_SIZE), config.device)
    normals = vertex_normals(vertices, model.triangles)
    visible = normals[grid, 2] > 0
    column = np.clip(np.round(stored[grid, 0]).astype(np.int64), 0, STORED_SIZE - 1)
    row = np.clip(np.round(stored[grid, 1]).astype(np.int64), 0, STORED_SIZE - 1)
    seen = index[row, column]
    depth = np.einsum("kj,kj->k", weights[row, column], stored[model.triangles[seen], 2])
    # A vertex hidden behind the nose lies well below the surface seen at its pixel.
    tolerance = 1.0
    visible &= (seen < 0) | (stored[grid, 2] >= depth - tolerance)
    face = vertices[grid[visible]]  # (n, 3)

    hull = face[ConvexHull(face[:, :2]).vertices]
    centre = (face[:, :2].min(axis=0) + face[:, :2].max(axis=0)) / 2
    outline = _resample(hull[:, :2], config.ring_points)
    # Depth of the outline at each resampled point: that of the nearest hull vertex.
    nearest = np.argmin(np.linalg.norm(outline[:, None] - hull[None, :, :2], axis=2), axis=1)
    outline_depth = hull[nearest, 2]
    head_centre = _head_centre(model, params, config)
    back_depth = float(head_centre[2] - (vertices[:, 2].max() - head_centre[2]))
    anchors, anchor_weights = [], []
    for scale, weight, depth_share in zip(
        config.rings, config.ring_weights, config.ring_depths, strict=True
    ):
        ring = centre + (outline - centre) * scale
        z = depth_share * outline_depth + (1 - depth_share) * back_depth
        anchors.append(np.column_stack([ring, z]))
        anchor_weights.append(np.full(len(ring), weight))
    middle = np.full(2, (CROP_SIZE + 1) / 2)  # the stored image's centre, crop frame
    half = STORED_SIZE / 2
    rings = np.concatenate(anchors)
    inside = np.all(np.abs(rings[:, :2] - middle) < half - 1, axis=1)
    rings, ring_weights = rings[inside], np.concatenate(anchor_weights)[inside]
    # Two fixed frames: the stored image's edge, and the edge enlarged by ``border`` whose
    # texture repeats the edge's pixels (the output box may reach past the stored image).
    edge = _square(config.border_points) * (half - 0.5) + middle
    outer = _square(config.border_points) * half * config.border + middle
    frame = np.concatenate([edge, outer])
    points = np.concatenate(
        [face, rings, np.column_stack([frame, np.full(len(frame), back_depth)])]
    )
    weights = np.concatenate([np.ones(len(face)), ring_weights, np.zeros(len(frame))])
    texture = _to_stored(
        np.concatenate(
            [face, rings, np.column_stack([np.concatenate([edge, edge]), np.zeros(len(frame))])]
        )
    )[:, :2]
    triangles = Delaunay(points[:, :2]).simplices.astype(np.int64)
    return FaceMesh(
        points=points,
        texture=texture,
        weights=weights,
        back_depth=back_depth,
        triangles=triangles,
        n_face=len(face),
    )


def _head_centre(model: MorphableModel, params: np.ndarray, config: ProfileConfig) -> np.ndarray:
    """``(3,)`` the rotation centre posed with the face (crop frame)."""
    pose = model.layout.pose_matrix(np.asarray(params, dtype=np.float64))
    return pose[:, :3] @ np.asarray(config.centre, dtype=np.float64) + pose[:, 3]


def rotate_params(
    model: MorphableModel,
    params: np.ndarray,
    crop_box: np.ndarray,
    rotation: np.ndarray,
    centre: np.ndarray,
    lines: ContourLines | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact parameters of a face turned by ``rotation`` about ``centre``.

    Decoding the result in the returned crop box gives ``Q (V - c) + c`` for the vertices ``V``
    of ``params`` (both mapped to image pixels through their boxes).

    Args:
        model: The morphable model.
        params: ``(62,)`` raw parameters in the crop frame of ``crop_box``.
        crop_box: ``(4,)`` the face's crop box in image pixels.
        rotation: ``(3, 3)`` rotation ``Q`` in the crop frame (y up, z toward the viewer).
        centre: ``(3,)`` the rotation centre ``c`` in that crop frame.
        lines: The model's contour lines (computed when not given).

    Returns:
        ``(62,)`` parameters in the new crop frame, and the new ``(4,)`` crop box
        (:func:`~morph3d.core.crop.crop_box_from_landmarks` of the marched landmarks).
    """
    turned = np.array(params, dtype=np.float64)
    pose = model.layout.pose_matrix(turned)
    new_pose = np.concatenate(
        [rotation @ pose[:, :3], (rotation @ (pose[:, 3] - centre) + centre)[:, None]], axis=1
    )
    turned[model.layout.pose] = new_pose.reshape(-1)
    marched = march_landmarks(model, turned[None], lines)[0]
    box = crop_box_from_landmarks(crop_to_image(marched[:, :2], crop_box))
    moved = params_to_crop(params_to_image(turned, crop_box), box)
    return moved, np.asarray(box, dtype=np.float64)


def render_view(
    stored: np.ndarray,
    mesh: FaceMesh,
    crop_box: np.ndarray,
    new_crop_box: np.ndarray,
    rotation: np.ndarray,
    centre: np.ndarray,
    device: str = "numpy",
) -> np.ndarray:
    """Render the turned picture over twice the new crop box.

    Args:
        stored: ``(240, 240, 3)`` source image over twice ``crop_box``.
        mesh: The source picture's mesh (:func:`face_mesh`).
        crop_box: ``(4,)`` the source crop box in image pixels.
        new_crop_box: ``(4,)`` the view's crop box in image pixels.
        rotation: ``(3, 3)`` the rotation ``Q`` (crop frame).
        centre: ``(3,)`` the rotation centre (crop frame).
        device: Where :func:`rasterize` runs.

    Returns:
        ``(240, 240, 3)`` the view's stored image, covering ``scale_box(new_crop_box, 2)``.
    """
    points = mesh.points
    rigid = (points - centre) @ rotation.T + centre
    weight = mesh.weights[:, None]
    moved = weight * rigid + (1 - weight) * points
    # Output stored pixels: through image pixels into the new box's stored image.
    image = crop_to_image(moved, crop_box)
    wide = scale_box(np.asarray(new_crop_box, dtype=np.float64), STORED_SIZE / CROP_SIZE)
    factor = STORED_SIZE / (wide[2] - wide[0])
    target = np.column_stack([(image[:, :2] - wide[:2]) * factor, image[:, 2] * factor])
    index, weights = rasterize(target, mesh.triangles, (STORED_SIZE, STORED_SIZE), device)
    source = mesh.texture
    covered = index >= 0
    maps = np.einsum("hwk,hwkj->hwj", weights, source[mesh.triangles[np.maximum(index, 0)]])
    maps = maps.astype(np.float32)
    # Uncovered pixels (none while the border ring frames the output) are mirrored in.
    maps[~covered] = -1.0
    return cv2.remap(
        stored,
        maps[..., 0],
        maps[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def turn_rotation(yaw: float, pitch: float) -> np.ndarray:
    """``(3, 3)`` the turn of a view: about the head's vertical axis as seen by the camera by
    ``yaw`` degrees, then tilted by ``pitch``."""
    return angles_to_rotation(np.array([yaw, 0.0, 0.0])) @ angles_to_rotation(
        np.array([0.0, pitch, 0.0])
    )


def motion_pair(
    model: MorphableModel,
    stored: np.ndarray,
    params: np.ndarray,
    crop_box: np.ndarray,
    first: tuple[float, float],
    second: tuple[float, float],
    config: ProfileConfig | None = None,
    lines: ContourLines | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two frames of a fitted face turning: the face turned by ``first`` and by ``second``
    (``(yaw, pitch)`` degrees), both rendered over the first view's box, as a video's
    consecutive frames are cut with one box.

    Args:
        model: The morphable model.
        stored: ``(240, 240, 3)`` the face's stored image.
        params: ``(62,)`` its fitted raw parameters (crop frame of ``crop_box``).
        crop_box: ``(4,)`` its crop box in image pixels.
        first: The first frame's turn.
        second: The second frame's turn.
        config: Profiling settings (the mesh and rotation centre).
        lines: The model's contour lines (computed when not given).

    Returns:
        The two ``(240, 240, 3)`` stored images, both frames' exact ``(62,)`` parameters in
        the crop frame of the first view's box, and that ``(4,)`` box (image pixels).
    """
    config = config or ProfileConfig()
    lines = lines or contour_lines(model)
    mesh = face_mesh(model, params, config)
    centre = _head_centre(model, params, config)
    images, turned = [], []
    box = None
    for yaw, pitch in (first, second):
        rotation = turn_rotation(yaw, pitch)
        moved, own_box = rotate_params(model, params, crop_box, rotation, centre, lines)
        box = own_box if box is None else box
        turned.append(params_to_crop(params_to_image(moved, own_box), box))
        images.append(render_view(stored, mesh, crop_box, box, rotation, centre, config.device))
    assert box is not None
    return images[0], images[1], turned[0], turned[1], box


def view_angles(
    source_yaw: float, config: ProfileConfig, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """The ``(yaw, pitch)`` turns, in degrees, of the views of a face at ``source_yaw``.

    Target yaws lie on a lattice of :attr:`ProfileConfig.yaw_step` up to
    :attr:`ProfileConfig.max_yaw`; the yaw turns are the targets minus ``source_yaw``, those
    under half a step left out; turns toward the hidden side are limited (see
    :class:`ProfileConfig`); past :attr:`ProfileConfig.max_views` a random subset is kept. Each
    view gets a random pitch.
    """
    step = config.yaw_step
    lattice = np.arange(-config.max_yaw, config.max_yaw + 1e-9, step)
    turns = lattice - source_yaw
    side = 1.0 if source_yaw >= 0 else -1.0
    away = turns * side > 0
    back_limit = max(step, config.turn_back - 2 * abs(source_yaw))
    allowed = (np.abs(turns) >= step / 2) & (away | (np.abs(turns) <= back_limit))
    chosen = list(turns[allowed])
    extra = sorted(chosen, key=lambda t: -abs(source_yaw + t))
    k = 0
    while len(chosen) < config.min_views and extra:
        chosen.append(extra[k % len(extra)])
        k += 1
    if 0 < config.max_views < len(chosen):
        keep = np.sort(rng.choice(len(chosen), config.max_views, replace=False))
        chosen = [chosen[i] for i in keep]
    pitches = rng.uniform(-config.pitch, config.pitch, len(chosen))
    return [(float(t), float(p)) for t, p in zip(chosen, pitches, strict=True)]


def profile_face(
    model: MorphableModel,
    stored: np.ndarray,
    params: np.ndarray,
    crop_box: np.ndarray,
    angles: Sequence[tuple[float, float]],
    config: ProfileConfig | None = None,
    lines: ContourLines | None = None,
) -> list[View]:
    """Render the views of one fitted face.

    Args:
        model: The morphable model.
        stored: ``(240, 240, 3)`` the face's stored image.
        params: ``(62,)`` its fitted raw parameters (crop frame of ``crop_box``).
        crop_box: ``(4,)`` its crop box in image pixels.
        angles: ``(yaw, pitch)`` turns in degrees (:func:`view_angles`).
        config: Profiling settings.
        lines: The model's contour lines (computed when not given).

    Returns:
        One :class:`View` per turn.
    """
    config = config or ProfileConfig()
    lines = lines or contour_lines(model)
    mesh = face_mesh(model, params, config)
    centre = _head_centre(model, params, config)
    views = []
    for yaw, pitch in angles:
        rotation = turn_rotation(yaw, pitch)
        new_params, new_box = rotate_params(model, params, crop_box, rotation, centre, lines)
        image = render_view(stored, mesh, crop_box, new_box, rotation, centre, config.device)
        views.append(
            View(
                image=image,
                image_box=scale_box(new_box, STORED_SIZE / CROP_SIZE),
                crop_box=new_box,
                params=new_params,
                rotation=rotation,
            )
        )
    return views


def profile_targets(
    targets: Targets,
    model: MorphableModel,
    config: ProfileConfig | None = None,
    indices: Sequence[int] | None = None,
    progress: Progress = no_progress,
    keep_originals: bool = True,
) -> Targets:
    """The original faces followed by their profiled views, as one targets set.

    Args:
        targets: Fitted original faces (:func:`~morph3d.training.targets.build_targets`),
            dense or sparse (AFLW's 21 points).
        model: The morphable model they were fitted with.
        config: Profiling settings.
        indices: Faces to profile (default: all); all faces are kept as originals.
        progress: Wraps an iterable to show progress, e.g. ``tqdm``.
        keep_originals: False: the views alone, to train beside the original file (no copy
            of its faces); ``view_of`` then indexes that file, and ``attrs["views_only"]`` is 1.

    Returns:
        Targets with ``synthetic`` False and ``view_of`` -1 for the originals, then for each
        view ``synthetic`` True and ``view_of`` its face's index in ``targets`` (where the
        originals come first, the same index in the result). A view's ``annotation`` and
        ``fit_landmarks`` are its marched landmarks, ``model_landmarks`` its fixed ones,
        ``fit_nme``, ``flags`` and ``source`` its face's, ``yaw`` NaN (no annotation),
        ``fit_yaw`` the yaw of its pose. Views are dense faces even when their face is sparse:
        their 68 landmarks are exact for the turned mesh, the sparse annotation stays behind.
    """
    config = config or ProfileConfig()
    lines = contour_lines(model)
    chosen = range(len(targets)) if indices is None else indices
    rows: list[tuple[int, str, View]] = []
    for k in progress(chosen, desc="profiling", total=len(chosen), unit="face"):
        rng = np.random.default_rng([config.seed, int(k)])
        yaw = float(decompose_pose(targets.params[k, :12]).angles[0])
        angles = view_angles(yaw, config, rng)
        views = profile_face(
            model, targets.image[k], targets.params[k], targets.crop_box[k], angles, config, lines
        )
        for number, ((turn, pitch), view) in enumerate(zip(angles, views, strict=True)):
            tag = f"{VIEW_SEPARATOR}{number:02d}y{yaw + turn:+03.0f}p{pitch:+03.0f}"
            rows.append((int(k), targets.name[k] + tag, view))
    n = len(rows)
    source = np.asarray([k for k, _, _ in rows], dtype=np.int64)
    params = np.asarray([v.params for _, _, v in rows]).reshape(n, -1)
    marched = march_landmarks(model, params, lines) if n else np.zeros((0, 68, 3))
    fixed = model.landmarks(params) if n else np.zeros((0, 68, 3))
    fit_yaw = decompose_pose(params[:, :12]).angles[:, 0] if n else np.zeros(0)

    kept = len(targets) if keep_originals else 0

    def joined(original: np.ndarray, added: np.ndarray) -> np.ndarray:
        original = np.asarray(original)[:kept]
        return np.concatenate([original, np.asarray(added, dtype=original.dtype)])

    logger.info("profiled %d faces into %d views", len(chosen), n)
    return Targets(
        name=list(targets.name[:kept]) + [name for _, name, _ in rows],
        source=list(targets.source[:kept]) + [targets.source[k] for k in source],
        image=joined(
            targets.image,
            np.asarray([v.image for _, _, v in rows]).reshape(n, STORED_SIZE, STORED_SIZE, 3),
        ),
        image_box=joined(
            targets.image_box, np.asarray([v.image_box for _, _, v in rows]).reshape(n, 4)
        ),
        crop_box=joined(
            targets.crop_box, np.asarray([v.crop_box for _, _, v in rows]).reshape(n, 4)
        ),
        annotation=joined(targets.annotation, marched[..., :2]),
        params=joined(targets.params, params),
        fit_landmarks=joined(targets.fit_landmarks, marched),
        model_landmarks=joined(targets.model_landmarks, fixed),
        fit_nme=joined(targets.fit_nme, targets.fit_nme[source]),
        yaw=joined(targets.yaw, np.full(n, np.nan)),
        silhouette_jaw=joined(targets.silhouette_jaw, np.ones(n)),
        fit_yaw=joined(targets.fit_yaw, fit_yaw),
        flags=joined(targets.flags, targets.flags[source]),
        attrs={
            **targets.attrs,
            "profiling_config": repr(config),
            "views_only": int(not keep_originals),
        },
        sparse=joined(targets.sparse, np.zeros(n, dtype=bool)),
        sparse_points=joined(
            targets.sparse_points, np.full((n, *targets.sparse_points.shape[1:]), np.nan)
        ),
        synthetic=joined(np.asarray(targets.synthetic, dtype=bool), np.ones(n, dtype=bool)),
        view_of=joined(np.asarray(targets.view_of, dtype=np.int64), source),
    )
