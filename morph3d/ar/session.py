"""The AR session: a tracker, an effect and a renderer for consecutive frames in memory."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from morph3d.ar.compositing import composite
from morph3d.ar.effects import Effect, load_effect
from morph3d.ar.opengl import load_pyrender
from morph3d.ar.renderer import Antialias, Renderer, image_to_scene, occluder_material
from morph3d.ar.shading import BakedPart
from morph3d.core.mesh import grid_triangles
from morph3d.io.image import ChannelOrder, as_rgb
from morph3d.pipeline.results import TrackedFace
from morph3d.pipeline.tracker import Tracker
from morph3d.timing import StageTimes

__all__ = ["AR", "Shading"]

Shading = Literal["baked", "pbr"]


class AR:
    """An effect on every tracked face of consecutive frames.

    Args:
        effect: A shipped effect name (``"dog"``, ``"glasses"``, ``"hat"``, ``"toon"``), an
            :class:`~morph3d.ar.effects.Effect`, or the path of an effect's ``.glb``.
        tracker: The tracker whose faces get the effect (default: a new
            :class:`~morph3d.pipeline.tracker.Tracker` with its default settings; its 1€
            filter keeps the objects steady). Give one to choose the network, the detector,
            the smoothing or the frame rate.
        shading: ``"baked"`` (default: per-vertex lighting on the CPU, drawn flat, fast on a
            software OpenGL; see :class:`~morph3d.ar.shading.BakedPart`) or ``"pbr"``
            (pyrender's shader; better on a GPU).
        antialias: ``"edges"`` (default: one sample a pixel and the edges softened after,
            fast on a software OpenGL) or ``"msaa"`` (4x multisampling; better on a GPU); see
            :mod:`morph3d.ar.renderer`.

    A context manager: leaving ``with AR(...) as ar:`` frees the OpenGL context and sessions.

    >>> ar = AR("glasses", Tracker(fps=25))                        # doctest: +SKIP
    >>> out = ar(frame)              # the frame with the effect    # doctest: +SKIP

    Raises:
        ModelNotFoundError: the effect or a model file is missing.
        ValueError: an unknown shading or anti-aliasing.
    """

    def __init__(
        self,
        effect: str | os.PathLike[str] | Effect = "dog",
        tracker: Tracker | None = None,
        shading: Shading = "baked",
        antialias: Antialias = "edges",
    ) -> None:
        self.tracker = tracker or Tracker()
        model = self.tracker.reconstructor.model
        self.effect = effect if isinstance(effect, Effect) else load_effect(effect, model)
        # The face occluder: every other row and column of the model's grid (a quarter of the
        # vertices to upload each frame), wound counter-clockwise seen from outside in y-up space.
        coarse = model.grid[::2, ::2]
        self.occluder_vertices = coarse.reshape(-1)
        self.occluder_triangles = grid_triangles(np.arange(coarse.size).reshape(coarse.shape))
        if shading not in ("baked", "pbr"):
            raise ValueError(f"shading must be 'baked' or 'pbr', got {shading!r}")
        if antialias not in get_args(Antialias):
            raise ValueError(f"antialias must be 'edges' or 'msaa', got {antialias!r}")
        self.shading = shading
        self.antialias: Antialias = antialias
        self.occluding = [part.role == "occluder" for part in self.effect.parts]
        self.meshes = [
            BakedPart(part.mesh)
            if shading == "baked" and not hides
            else load_pyrender().Mesh.from_trimesh(
                part.mesh, material=occluder_material() if hides else None, smooth=True
            )
            for part, hides in zip(self.effect.parts, self.occluding, strict=True)
        ]
        self.renderer: Renderer | None = None
        self.times = StageTimes()

    def layer(self, faces: Sequence[TrackedFace], width: int, height: int) -> np.ndarray:
        """The premultiplied RGBA layer of the effect on ``faces`` for a frame of this size."""
        if self.renderer is None or (self.renderer.width, self.renderer.height) != (width, height):
            if self.renderer is not None:
                self.renderer.close()
            self.renderer = Renderer(width, height, antialias=self.antialias)
        model = self.tracker.reconstructor.model
        objects: list[tuple[Any, np.ndarray]] = []
        occluders: list[tuple[Any, np.ndarray]] = []
        for face in faces:
            scene = image_to_scene(face.vertices)
            # every model vertex the anchors may name: the surface, then the landmark rows
            full = np.full((model.n_vertices, 3), np.nan)
            full[: len(scene)] = scene
            full[model.landmark_indices] = image_to_scene(face.landmarks)
            for mesh, pose, hides in zip(
                self.meshes, self.effect.poses(full, face.blendshapes), self.occluding, strict=True
            ):
                if isinstance(mesh, BakedPart):
                    mesh = mesh.mesh(pose)
                (occluders if hides else objects).append((mesh, pose))
            occluder = (scene[self.occluder_vertices], self.occluder_triangles)
            occluders.append((occluder, np.eye(4)))
        return self.renderer.render(objects, occluders, flat=self.shading == "baked")

    def render(self, frame: np.ndarray, faces: Sequence[TrackedFace]) -> np.ndarray:
        """``frame`` (RGB) with the effect drawn on ``faces``; unchanged when there are none."""
        if not faces:
            return frame.copy()
        started = time.perf_counter()
        layer = self.layer(faces, frame.shape[1], frame.shape[0])
        middle = time.perf_counter()
        out = composite(frame, layer)
        self.times.add("render", middle - started)
        self.times.add("composite", time.perf_counter() - middle)
        return out

    def __call__(
        self, frame: Any, timestamp: float | None = None, channel_order: ChannelOrder = "rgb"
    ) -> np.ndarray:
        """Track the next frame and draw the effect on its faces; returns an RGB frame."""
        rgb = as_rgb(frame, channel_order)
        started = time.perf_counter()
        faces = self.tracker.update(rgb, timestamp)
        self.times.add("track", time.perf_counter() - started)
        self.times.frames += 1
        return self.render(rgb, faces)

    def close(self) -> None:
        """Free the renderer and the tracker's sessions."""
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None
        self.tracker.close()

    def __enter__(self) -> AR:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
