"""Face detection: one interface (:class:`FaceDetector`), two backends.

* :class:`UltraLightDetector` (default, ``"ultralight"``): the Ultra-Light-Fast-Generic face
  detector on ONNX Runtime.
* :class:`YuNetDetector` (``"yunet"``): OpenCV's YuNet, with 5 keypoints.
* :class:`CascadeDetector` (``"cascade"``): Ultra-Light, then YuNet where it finds no face.

Each detector carries the calibration that maps its boxes to the network's crop
(``detector.crop_box(detection.box)``). Weights come from the cache that ``bash setup.sh`` fills
(``$MORPH3D_HOME/detectors``). Importing this package loads neither OpenCV nor ONNX Runtime;
the backends do when they are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Literal

from morph3d._lazy import lazy_exports
from morph3d.detection.base import (
    CropCalibration,
    Detection,
    FaceDetector,
    check_image,
    non_maximum_suppression,
)

if TYPE_CHECKING:
    from morph3d.detection.cascade import CascadeDetector
    from morph3d.detection.ultralight import UltraLightDetector
    from morph3d.detection.yunet import YuNetDetector

__all__ = [
    "Backend",
    "CascadeDetector",
    "CropCalibration",
    "Detection",
    "FaceDetector",
    "UltraLightDetector",
    "YuNetDetector",
    "check_image",
    "create_detector",
    "detector_type",
    "non_maximum_suppression",
]

Backend = Literal["ultralight", "yunet", "cascade"]

_BACKENDS = {
    "ultralight": ("morph3d.detection.ultralight", "UltraLightDetector"),
    "yunet": ("morph3d.detection.yunet", "YuNetDetector"),
    "cascade": ("morph3d.detection.cascade", "CascadeDetector"),
}


def detector_type(backend: Backend) -> type[FaceDetector]:
    """The detector class of a backend name (its ``calibration`` is known before any weights
    load).

    Raises:
        ValueError: an unknown backend.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"unknown detector backend {backend!r}; choose from {sorted(_BACKENDS)}")
    module, name = _BACKENDS[backend]
    cls: type[FaceDetector] = getattr(importlib.import_module(module), name)
    return cls


def create_detector(backend: Backend = "ultralight", **options: Any) -> FaceDetector:
    """Build a detector: ``"ultralight"`` (default), ``"yunet"`` or ``"cascade"``, with
    backend options.

    Raises:
        ValueError: an unknown backend.
        ModelNotFoundError: the backend's weights are missing.
    """
    detector: FaceDetector = detector_type(backend)(**options)
    return detector


__getattr__ = lazy_exports(__name__, {cls: module for module, cls in _BACKENDS.values()})
