"""Two detectors in a row: Ultra-Light first, YuNet only when it finds no face.

Ultra-Light misses some faces at large yaw that YuNet finds (on the 400 AFLW2000-3D dev faces,
ground-truth-overlapping detections: Ultra-Light 395, YuNet 399). Running YuNet only on the
frames Ultra-Light finds empty keeps Ultra-Light's speed on the rest. YuNet's faces are handed
on in Ultra-Light's box convention (:meth:`CropCalibration.box_for_crop`), so the cascade has
one calibration like any detector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from morph3d.detection.base import Detection
from morph3d.detection.ultralight import INPUT_SIZE, UltraLightDetector
from morph3d.detection.yunet import YuNetDetector

__all__ = ["CascadeDetector"]


class CascadeDetector:
    """Ultra-Light, then YuNet on images where Ultra-Light finds nothing.

    Args:
        threads: ONNX Runtime threads of the Ultra-Light detector.
        score_threshold: Minimum score of both detectors (None: each one's own default).
        input_size: Ultra-Light's input size (:class:`UltraLightDetector`).

    Raises:
        ModelNotFoundError: either detector's weights are missing.
    """

    calibration = UltraLightDetector.calibration

    def __init__(
        self,
        threads: int | None = None,
        score_threshold: float | None = None,
        input_size: tuple[int, int] = INPUT_SIZE,
    ) -> None:
        both: dict[str, Any] = (
            {} if score_threshold is None else {"score_threshold": score_threshold}
        )
        self.primary = UltraLightDetector(threads=threads, input_size=input_size, **both)
        self.secondary = YuNetDetector(**both)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an ``(H, W, 3)`` uint8 RGB image, best first (boxes in Ultra-Light's
        convention)."""
        found = self.primary.detect(image)
        if found:
            return found
        return [
            Detection(
                self.calibration.box_for_crop(self.secondary.crop_box(d.box)),
                d.score,
                d.keypoints,
            )
            for d in self.secondary.detect(image)
        ]

    def crop_box(self, box: np.ndarray) -> np.ndarray:
        """The network's crop box for one of this detector's boxes."""
        return self.calibration.crop_box(box)
