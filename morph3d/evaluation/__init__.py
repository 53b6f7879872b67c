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
    "contact_sheet",
    "draw_label",
    "draw_landmarks",
    "draw_pose_axes",
    "draw_wireframe",
    "evaluate_faces",
    "machine_info",
    "overlay_face",
    "plot_ced",
    "plot_eye_aperture",
    "plot_steadiness",
    "run_benchmark",
    "shade_mesh",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "Boxer": "accuracy",
        "Evaluation": "accuracy",
        "contact_sheet": "draw",
        "draw_label": "draw",
        "draw_landmarks": "draw",
        "draw_pose_axes": "draw",
        "draw_wireframe": "draw",
        "evaluate_faces": "accuracy",
        "machine_info": "speed",
        "overlay_face": "draw",
        "plot_ced": "plots",
        "plot_eye_aperture": "plots",
        "plot_steadiness": "plots",
        "run_benchmark": "speed",
        "shade_mesh": "draw",
    },
)
