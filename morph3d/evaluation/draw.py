"""Drawing faces over images for people to look at: shaded meshes and landmarks.

Uses numpy and OpenCV only (imported here). Images are ``(H, W, 3)`` uint8 in morph3d's RGB order
and colours are RGB. Points are in image pixels: x right, y down, z toward the viewer.
"""

from __future__ import annotations

import cv2
import numpy as np

from morph3d.core.mesh import vertex_normals

__all__ = [
    "contact_sheet",
    "draw_label",
    "draw_landmarks",
    "draw_pose_axes",
    "draw_wireframe",
    "overlay_face",
    "shade_mesh",
]

_SHIFT = 4  # fractional bits for sub-pixel polygon corners
_LIGHT = np.array([0.3, -0.4, 1.0]) / np.linalg.norm([0.3, -0.4, 1.0])  # upper left, in front


def shade_mesh(
    image: np.ndarray,
    vertices: np.ndarray,
    triangles: np.ndarray,
    color: tuple[int, int, int] = (200, 200, 200),
    alpha: float = 0.8,
) -> np.ndarray:
    """Draw a Lambert-shaded mesh over an image (painter's algorithm, back faces culled).

    Args:
        image: ``(H, W, 3)`` uint8 RGB image; not modified.
        vertices: ``(N, 3)`` vertices in image pixels (x right, y down, z toward the viewer).
        triangles: ``(F, 3)`` triangles wound counter-clockwise seen from outside in the model's
            y-up frame (the model's own triangles).
        color: RGB colour of a surface lit head-on.
        alpha: Opacity of the mesh over the image.

    Returns:
        A new ``(H, W, 3)`` uint8 image.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    vertices = np.asarray(vertices, dtype=np.float64)
    corners = vertices[triangles]  # (F, 3, 3)
    # y points down here, which mirrors the frame: negate to get outward normals.
    normals = -np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals[:, 1] *= -1  # express them in a y-up frame, where the light is defined
    length = np.linalg.norm(normals, axis=1)
    visible = (normals[:, 2] > 0) & (length > 0)
    order = np.argsort(corners[visible, :, 2].mean(axis=1))  # far (small z) first
    unit = normals[visible][order] / length[visible][order, None]
    light = _LIGHT.copy()
    light[1] *= -1
    shade = 0.25 + 0.75 * np.clip(unit @ light, 0.0, 1.0)
    polygons = np.round(corners[visible][order, :, :2] * (1 << _SHIFT)).astype(np.int64)
    out = image.copy()
    # Only the window around the drawn triangles is blended: on a many-megapixel photo the
    # whole-image arithmetic took most of the time (emma.jpg: 0.33 s a face).
    if not len(polygons):
        return out
    height, width = image.shape[:2]
    low = np.maximum(polygons.min(axis=(0, 1)) >> _SHIFT, 0)
    high = np.minimum((polygons.max(axis=(0, 1)) >> _SHIFT) + 2, [width, height])
    if np.any(high <= low):  # wholly outside the image
        return out
    (x0, y0), (x1, y1) = low, high
    polygons = (polygons - (low << _SHIFT)).astype(np.int32)  # whole pixels: the same coverage
    window = image[y0:y1, x0:x1]
    layer = window.copy()
    mask = np.zeros(window.shape[:2], dtype=np.uint8)
    base = np.asarray(color, dtype=np.float64)
    for polygon, brightness in zip(polygons, shade, strict=True):
        fill = tuple(int(c) for c in base * brightness)
        cv2.fillConvexPoly(layer, polygon, fill, lineType=cv2.LINE_8, shift=_SHIFT)
        cv2.fillConvexPoly(mask, polygon, (255,), lineType=cv2.LINE_8, shift=_SHIFT)
    weight = (mask.astype(np.float32) / 255.0 * alpha)[..., None]
    blended = window.astype(np.float32) * (1 - weight) + layer.astype(np.float32) * weight
    out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


def draw_wireframe(
    image: np.ndarray,
    vertices: np.ndarray,
    grid: np.ndarray,
    triangles: np.ndarray,
    color: tuple[int, int, int] = (90, 220, 255),
    step: int = 4,
) -> np.ndarray:
    """Draw a grid mesh as thin anti-aliased lines along every ``step``-th row and column of its
    grid, leaving out the parts that face away; returns a new image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB image; not modified.
        vertices: ``(N, 3)`` vertices in image pixels (x right, y down, z toward the viewer).
        grid: ``(rows, columns)`` vertex index of each grid node (``MorphableModel.grid``).
        triangles: ``(F, 3)`` the model's own triangles (for the facing test).
        color: RGB line colour.
        step: Grid spacing of the drawn lines.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    # The image frame mirrors the model's y-up frame, so outward normals point to -z here.
    front = vertex_normals(vertices, triangles)[:, 2] < 0
    segments = []
    for lines in (grid[::step], grid.T[::step]):
        start, end = lines[:, :-1].reshape(-1), lines[:, 1:].reshape(-1)
        keep = front[start] & front[end]
        segments.append(np.stack([vertices[start[keep], :2], vertices[end[keep], :2]], axis=1))
    points = np.round(np.concatenate(segments) * (1 << _SHIFT)).astype(np.int32)
    out = image.copy()
    cv2.polylines(out, list(points), False, color, 1, cv2.LINE_AA, _SHIFT)
    return out


def draw_label(
    image: np.ndarray, text: str, origin: tuple[float, float], scale: float = 0.6
) -> np.ndarray:
    """Write white text with a dark outline at ``origin`` (its lower-left corner), in place;
    returns the image."""
    position = (round(origin[0]), round(origin[1]))
    for color, thickness in (((0, 0, 0), 4), ((255, 255, 255), 2)):
        cv2.putText(
            image, text, position, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA
        )
    return image


def draw_landmarks(
    image: np.ndarray,
    landmarks: np.ndarray,
    color: tuple[int, int, int] = (255, 0, 0),
    radius: float = 2.0,
) -> np.ndarray:
    """Draw ``(n, 2|3)`` landmarks (image pixels) as anti-aliased dots; returns a new image."""
    out = image.copy()
    scale = 1 << _SHIFT
    for x, y in np.asarray(landmarks, dtype=np.float64)[:, :2]:
        center = (round(x * scale), round(y * scale))
        cv2.circle(out, center, round(radius * scale), color, -1, cv2.LINE_AA, _SHIFT)
    return out


def contact_sheet(
    tiles: list[np.ndarray], columns: int, labels: list[str] | None = None, gap: int = 2
) -> np.ndarray:
    """Lay equally sized ``(T, T, 3)`` tiles out in a grid, each with an optional label.

    Args:
        tiles: The tiles, in reading order.
        columns: Tiles per row.
        labels: One short text per tile, written in its top-left corner.
        gap: White pixels between tiles.

    Returns:
        The sheet, uint8 RGB.
    """
    if not tiles:
        raise ValueError("no tiles")
    side_y, side_x = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.full(
        (rows * (side_y + gap) + gap, columns * (side_x + gap) + gap, 3), 255, dtype=np.uint8
    )
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        y, x = gap + row * (side_y + gap), gap + column * (side_x + gap)
        sheet[y : y + side_y, x : x + side_x] = tile
        if labels is not None:
            for color, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
                cv2.putText(
                    sheet,
                    labels[k],
                    (x + 4, y + 14),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.4,
                    color,
                    thickness,
                    cv2.LINE_AA,
                )
    return sheet


def overlay_face(
    image: np.ndarray,
    vertices: np.ndarray,
    triangles: np.ndarray,
    landmarks: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """A face with its mesh shaded over it, its landmarks (red) and reference points (green).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        vertices: ``(N, 3)`` mesh vertices in image pixels.
        triangles: ``(F, 3)`` the model's triangles.
        landmarks: ``(68, 2|3)`` predicted or fitted landmarks in image pixels.
        reference: ``(68, 2)`` ground-truth or annotated landmarks in image pixels.
        alpha: Opacity of the mesh.
    """
    out = shade_mesh(image, vertices, triangles, color=(235, 215, 200), alpha=alpha)
    if reference is not None:
        out = draw_landmarks(out, reference, color=(40, 230, 40), radius=1.6)
    if landmarks is not None:
        out = draw_landmarks(out, landmarks, color=(255, 40, 40), radius=1.3)
    return out


def draw_pose_axes(
    image: np.ndarray, rotation: np.ndarray, origin: np.ndarray, length: float
) -> np.ndarray:
    """Draw a head's axes: x red, y green, z (out of the face) blue; returns a new image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        rotation: ``(3, 3)`` rotation in the model's y-up crop frame.
        origin: ``(2,)`` image pixel where the axes start (e.g. the nose tip).
        length: Axis length in pixels.
    """
    out = image.copy()
    start = np.asarray(origin, dtype=np.float64)[:2]
    scale = 1 << _SHIFT
    for axis, color in zip(range(3), ((255, 40, 40), (40, 220, 40), (40, 90, 255)), strict=True):
        direction = np.array([rotation[0, axis], -rotation[1, axis]])  # y flips into the image
        end = start + length * direction
        cv2.arrowedLine(
            out,
            (round(start[0] * scale), round(start[1] * scale)),
            (round(end[0] * scale), round(end[1] * scale)),
            color,
            max(1, round(length / 40)),
            cv2.LINE_AA,
            _SHIFT,
            0.15,
        )
    return out
