"""Face detection: one interface, two backends (layer 3).

* :class:`UltraLightDetector` (default): the Ultra-Light-Fast-Generic face detector, run with
  ONNX Runtime. The image is resized to the model's input (320x240 or 640x480), scaled
  ``(x - 127) / 128``; its candidate boxes are filtered by score and non-maximum suppression.
* :class:`YuNetDetector`: OpenCV's YuNet through ``cv2.FaceDetectorYN``, with 5 keypoints.

Both take an RGB uint8 image of any size and return :class:`Detection` s sorted by score; an
image without a face gives an empty list. Weights come from the cache that ``bash setup.sh``
fills (``$MORPH3D_HOME/detectors``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from morph3d.paths import detector_path
from morph3d.inference.onnx_predictor import physical_cores

__all__ = [
    "DETECTOR_CROP",
    "Detection",
    "FaceDetector",
    "UltraLightDetector",
    "YuNetDetector",
    "box_iou",
    "create_detector",
    "crop_box_from_detection",
    "non_maximum_suppression",
]

Backend = Literal["ultralight", "yunet"]

#: Detector box -> network crop, per backend: ``(dx, dy, k)`` with the crop centred at
#: ``(cx + dx * w, cy + dy * h)`` and of side ``k * sqrt(w * h)``. Medians over the 1,250
#: annotated 300W and dlib faces, measured by ``scripts/measure_detector_crop.py`` (median
#: absolute deviations: ultralight 0.019, 0.022, 0.055; yunet 0.019, 0.018, 0.046).
DETECTOR_CROP: dict[str, tuple[float, float, float]] = {
    "ultralight": (-0.0023, 0.1282, 1.3736),
    "yunet": (-0.0017, 0.1179, 1.3785),
}


@dataclass(frozen=True)
class Detection:
    """A detected face.

    Attributes:
        box: ``(4,)`` ``x0, y0, x1, y1`` in image pixels.
        score: Confidence in [0, 1].
        keypoints: ``(5, 2)`` eyes, nose tip, mouth corners (YuNet), else None.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None = None

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


class FaceDetector(Protocol):
    """Anything that finds faces in an RGB image."""

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return image


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` box with ``(N, 4)`` boxes (``x0, y0, x1, y1``)."""
    box = np.asarray(box, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    overlap = width * height

    def area(b: np.ndarray) -> np.ndarray:
        return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)

    union = area(box) + area(boxes) - overlap
    return overlap / np.maximum(union, 1e-12)


def non_maximum_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first.

    Args:
        boxes: ``(N, 4)`` ``x0, y0, x1, y1``.
        scores: ``(N,)`` scores.
        iou: Boxes overlapping a kept box by more than this intersection-over-union go.
    """
    order = np.argsort(-scores)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        union = areas[best] + areas[rest] - overlap
        order = rest[overlap <= iou * np.maximum(union, 1e-12)]
    return np.asarray(keep, dtype=np.int64)


class UltraLightDetector:
    """The Ultra-Light-Fast-Generic face detector on ONNX Runtime.

    Args:
        name: ``"version-RFB-320.onnx"`` (default), ``"version-RFB-640.onnx"`` or
            ``"version-slim-320.onnx"`` in the detectors cache.
        path: An explicit model file instead.
        score_threshold: Minimum face probability.
        iou_threshold: Non-maximum suppression overlap.
        threads: ONNX Runtime intra-op threads (default: physical cores).
    """

    def __init__(
        self,
        name: str = "version-RFB-320.onnx",
        path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.7,
        iou_threshold: float = 0.3,
        threads: int | None = None,
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or physical_cores()
        # Spinning worker threads would steal the cores from the numpy work between runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(detector_path(name, path)), options, providers=["CPUExecutionProvider"]
        )
        height, width = self.session.get_inputs()[0].shape[2:]
        self.input_size = (int(width), int(height))
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first."""
        image = _check_image(image)
        height, width = image.shape[:2]
        resized = cv2.resize(image, self.input_size, interpolation=cv2.INTER_LINEAR)
        batch = ((resized.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self.session.run(None, {self.session.get_inputs()[0].name: batch})
        probability = scores[0, :, 1]
        chosen = probability > self.score_threshold
        corners = boxes[0, chosen] * np.array([width, height, width, height], dtype=np.float32)
        probability = probability[chosen]
        keep = non_maximum_suppression(corners, probability, self.iou_threshold)
        return [Detection(corners[k].astype(np.float64), float(probability[k])) for k in keep]


YUNET_MIN_SIDE = 64
"""Images smaller than this (pixels per side) are padded before YuNet sees them."""


class YuNetDetector:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``) with 5 keypoints per face.

    Args:
        path: Model file (default: ``face_detection_yunet.onnx`` in the detectors cache).
        score_threshold: Minimum score.
        iou_threshold: Non-maximum suppression overlap.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        score_threshold: float = 0.7,
        iou_threshold: float = 0.3,
    ) -> None:
        model = detector_path("face_detection_yunet.onnx", path)
        self.detector = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), score_threshold, iou_threshold, 5000
        )

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first."""
        image = _check_image(image)
        height, width = image.shape[:2]
        # YuNet's strides need a few cells per side: on tiny inputs OpenCV returns garbage
        # (non-finite boxes), so pad small images with black up to YUNET_MIN_SIDE.
        padded = cv2.copyMakeBorder(
            image,
            0,
            max(YUNET_MIN_SIDE - height, 0),
            0,
            max(YUNET_MIN_SIDE - width, 0),
            cv2.BORDER_CONSTANT,
            value=(0, 0, 0),
        )
        self.detector.setInputSize((padded.shape[1], padded.shape[0]))
        _, faces = self.detector.detect(cv2.cvtColor(padded, cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        finite = np.isfinite(faces).all(axis=1)
        centre_x = faces[:, 0] + faces[:, 2] / 2
        centre_y = faces[:, 1] + faces[:, 3] / 2
        inside = (centre_x >= 0) & (centre_x < width) & (centre_y >= 0) & (centre_y < height)
        faces = faces[finite & inside & (faces[:, 2] > 0) & (faces[:, 3] > 0)]
        detections = []
        for face in faces[np.argsort(-faces[:, 14])]:
            x, y, w, h = (float(v) for v in face[:4])
            detections.append(
                Detection(
                    box=np.array([x, y, x + w, y + h]),
                    score=float(face[14]),
                    keypoints=face[4:14].reshape(5, 2).astype(np.float64),
                )
            )
        return detections


def crop_box_from_detection(box: np.ndarray, backend: Backend = "ultralight") -> np.ndarray:
    """The square crop box the network expects for a detector's box (see :data:`DETECTOR_CROP`).

    Args:
        box: ``(4,)`` detector box ``x0, y0, x1, y1`` in image pixels.
        backend: Which detector produced it.

    Returns:
        ``(4,)`` crop box, comparable to :func:`morph3d.core.crop.crop_box_from_landmarks`.
    """
    dx, dy, k = DETECTOR_CROP[backend]
    x0, y0, x1, y1 = np.asarray(box, dtype=np.float64)
    width, height = x1 - x0, y1 - y0
    centre_x, centre_y = (x0 + x1) / 2 + dx * width, (y0 + y1) / 2 + dy * height
    half = k * np.sqrt(max(width * height, 0.0)) / 2
    return np.array([centre_x - half, centre_y - half, centre_x + half, centre_y + half])


def create_detector(backend: Backend = "ultralight", **options: object) -> FaceDetector:
    """Build a detector: ``"ultralight"`` (default) or ``"yunet"``, with backend options."""
    if backend == "ultralight":
        return UltraLightDetector(**options)  # type: ignore[arg-type]
    if backend == "yunet":
        return YuNetDetector(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown detector backend {backend!r}")
