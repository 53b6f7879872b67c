"""The public pipeline (layer 5): :class:`Reconstructor` / :func:`reconstruct` for single images
and :class:`Tracker` for video, with their result types (:mod:`~morph3d.pipeline.results`).
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "TRACKING_RECONSTRUCTOR",
    "TRACKING_STAGES",
    "FaceResult",
    "Reconstructor",
    "ReconstructorConfig",
    "TrackedFace",
    "Tracker",
    "TrackerConfig",
    "accurate_config",
    "compiled_faces",
    "reconstruct",
    "track_video",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "FaceResult": "results",
        "Reconstructor": "reconstructor",
        "ReconstructorConfig": "reconstructor",
        "accurate_config": "reconstructor",
        "compiled_faces": "reconstructor",
        "TRACKING_RECONSTRUCTOR": "tracker",
        "TRACKING_STAGES": "tracker",
        "TrackedFace": "results",
        "Tracker": "tracker",
        "TrackerConfig": "tracker",
        "reconstruct": "reconstructor",
        "track_video": "tracker",
    },
)
