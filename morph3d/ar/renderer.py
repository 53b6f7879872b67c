"""Rendering meshes over an image with pyrender, headless.

pyrender (and OpenGL) are imported when the first :class:`Renderer` is made
(:func:`morph3d.ar.opengl.load_pyrender`), with one ``OffscreenRenderer`` per frame size, reused
for every frame.

**Scene space** is image pixels with y flipped: a point ``(x, y, z)`` of the scene projects to the
image pixel column ``x`` and row ``-y``; z points toward the viewer. An orthographic camera spans
the image exactly (pixel centres at integer coordinates, as everywhere in morph3d), so the
reconstruction's weak-perspective projection is reproduced pixel for pixel, and so is its depth.

An **occluder** is drawn with an opaque material whose colour and alpha are zero
(:func:`occluder_material`): it fills the depth buffer, so parts behind it fail the depth test,
while its own pixels stay transparent. The layer is RGBA, kept premultiplied.

**Anti-aliasing** (``antialias``): ``"edges"`` (the default) draws one sample a pixel and then
softens the edges it finds (:func:`smooth_edges`); ``"msaa"`` draws pyrender's 4x multisampled
framebuffer. On Mesa's software rasteriser the four samples took most of a large window's time:
the dog effect's layer on the d3 clip (a 448x288 window) took 14-16 ms with them and 8 ms
without, and the edge pass about 0.8 ms (2-core AMD EPYC, session 19). Against the 4x render,
composited over the clip's frames, the pixels on its anti-aliased edges were off by 8.7 (0-255,
mean over channels) for the dog, against 25.6 with no anti-aliasing (hat 5.7 against 22.9, toon
9.3 against 27.3, glasses 1.1 against 2.5); every other pixel matched to 0.2 on average.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np

from morph3d.ar.opengl import load_pyrender, multisampling
from morph3d.ar.shading import LIGHT

__all__ = [
    "EDGE_STEP",
    "Antialias",
    "Renderer",
    "image_to_scene",
    "occluder_material",
    "smooth_edges",
]

Antialias = Literal["edges", "msaa"]

#: Samples a pixel of each anti-aliasing mode's framebuffer (every :data:`Antialias` mode).
_SAMPLES: dict[str, int] = {"edges": 0, "msaa": 4}

#: The step (0-255, in any channel) between neighbouring pixels that :func:`smooth_edges`
#: takes for an edge. The dog, hat, toon and glasses layers gave the same error against the 4x
#: render at 32, 64 and 128: their edges are steps of most of the range, their shading is not.
EDGE_STEP = 64

_NEIGHBOURS = np.ones((3, 3), np.uint8)


def image_to_scene(points: np.ndarray) -> np.ndarray:
    """Image-pixel points ``(..., 3)`` (x right, y down, z toward the viewer) in scene space."""
    out = np.array(points, dtype=np.float64)
    out[..., 1] *= -1
    return out


def occluder_material() -> Any:
    """The material of surfaces that hide without showing: opaque (drawn with the solid meshes,
    writing depth) but with colour and alpha zero, and fully metallic black so that no light
    adds colour either."""
    return load_pyrender().MetallicRoughnessMaterial(
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
        antialias: ``"edges"`` (default: one sample a pixel, then :func:`smooth_edges`) or
            ``"msaa"`` (4x multisampling; better on a GPU). See the module docstring.

    Raises:
        ValueError: an unknown ``antialias``.
    """

    def __init__(
        self, width: int, height: int, depth: float | None = None, antialias: Antialias = "edges"
    ) -> None:
        if antialias not in _SAMPLES:
            raise ValueError(f"antialias must be 'edges' or 'msaa', got {antialias!r}")
        self.antialias = antialias
        self.width, self.height = int(width), int(height)
        self.depth = float(depth or 4 * max(width, height))
        pyrender = self.pyrender = load_pyrender()
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
        pyrender = self.pyrender
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
        with multisampling(_SAMPLES[self.antialias]):
            color, _ = self.renderer.render(self.scene, flags=flags)
        if self.antialias == "edges":
            color = smooth_edges(color)
        layer[y0 : y0 + height, x0 : x0 + width] = color
        return layer

    def _add(self, mesh: Any, pose: np.ndarray) -> Any:
        node = self.scene.add(mesh, pose=np.asarray(pose, dtype=np.float64))
        self._nodes.append(node)
        return node

    def close(self) -> None:
        """Free the OpenGL context."""
        self.renderer.delete()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def smooth_edges(rgba: np.ndarray, step: int = EDGE_STEP) -> np.ndarray:
    """Anti-alias a single-sample render: every pixel beside an edge (a step of at least
    ``step`` in some channel within its 3x3 neighbourhood) becomes the 3x3 tent-weighted mean
    of its neighbourhood, ``[1, 2, 1] / 4`` on each axis; the others are kept.

    Args:
        rgba: ``(H, W, C)`` uint8 image, premultiplied when it has alpha (its colours then
            average as they should).
        step: The smallest step that counts as an edge.

    Returns:
        A new ``(H, W, C)`` uint8 image.
    """
    image = np.ascontiguousarray(rgba, dtype=np.uint8)
    spread = cv2.morphologyEx(image, cv2.MORPH_GRADIENT, _NEIGHBOURS)  # max - min, per channel
    largest = functools.reduce(cv2.max, cv2.split(spread)) if spread.ndim == 3 else spread
    _, edges = cv2.threshold(largest, int(step) - 1, 255, cv2.THRESH_BINARY)  # >= step
    out = image.copy()
    cv2.copyTo(cv2.GaussianBlur(image, (3, 3), 0), edges, out)
    return out


def _look_rotation(towards: np.ndarray) -> np.ndarray:
    """A rotation whose -z axis points against ``towards`` (a light shining from ``towards``)."""
    z = towards / np.linalg.norm(towards)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)
