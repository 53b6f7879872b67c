"""Other landmarkers for side-by-side figures: MediaPipe FaceMesh, when it is importable.

MediaPipe is no dependency of morph3d; the benchmarks run it from a separate environment
(``pip install mediapipe==0.10.21`` beside morph3d) and leave it out where it is missing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FACEMESH_EYES", "FACEMESH_NOSE", "FaceMesh", "mediapipe_available"]

#: MediaPipe FaceMesh indices of each eye: corners, then (upper, lower) lid pairs.
FACEMESH_EYES = (((33, 133), ((160, 144), (158, 153))), ((362, 263), ((385, 380), (387, 373))))

#: MediaPipe FaceMesh nose tip (the 68-point nose tip is 30).
FACEMESH_NOSE = 1


class FaceMesh:
    """MediaPipe FaceMesh in tracking mode (or ``static=True``): ``(468, 3)`` pixel landmarks
    of the first face, or ``None``. ``faces``: how many faces it meshes (``mesh.process``
    returns them all)."""

    def __init__(self, static: bool = False, faces: int = 1) -> None:
        import mediapipe

        self.mesh = mediapipe.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=faces, refine_landmarks=False,
            min_detection_confidence=0.5, min_tracking_confidence=0.5,
        )  # fmt: skip

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        height, width = rgb.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        return np.array([[p.x * width, p.y * height, p.z * width] for p in points])

    def close(self) -> None:
        self.mesh.close()


def mediapipe_available() -> str | None:
    """MediaPipe's version when it is importable, else ``None``."""
    try:
        import mediapipe
    except ImportError:
        return None
    return str(mediapipe.__version__)
