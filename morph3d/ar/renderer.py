"""Rendering AR effects onto tracked faces with pyrender, and compositing them (layer 5).

pyrender (and OpenGL) are imported only here. Rendering is headless through EGL
(``PYOPENGL_PLATFORM=egl`` unless already set) with one ``OffscreenRenderer`` per frame size,
reused for every frame.

**Scene space** is image pixels with y flipped: a point ``(x, y, z)`` of the scene projects to the
image pixel column ``x`` and row ``-y``; z points toward the viewer. An orthographic camera spans
the image exactly (pixel centres at integer coordinates, as everywhere in morph3d), so the
reconstruction's weak-perspective projection is reproduced pixel for pixel, and so is its depth.

Each face's mesh is drawn as an **occluder**: an opaque material whose colour and alpha are
zero. It fills the depth buffer, so effect parts behind the face fail the depth test, while its
own pixels stay transparent. Effects may carry more occluders (a head proxy). pyrender renders
with 4x multisampling into RGBA; the blending is switched to keep
the output premultiplied (colour blended with alpha, alpha accumulated with ``one,
one-minus-source-alpha``), so anti-aliased edges and tinted glass composite over the frame with
``out = frame * (1 - alpha) + colour``.

:class:`AR` ties the tracker, the effect and the renderer together for frames in memory;
:func:`augment_video` runs it over a video and times every stage.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from morph3d.ar.effects import Effect, load_effect
from morph3d.io.image import ChannelOrder, as_rgb
from morph3d.core.mesh import grid_triangles
from morph3d.progress import Progress, no_progress
from morph3d.pipeline.tracker import TrackedFace, Tracker
from morph3d.io.video import VideoReader, VideoWriter

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import pyrender  # after PYOPENGL_PLATFORM is set
import pyrender.renderer
from OpenGL import GL

__all__ = [
    "AR",
    "BakedPart",
    "Renderer",
    "StageTimes",
    "augment_video",
    "composite",
    "image_to_scene",
    "occluder_material",
]


def _premultiplied_blend(source: int, destination: int) -> None:
    """pyrender's blending, with alpha accumulated for compositing (see the module docstring)."""
    alpha_source = GL.GL_ONE
    alpha_destination = GL.GL_ZERO if destination == GL.GL_ZERO else GL.GL_ONE_MINUS_SRC_ALPHA
    GL.glBlendFuncSeparate(source, destination, alpha_source, alpha_destination)


# pyrender calls glBlendFunc(SRC_ALPHA, ONE_MINUS_SRC_ALPHA) for transparent materials, which
# squares alpha over a clear background; route its calls through the separate-alpha version.
pyrender.renderer.glBlendFunc = _premultiplied_blend


def _load_triton_first() -> None:
    """Load Triton's compiler library (when installed, as torch's CUDA wheels do) before Mesa's.

    Mesa's software rasteriser links its own LLVM; Triton's library loaded after it crashes the
    process (a segmentation fault in ``import torchvision`` after a render, measured here with
    Mesa 22.3 llvmpipe). Loaded in the other order both work, so the renderer loads Triton first.
    """
    if importlib.util.find_spec("triton") is None:
        return
    try:
        importlib.import_module("triton._C.libtriton")
    except Exception:  # a broken Triton only matters to torch, not to rendering
        pass


def image_to_scene(points: np.ndarray) -> np.ndarray:
    """Image-pixel points ``(..., 3)`` (x right, y down, z toward the viewer) in scene space."""
    out = np.array(points, dtype=np.float64)
    out[..., 1] *= -1
    return out


def composite(frame: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """``frame * (1 - alpha) + colour`` for a premultiplied RGBA ``layer``; returns a new frame.

    Only the rectangle where ``layer`` has any alpha is touched.
    """
    out = frame.copy()
    alpha = layer[..., 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if not len(rows):
        return out
    columns = np.flatnonzero(alpha.any(axis=0))
    window = np.s_[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    part = layer[window].astype(np.float32)
    weight = part[..., 3:] / 255.0
    blended = frame[window].astype(np.float32) * (1.0 - weight) + part[..., :3]
    out[window] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out


#: Direction toward the key light in scene space (upper left, in front), for baked shading.
LIGHT = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])


#: Halfway between the light and the view direction (+z), for the highlight.
HALFWAY = (LIGHT + np.array([0.0, 0.0, 1.0])) / np.linalg.norm(LIGHT + np.array([0.0, 0.0, 1.0]))


def occluder_material() -> Any:
    """The material of surfaces that hide without showing: opaque (drawn with the solid meshes,
    writing depth) but with colour and alpha zero, and fully metallic black so that no light
    adds colour either."""
    return pyrender.MetallicRoughnessMaterial(
        baseColorFactor=(0.0, 0.0, 0.0, 0.0),
        metallicFactor=1.0,
        roughnessFactor=1.0,
        alphaMode="OPAQUE",
        doubleSided=True,
    )


class Renderer:
    """Renders meshes in scene space over an image of a fixed size.

    Only the window of the image that the visible objects project into is rendered (its size
    rounded up to 32 px, so that framebuffers are rarely reallocated).

    Args:
        width, height: Image size in pixels.
        depth: Scene depth range in pixels on each side of z = 0 (default: 4x the larger side).
    """

    def __init__(self, width: int, height: int, depth: float | None = None) -> None:
        self.width, self.height = int(width), int(height)
        self.depth = float(depth or 4 * max(width, height))
        _load_triton_first()
        self.renderer = pyrender.OffscreenRenderer(self.width, self.height)
        self.scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(0.45,) * 3)
        self.camera = pyrender.OrthographicCamera(
            xmag=self.width / 2, ymag=self.height / 2, znear=1.0, zfar=3 * self.depth
        )
        self.camera_node = self.scene.add(self.camera)
        light = np.eye(4)
        light[:3, :3] = _look_rotation(LIGHT)
        self.scene.add(pyrender.DirectionalLight(intensity=3.0), pose=light)
        self.occluder_material = occluder_material()
        self._nodes: list[Any] = []
        #: The last rendered window ``(x0, y0, width, height)`` in image pixels.
        self.window = (0, 0, 0, 0)

    def _window(self, objects: Sequence[tuple[Any, np.ndarray]]) -> tuple[int, int, int, int]:
        """The image rectangle the objects project into, padded, its size rounded up to 32 px."""
        corners = []
        for mesh, pose in objects:
            low, high = mesh.bounds
            box = np.array([[x, y, z, 1.0] for x in (low[0], high[0])
                            for y in (low[1], high[1]) for z in (low[2], high[2])])  # fmt: skip
            corners.append((box @ np.asarray(pose, dtype=np.float64).T)[:, :2])
        points = np.concatenate(corners)
        x0 = max(int(np.floor(points[:, 0].min())) - 2, 0)
        x1 = min(int(np.ceil(points[:, 0].max())) + 3, self.width)
        y0 = max(int(np.floor(-points[:, 1].max())) - 2, 0)
        y1 = min(int(np.ceil(-points[:, 1].min())) + 3, self.height)
        if x1 <= x0 or y1 <= y0:
            return (0, 0, 0, 0)
        width = min(-(-(x1 - x0) // 32) * 32, self.width)
        height = min(-(-(y1 - y0) // 32) * 32, self.height)
        return (min(x0, self.width - width), min(y0, self.height - height), width, height)

    def render(
        self,
        objects: Sequence[tuple[Any, np.ndarray]],
        occluders: Sequence[tuple[Any, np.ndarray]] = (),
        flat: bool = False,
    ) -> np.ndarray:
        """Render one frame's layer.

        Args:
            objects: ``(pyrender.Mesh, 4x4 pose in scene space)`` pairs to draw.
            occluders: ``(pyrender.Mesh or (vertices (N, 3), triangles (F, 3)), 4x4 pose)``
                pairs that only hide what is behind them (the face, a head proxy); a given
                mesh must use :func:`occluder_material`.
            flat: Draw vertex colours as they are (lighting baked in, see :class:`BakedPart`)
                instead of pyrender's physically based shading.

        Returns:
            ``(height, width, 4)`` uint8 premultiplied RGBA.
        """
        for node in self._nodes:
            self.scene.remove_node(node)
        self._nodes = []
        layer = np.zeros((self.height, self.width, 4), np.uint8)
        self.window = self._window(objects) if objects else (0, 0, 0, 0)
        x0, y0, width, height = self.window
        if not width:
            return layer
        for mesh, pose in objects:
            self._add(mesh, pose)
        for mesh, pose in occluders:
            if isinstance(mesh, tuple):
                vertices, triangles = mesh
                primitive = pyrender.Primitive(
                    positions=np.asarray(vertices, dtype=np.float32),
                    indices=np.asarray(triangles, dtype=np.uint32),
                    material=self.occluder_material,
                )
                mesh = pyrender.Mesh([primitive])
            self._add(mesh, pose)
        self.renderer.viewport_width, self.renderer.viewport_height = width, height
        self.camera.xmag, self.camera.ymag = width / 2, height / 2
        pose = np.eye(4)
        pose[:3, 3] = [x0 + (width - 1) / 2, -(y0 + (height - 1) / 2), 2 * self.depth]
        self.scene.set_pose(self.camera_node, pose)
        flags = pyrender.RenderFlags.RGBA | (pyrender.RenderFlags.FLAT if flat else 0)
        color, _ = self.renderer.render(self.scene, flags=flags)
        layer[y0 : y0 + height, x0 : x0 + width] = color
        return layer

    def _add(self, mesh: Any, pose: np.ndarray) -> Any:
        node = self.scene.add(mesh, pose=np.asarray(pose, dtype=np.float64))
        self._nodes.append(node)
        return node

    def close(self) -> None:
        """Free the OpenGL context."""
        self.renderer.delete()


def _look_rotation(towards: np.ndarray) -> np.ndarray:
    """A rotation whose -z axis points against ``towards`` (a light shining from ``towards``)."""
    z = towards / np.linalg.norm(towards)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


@dataclass
class StageTimes:
    """Seconds spent per stage over a run, and the frames counted.

    ``first_frame`` is the wall time of the first frame, one-time set-up included (the OpenGL
    context and shaders are made on the first face), when the runner records it.
    """

    seconds: dict[str, float] = field(default_factory=dict)
    frames: int = 0
    first_frame: float = 0.0

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def per_frame_ms(self) -> dict[str, float]:
        """Milliseconds per frame, per stage."""
        return {k: 1000 * v / max(self.frames, 1) for k, v in self.seconds.items()}

    def fps(self) -> float:
        """Frames per second over all stages."""
        return self.frames / max(sum(self.seconds.values()), 1e-12)

    def steady_fps(self) -> float:
        """Frames per second after the first frame (without one-time set-up)."""
        rest = sum(self.seconds.values()) - self.first_frame
        return (self.frames - 1) / rest if self.frames > 1 and rest > 0 else self.fps()


class BakedPart:
    """An effect part whose lighting is computed per vertex on the CPU each frame.

    pyrender's physically based fragment shader is slow on a software OpenGL (with Mesa
    llvmpipe the colour pass took twice as long as with flat colours), so by default the colour
    of every vertex is computed here — ambient, Lambert diffuse and a Blinn-Phong highlight whose
    sharpness and strength follow the material's roughness — and drawn flat (interpolated across
    triangles).

    Args:
        mesh: ``trimesh.Trimesh`` with a PBR material (base colour, roughness, alpha mode).
    """

    def __init__(self, mesh: Any) -> None:
        material = getattr(mesh.visual, "material", None)
        factor = getattr(material, "baseColorFactor", None)
        base = np.asarray([200, 200, 200, 255] if factor is None else factor, dtype=np.float64)
        base = base / (255.0 if base.max() > 1 else 1.0)
        self.color = base[:3]
        self.alpha = float(base[3])
        self.roughness = float(getattr(material, "roughnessFactor", None) or 0.6)
        self.positions = np.asarray(mesh.vertices, dtype=np.float32)
        self.normals = np.asarray(mesh.vertex_normals, dtype=np.float64)
        self.indices = np.asarray(mesh.faces, dtype=np.uint32)
        self.material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(1.0, 1.0, 1.0, self.alpha),
            alphaMode="BLEND" if self.alpha < 1 else "OPAQUE",
        )
        self._lit: tuple[np.ndarray, Any] | None = None

    #: Turn (degrees) after which a part is lit again.
    RELIGHT_DEGREES = 2.0

    def colors(self, rotation: np.ndarray) -> np.ndarray:
        """``(N, 4)`` lit vertex colours for a part turned by ``rotation`` (scene space)."""
        normals = self.normals @ rotation.T
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        diffuse = np.clip(normals @ LIGHT, 0.0, None)
        shininess = min(2.0 / max(self.roughness, 0.05) ** 4, 512.0)
        highlight = (1.0 - self.roughness) * np.clip(normals @ HALFWAY, 0.0, None) ** shininess
        rgb = self.color * (0.45 + 0.75 * diffuse[:, None]) + 0.6 * highlight[:, None]
        # alpha lives in the material (which makes pyrender blend); the shader multiplies both
        return np.concatenate([np.clip(rgb, 0, 1), np.ones((len(rgb), 1))], axis=1)

    def mesh(self, pose: np.ndarray) -> Any:
        """A pyrender mesh lit for ``pose`` (its rotation; the pose itself goes on the node).

        The last mesh is reused while the part has turned by less than :attr:`RELIGHT_DEGREES`
        since it was lit (lighting barely changes; uploading a new mesh costs every frame).
        """
        linear = pose[:3, :3]
        rotation = linear / np.cbrt(max(abs(np.linalg.det(linear)), 1e-300))
        if self._lit is not None:
            lit_rotation, lit_mesh = self._lit
            cosine = (np.trace(lit_rotation.T @ rotation) - 1.0) / 2.0
            if cosine > np.cos(np.radians(self.RELIGHT_DEGREES)):
                return lit_mesh
        primitive = pyrender.Primitive(
            positions=self.positions,
            color_0=self.colors(rotation).astype(np.float32),
            indices=self.indices,
            material=self.material,
        )
        mesh = pyrender.Mesh([primitive])
        self._lit = (rotation, mesh)
        return mesh


class AR:
    """An effect on every tracked face of consecutive frames.

    Args:
        effect: A shipped effect name (``"dog"``, ``"glasses"``, ``"hat"``), an
            :class:`~morph3d.ar.effects.Effect`, or the path of an effect's ``.glb``.
        tracker: The tracker (default: a new :class:`~morph3d.pipeline.tracker.Tracker`, whose 1€ filter
            keeps the objects steady).
        shading: ``"baked"`` (default: per-vertex lighting on the CPU, drawn flat, fast on a
            software OpenGL; see :class:`BakedPart`) or ``"pbr"`` (pyrender's shader; better
            on a GPU).
        **options: Passed to the default tracker (``fps``, ``config``, ``weights``, ``spin``
            (default off here), ...).

    >>> ar = AR("glasses")                                         # doctest: +SKIP
    >>> out = ar(frame)              # the frame with the effect    # doctest: +SKIP
    """

    def __init__(
        self, effect: str | os.PathLike[str] | Effect = "dog", tracker: Tracker | None = None,
        shading: str = "baked", **options: Any,
    ) -> None:  # fmt: skip
        self.tracker = tracker or Tracker(**options)  # no thread spinning (see Tracker)
        model = self.tracker.reconstructor.model
        self.effect = effect if isinstance(effect, Effect) else load_effect(effect, model)
        # The face occluder: every other row and column of the model's grid (a quarter of the
        # vertices to upload each frame), wound counter-clockwise seen from outside in y-up space.
        coarse = model.grid[::2, ::2]
        self.occluder_vertices = coarse.reshape(-1)
        self.occluder_triangles = grid_triangles(np.arange(coarse.size).reshape(coarse.shape))
        if shading not in ("baked", "pbr"):
            raise ValueError(f"shading must be 'baked' or 'pbr', got {shading!r}")
        self.shading = shading
        self.occluding = [part.role == "occluder" for part in self.effect.parts]
        self.meshes = [
            BakedPart(part.mesh)
            if shading == "baked" and not hides
            else pyrender.Mesh.from_trimesh(
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
            self.renderer = Renderer(width, height)
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
                self.meshes, self.effect.poses(full), self.occluding, strict=True
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
        """Free the renderer."""
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None


def augment_video(
    video: VideoReader,
    output: str | os.PathLike[str],
    ar: AR,
    progress: Progress = no_progress,
) -> StageTimes:
    """Decode, track, render, composite and encode every decodable frame of ``video``.

    The output has the input's frame rate and one frame per decoded frame.

    Returns:
        The time spent per stage (decode, track, render, composite, encode).
    """
    ar.times = StageTimes()
    total = video.declared_frames or None
    frames: Iterator[Any] = iter(
        progress(video, desc=f"AR {video.path.name}", total=total, unit="frame")
    )
    with VideoWriter(output, video.fps, (video.width, video.height)) as writer:
        while True:
            first = started = time.perf_counter()
            frame = next(frames, None)
            ar.times.add("decode", time.perf_counter() - started)
            if frame is None:
                break
            out = ar(frame.image, frame.time)
            started = time.perf_counter()
            writer.write(out)
            ar.times.add("encode", time.perf_counter() - started)
            if ar.times.frames == 1:
                ar.times.first_frame = time.perf_counter() - first
    return ar.times
