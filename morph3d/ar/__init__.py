"""Augmented reality: 3D effects attached to tracked faces, rendered with pyrender (layer 6).

* :mod:`~morph3d.ar.effects`: effects (GLB + anchor JSON) and their anchoring to model vertices.
* :mod:`~morph3d.ar.renderer`: :class:`Renderer`, an orthographic, pixel-exact pyrender scene
  with occluders; :mod:`~morph3d.ar.opengl` does the OpenGL set-up when the first one is made.
* :mod:`~morph3d.ar.shading`: per-vertex lighting (:class:`BakedPart`);
  :mod:`~morph3d.ar.compositing`: premultiplied compositing.
* :mod:`~morph3d.ar.session`: :class:`AR`, tracker + effect + renderer for frames in memory;
  :mod:`~morph3d.ar.video`: :func:`augment_video` over a file, timed per stage.

Nothing here is imported by ``import morph3d``; pyrender is imported when a renderer is made.
"""

from __future__ import annotations

from morph3d._lazy import lazy_exports

# -- exports (every name in the modules' __all__) --
__all__ = [
    "AR",
    "EDGE_STEP",
    "EFFECTS",
    "HALFWAY",
    "HEAD",
    "LIGHT",
    "MAKERS",
    "Antialias",
    "BakedPart",
    "Effect",
    "EffectPart",
    "FaceSpace",
    "Renderer",
    "Shading",
    "StageTimes",
    "augment_video",
    "composite",
    "dog",
    "ellipsoid",
    "finish",
    "glasses",
    "hat",
    "head_proxy",
    "image_to_scene",
    "load_effect",
    "load_pyrender",
    "material",
    "multisampling",
    "occluder_material",
    "rod",
    "rotation_x",
    "rotation_y",
    "rotation_z",
    "similarity_transform",
    "smooth_edges",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "AR": "session",
        "Antialias": "renderer",
        "BakedPart": "shading",
        "EDGE_STEP": "renderer",
        "EFFECTS": "effects",
        "Effect": "effects",
        "EffectPart": "effects",
        "FaceSpace": "effects",
        "HALFWAY": "shading",
        "HEAD": "authoring",
        "LIGHT": "shading",
        "MAKERS": "authoring",
        "Renderer": "renderer",
        "Shading": "session",
        "StageTimes": "morph3d.timing",
        "augment_video": "video",
        "composite": "compositing",
        "dog": "authoring",
        "ellipsoid": "authoring",
        "finish": "authoring",
        "glasses": "authoring",
        "hat": "authoring",
        "head_proxy": "authoring",
        "image_to_scene": "renderer",
        "load_effect": "effects",
        "load_pyrender": "opengl",
        "material": "authoring",
        "multisampling": "opengl",
        "occluder_material": "renderer",
        "rod": "authoring",
        "rotation_x": "authoring",
        "rotation_y": "authoring",
        "rotation_z": "authoring",
        "similarity_transform": "effects",
        "smooth_edges": "renderer",
    },
)
