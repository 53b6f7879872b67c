"""Training augmentation: random similarity warps with flips, photometric jitter, padding paint
and occluders.

The stored training images (:mod:`morph3d.training.targets`) cover twice the crop box at the crop's
own pixel density, so the crop is their middle half. A random similarity of the crop box (rotation,
scale, translation, mirror) is cut out of that room with one ``cv2.warpAffine``, and the target
landmarks are moved by exactly the same transform, so image and targets stay consistent.

Landmarks are in the 120x120 crop frame (y up): crop pixel ``(x - 1, 120 - y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from morph3d.core.crop import CROP_SIZE
from morph3d.core.landmarks68 import MIRROR

__all__ = [
    "AugmentConfig",
    "Similarity",
    "augment",
    "centre_crop",
    "fill_padding",
    "occlude",
    "padding_mask",
    "photometric",
    "random_fill",
    "random_occlusion",
    "warp_crop",
    "warp_landmarks",
    "warp_pose",
]


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation (all uniform).

    Attributes:
        rotation: In-plane rotation up to +- this many degrees.
        translation: Shift up to +- this fraction of the crop side, in x and y.
        scale: Zoom by a factor in [1 - scale, 1 + scale].
        flip: Probability of a horizontal mirror.
        brightness: Offset up to +- this fraction of 255.
        contrast: Gain in [1 - contrast, 1 + contrast].
        blur: Probability of a Gaussian blur (sigma 0.3 to 1.5 px).
        noise: Probability of Gaussian sensor noise (sigma 2 to 10 levels).
        jpeg: Probability of JPEG re-encoding (quality 20 to 90).
        fill: Probability of painting over the stored image's padding (:func:`fill_padding`).
        occlude: Probability of one random occluder painted over the crop (:func:`occlude`):
            a hand, a cup or hair in front of the face; the targets stay where the face is.
    """

    rotation: float = 40.0
    translation: float = 0.10
    scale: float = 0.10
    flip: float = 0.5
    brightness: float = 0.25
    contrast: float = 0.3
    blur: float = 0.25
    noise: float = 0.25
    jpeg: float = 0.25
    fill: float = 0.0
    occlude: float = 0.0


@dataclass(frozen=True)
class Similarity:
    """A similarity of the crop box: ``angle`` degrees, ``scale`` (>1 shows more of the image),
    ``shift`` in fractions of the crop side, then an optional horizontal ``flip``.
    """

    angle: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    flip: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator, config: AugmentConfig) -> Similarity:
        """Draw a similarity from the ranges of ``config``."""
        return cls(
            angle=float(rng.uniform(-config.rotation, config.rotation)),
            scale=float(rng.uniform(1 - config.scale, 1 + config.scale)),
            shift=(
                float(rng.uniform(-config.translation, config.translation)),
                float(rng.uniform(-config.translation, config.translation)),
            ),
            flip=bool(rng.random() < config.flip),
        )

    def to_source(self, offset: float) -> np.ndarray:
        """``(3, 3)`` map from output crop pixels to source pixels (crop pixels + ``offset``)."""
        centre = (CROP_SIZE - 1) / 2
        radians = np.deg2rad(self.angle)
        cos, sin = np.cos(radians), np.sin(radians)
        mirror = np.array([[-1.0, 0, CROP_SIZE - 1], [0, 1, 0], [0, 0, 1]])
        to_centre = np.array([[1.0, 0, -centre], [0, 1, -centre], [0, 0, 1]])
        turn = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]]) * [
            [self.scale],
            [self.scale],
            [1],
        ]
        back = np.array(
            [
                [1.0, 0, centre + offset + self.shift[0] * CROP_SIZE],
                [0, 1, centre + offset + self.shift[1] * CROP_SIZE],
                [0, 0, 1],
            ]
        )
        matrix = back @ turn @ to_centre
        return matrix @ mirror if self.flip else matrix

    def frame_to_source(self) -> np.ndarray:
        """``(3, 3)`` map from the transformed crop's frame (120 units, y up) back to the
        source crop's frame: undoes :func:`warp_landmarks` on positions (not on the order of
        mirrored points)."""
        return np.linalg.inv(_FRAME) @ self.to_source(0.0) @ _FRAME

    def nearby(
        self, rng: np.random.Generator, angle: float, scale: float, shift: float
    ) -> Similarity:
        """A random similarity near this one, with the same flip: up to +- ``angle`` more
        degrees, a factor in [1 - scale, 1 + scale] and up to +- ``shift`` of the crop side
        (in x and y) away, as the crop a tracker cuts one frame later."""
        return Similarity(
            angle=self.angle + float(rng.uniform(-angle, angle)),
            scale=self.scale * float(rng.uniform(1 - scale, 1 + scale)),
            shift=(
                self.shift[0] + float(rng.uniform(-shift, shift)),
                self.shift[1] + float(rng.uniform(-shift, shift)),
            ),
            flip=self.flip,
        )


#: Crop frame (x, y up) to crop pixels: pixel ``(x - 1, 120 - y)``.
_FRAME = np.array([[1.0, 0, -1], [0, -1, CROP_SIZE], [0, 0, 1]])


def _pixel_grid(size: int) -> np.ndarray:
    """``(3, 3)`` map from output image pixels (``size`` px) to crop pixels (120 units)."""
    k = CROP_SIZE / size
    return np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])


def warp_crop(stored: np.ndarray, similarity: Similarity, size: int = CROP_SIZE) -> np.ndarray:
    """Cut the transformed crop out of a stored image.

    Args:
        stored: ``(M, M, 3)`` image covering twice the crop box at the crop's density
            (``M = 240``): crop pixel ``u`` is stored pixel ``u + (M - 120) / 2``.
        similarity: The transform of the crop box.
        size: Output side in pixels (the crop frame stays 120 units).

    Returns:
        ``(size, size, 3)`` crop.
    """
    offset = (stored.shape[0] - CROP_SIZE) / 2
    matrix = similarity.to_source(offset) @ _pixel_grid(size)
    return cv2.warpAffine(
        stored,
        matrix[:2],
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )


def warp_pose(pose: np.ndarray, similarity: Similarity) -> np.ndarray:
    """Move a ``(3, 4)`` pose matrix as :func:`warp_landmarks` moves points (no mirror).

    Decoded points then land where :func:`warp_landmarks` puts the original ones. A mirror has
    no exact pose counterpart (the mirrored face is a different shape), so flips are refused.
    """
    if similarity.flip:
        raise ValueError("a mirrored face has no exact pose counterpart")
    # crop frame (x, y) -> crop pixel -> transformed crop pixel -> crop frame, all affine.
    warp = np.linalg.inv(similarity.frame_to_source())
    moved = np.asarray(pose, dtype=np.float64).copy()
    moved[:2, :3] = warp[:2, :2] @ moved[:2, :3]
    moved[:2, 3] = warp[:2, :2] @ moved[:2, 3] + warp[:2, 2]
    moved[2] = moved[2] / similarity.scale
    return moved


def warp_landmarks(landmarks: np.ndarray, similarity: Similarity) -> np.ndarray:
    """Move crop-frame points as :func:`warp_crop` moves the image (mirrored order on flips).

    Args:
        landmarks: ``(n, 2|3)`` points in the crop frame (y up); with ``n == 68`` a flip also
            reorders them with :data:`morph3d.core.landmarks68.MIRROR` so that point k is still
            landmark k.
        similarity: The transform.

    Returns:
        ``(n, 2|3)`` points in the transformed crop's frame; depth is divided by the scale.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    pixels = np.stack([points[:, 0] - 1, CROP_SIZE - points[:, 1], np.ones(len(points))])
    inverse = np.linalg.inv(similarity.to_source(0.0))
    moved = (inverse @ pixels)[:2]
    out = points.copy()
    out[:, 0] = moved[0] + 1
    out[:, 1] = CROP_SIZE - moved[1]
    if points.shape[1] == 3:
        out[:, 2] = points[:, 2] / similarity.scale
    if similarity.flip and len(out) == len(MIRROR):
        out = out[MIRROR]
    return out


def photometric(image: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Random brightness, contrast, blur, sensor noise and JPEG artefacts on a uint8 image."""
    gain = rng.uniform(1 - config.contrast, 1 + config.contrast)
    offset = rng.uniform(-config.brightness, config.brightness) * 255
    mean = image.mean()
    out = (image.astype(np.float32) - mean) * gain + mean + offset
    if rng.random() < config.blur:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.3, 1.5)))
    if rng.random() < config.noise:
        out = out + rng.normal(0, rng.uniform(2, 10), out.shape).astype(np.float32)
    result = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < config.jpeg:
        quality = int(rng.integers(20, 91))
        ok, encoded = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            result = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return result


def padding_mask(stored: np.ndarray) -> np.ndarray:
    """``(M, M)`` bool: the black padding of a stored image, where its photo ended.

    The padding is the exactly black (0, 0, 0) pixels connected to the image border; black
    pixels inside the photo (a shadow) are kept.
    """
    black = (stored.reshape(-1, stored.shape[-1]).max(axis=1) == 0).reshape(stored.shape[:2])
    if not black.any():
        return black
    count, labels = cv2.connectedComponents(black.astype(np.uint8), connectivity=4)
    rim = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touching = np.zeros(count, dtype=bool)
    touching[rim] = True
    touching[0] = False  # label 0 is everything not black
    return touching[labels]


def fill_padding(stored: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint a stored image's padding (:func:`padding_mask`) with a smooth random background.

    AFLW's photos are tight 120 px crops, so a third of its profiled views' crops is black
    around a face-shaped hole, a look no test photo has. The paint is a few random colours
    blended smoothly over the image (a 2x2 to 5x5 grid enlarged), the photo is left as it was.

    Args:
        stored: ``(M, M, 3)`` uint8 stored image.
        rng: The sample's random generator.

    Returns:
        The painted copy (``stored`` itself when it has no padding).
    """
    mask = padding_mask(stored)
    if not mask.any():
        return stored
    out = stored.copy()
    out[mask] = _paint(stored.shape, rng)[mask]
    return out


def _paint(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A ``shape`` uint8 image of a few random colours blended smoothly (a 2x2 to 5x5 grid
    enlarged)."""
    cells = int(rng.integers(2, 6))
    colours = rng.integers(0, 256, (cells, cells, shape[-1])).astype(np.uint8)
    paint = cv2.resize(colours, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return paint.reshape(shape)


def occlude(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paint one random occluder over a face crop.

    An ellipse or a turned rectangle, 16 to 50 % of the crop's side across, centred anywhere in
    the middle 60 % of the crop (where the face is), filled either with smooth random colours
    or with the crop's own pixels from elsewhere (skin, hair, background: an occluder that
    looks like the picture). Faces in photos are covered by hands, food, cups, hair and
    microphones; the network learns to place the landmarks behind them from the rest of the
    face.

    Args:
        image: ``(S, S, 3)`` uint8 crop.
        rng: The sample's random generator.

    Returns:
        The occluded copy.
    """
    size = image.shape[0]
    centre = rng.uniform(0.2, 0.8, 2) * size
    half = rng.uniform(0.08, 0.25, 2) * size
    angle = float(rng.uniform(0, 180))
    mask = np.zeros(image.shape[:2], np.uint8)
    box = ((float(centre[0]), float(centre[1])), (float(2 * half[0]), float(2 * half[1])), angle)
    if rng.random() < 0.5:
        cv2.ellipse(mask, box, (1,), -1)
    else:
        corners = np.round(cv2.boxPoints(box)).astype(np.int32)
        cv2.fillConvexPoly(mask, corners, (1,))
    if rng.random() < 0.5:
        fill = _paint(image.shape, rng)
    else:  # the picture moved by at least the occluder's size, wrapping around
        shift = rng.uniform(2 * half.max(), size - 2 * half.max(), 2).astype(int)
        fill = np.roll(image, tuple(shift), axis=(0, 1))
    out = image.copy()
    inside = mask.astype(bool)
    out[inside] = fill[inside]
    return out


def random_occlusion(
    image: np.ndarray, rng: np.random.Generator, config: AugmentConfig
) -> np.ndarray:
    """:func:`occlude` with probability ``config.occlude``; with ``occlude == 0`` nothing is
    drawn from ``rng``, so the rest of the augmentation is the same as without the option."""
    if config.occlude > 0 and rng.random() < config.occlude:
        return occlude(image, rng)
    return image


def random_fill(stored: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """:func:`fill_padding` with probability ``config.fill``; with ``fill == 0`` nothing is
    drawn from ``rng``, so the rest of the augmentation is the same as without the option."""
    if config.fill > 0 and rng.random() < config.fill:
        return fill_padding(stored, rng)
    return stored


def augment(
    stored: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    size: int = CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """One random training sample: ``(size, size, 3)`` crop and its ``(n, 2|3)`` landmarks."""
    similarity = Similarity.random(rng, config)
    stored = random_fill(stored, rng, config)
    crop = random_occlusion(warp_crop(stored, similarity, size), rng, config)
    return photometric(crop, rng, config), warp_landmarks(landmarks, similarity)


def centre_crop(stored: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The un-augmented crop (the ground-truth crop box) of a stored image."""
    return warp_crop(stored, Similarity(), size)
