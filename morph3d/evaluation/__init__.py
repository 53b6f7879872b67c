"""Measuring and showing (layer 6): landmark accuracy on annotated datasets, speed figures,
plots and drawings for people to look at. Benchmarks that print live in ``scripts/``; this
package only computes and draws.
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "Boxer",
    "Evaluation",
    "acceleration_jitter",
    "clip_steadiness",
    "contact_sheet",
    "draw_label",
    "draw_landmarks",
    "draw_pose_axes",
    "draw_wireframe",
    "evaluate_faces",
    "jitter",
    "letterbox",
    "longest_run",
    "machine_info",
    "moving_error",
    "overlay_face",
    "photo_steadiness",
    "pixel_jitter",
    "plot_ced",
    "plot_eye_aperture",
    "plot_steadiness",
    "portrait",
    "run_landmarker",
    "run_tracker",
    "shade_mesh",
    "steadiness_figures",
    "time_call",
    "time_stages",
    "timing_summary",
    "track_lag",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "Boxer": "accuracy",
        "Evaluation": "accuracy",
        "acceleration_jitter": "steadiness",
        "clip_steadiness": "steadiness",
        "contact_sheet": "draw",
        "draw_label": "draw",
        "draw_landmarks": "draw",
        "draw_pose_axes": "draw",
        "draw_wireframe": "draw",
        "evaluate_faces": "accuracy",
        "jitter": "steadiness",
        "letterbox": "speed",
        "longest_run": "steadiness",
        "machine_info": "speed",
        "moving_error": "steadiness",
        "overlay_face": "draw",
        "photo_steadiness": "steadiness",
        "pixel_jitter": "steadiness",
        "plot_ced": "plots",
        "plot_eye_aperture": "plots",
        "plot_steadiness": "plots",
        "portrait": "steadiness",
        "run_landmarker": "steadiness",
        "run_tracker": "steadiness",
        "shade_mesh": "draw",
        "steadiness_figures": "steadiness",
        "time_call": "speed",
        "time_stages": "speed",
        "timing_summary": "speed",
        "track_lag": "steadiness",
    },
)
