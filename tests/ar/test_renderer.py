"""The AR renderer: pixels read back from EGL renders, occlusion, compositing, whole frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pyrender
import pytest
import trimesh

from morph3d.ar import AR, BakedPart, Renderer, composite, image_to_scene
from morph3d.ar.renderer import smooth_edges
from morph3d.cli import main
from morph3d.io.image import read_image
from morph3d.io.video import VideoReader

from ..conftest import short_clip


def _box(color: tuple[float, float, float, float], extents: float = 20.0) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=(extents,) * 3)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(
            baseColorFactor=[round(255 * c) for c in color],
            roughnessFactor=0.8,
            alphaMode="BLEND" if color[3] < 1 else "OPAQUE",
        )
    )
    return mesh


def _at(x: float, y: float, z: float) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = [x, y, z]
    return pose


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(160, 120)


@pytest.fixture(scope="module")
def multisampled() -> Renderer:
    return Renderer(160, 120, antialias="msaa")


@pytest.mark.parametrize("flat", [True, False])
@pytest.mark.parametrize("antialias", ["edges", "msaa"])
def test_an_object_lands_where_its_projection_says(renderer, multisampled, flat, antialias) -> None:
    box = _box((0.9, 0.1, 0.1, 1.0))
    pose = _at(50.0, -40.0, 0.0)  # scene (50, -40): image column 50, row 40
    mesh = BakedPart(box).mesh(pose) if flat else pyrender.Mesh.from_trimesh(box)
    drawn = renderer if antialias == "edges" else multisampled
    layer = drawn.render([(mesh, pose)], flat=flat)
    alpha = layer[..., 3]
    # the cube's face spans x 40..60, y 30..50: edge pixels are half covered
    assert alpha[32:49, 42:59].min() == 255
    assert alpha[:, :39].max() == 0 and alpha[:, 62:].max() == 0
    assert alpha[:29].max() == 0 and alpha[52:].max() == 0
    # 20 pixels covered across the middle row and column, whichever way the edges are drawn
    assert abs(int(alpha[40].sum()) - 20 * 255) <= 4
    assert abs(int(alpha[:, 50].sum()) - 20 * 255) <= 4
    if antialias == "msaa":  # four samples: the edge pixels are half covered
        assert 80 < alpha[40, 40] < 180 and 80 < alpha[30, 50] < 180
    else:  # one sample, then a [1, 2, 1] / 4 ramp across each edge
        assert sorted(alpha[40, 37:42].tolist())[-4:] == [0, 64, 191, 255]
        assert sorted(alpha[28:33, 50].tolist())[-4:] == [0, 64, 191, 255]
    red = layer[40, 50, :3].astype(int)
    assert red[0] > 2 * red[1] and red[0] > 2 * red[2]


def test_edge_smoothing_agrees_with_multisampling(renderer, multisampled) -> None:
    turned = _at(80.0, -60.0, 0.0)
    turned[:3, :3] = trimesh.transformations.rotation_matrix(0.5, [0, 0, 1])[:3, :3]
    box = _box((0.2, 0.6, 0.9, 1.0), extents=50.0)
    edges, msaa = (  # a part each: a lit mesh is bound to one renderer's context
        r.render([(BakedPart(box).mesh(turned), turned)], flat=True)
        for r in (renderer, multisampled)
    )
    a, b = edges[..., 3].astype(int), msaa[..., 3].astype(int)
    assert abs(a.sum() - b.sum()) < 0.01 * b.sum()  # the same coverage
    inside = cv2.erode(b.astype(np.uint8), np.ones((5, 5), np.uint8)) == 255
    assert np.array_equal(edges[inside], msaa[inside])
    partial = ((a > 0) & (a < 255)) | ((b > 0) & (b < 255))
    assert ((a > 0) & (a < 255)).sum() > 100  # the tilted edges are softened ...
    assert np.abs(a - b)[partial].mean() < 40  # ... close to what four samples give


def test_smooth_edges_softens_steps_and_keeps_the_rest() -> None:
    image = np.zeros((20, 30, 4), np.uint8)
    image[5:15, 10:20] = (40, 80, 120, 255)  # premultiplied, opaque
    image[:, 25:] = np.arange(5, dtype=np.uint8)[None, :, None] * 10  # a gentle ramp
    before = image.copy()
    out = smooth_edges(image)
    assert np.array_equal(image, before)  # a new image
    assert out[10, 8:12, 3].tolist() == [0, 64, 191, 255]  # [1, 2, 1] / 4 across the step
    assert out[10, 10, :3].tolist() == [30, 60, 90]  # colours averaged with the alpha
    assert np.array_equal(out[7:13, 12:18], before[7:13, 12:18])  # inside: kept
    assert np.array_equal(out[:, 26:], before[:, 26:])  # steps under EDGE_STEP: kept
    assert np.array_equal(smooth_edges(image, step=256), before)  # no edges at all


def test_what_is_behind_the_face_is_hidden(renderer) -> None:
    # an occluding square over image columns 30..70, rows 20..60, at depth z = 5
    square = image_to_scene(np.array([[30, 20, 5], [70, 20, 5], [70, 60, 5], [30, 60, 5.0]]))
    triangles = np.array([[0, 2, 1], [0, 3, 2]])  # counter-clockwise seen from +z (y up)
    behind = _box((0.1, 0.8, 0.1, 1.0))
    pose = _at(70.0, -40.0, -20.0)  # spans columns 60..80, behind the square
    layer = renderer.render(
        [(BakedPart(behind).mesh(pose), pose)], [((square, triangles), np.eye(4))], flat=True
    )
    alpha = layer[..., 3]
    assert alpha[35:46, 61:69].max() == 0  # under the square: hidden
    assert alpha[35:46, 72:79].min() == 255  # beside it: shown
    front = _at(70.0, -40.0, 30.0)
    layer = renderer.render(
        [(BakedPart(behind).mesh(front), front)], [((square, triangles), np.eye(4))], flat=True
    )
    assert layer[35:46, 61:79, 3].min() == 255  # in front of it: shown everywhere


def test_tinted_glass_keeps_its_alpha(renderer) -> None:
    glass = _box((0.2, 0.4, 1.0, 0.35))
    pose = _at(80.0, -60.0, 0.0)
    layer = renderer.render([(BakedPart(glass).mesh(pose), pose)], flat=True)
    alpha = int(layer[60, 80, 3])
    assert abs(alpha - 0.35 * 255) <= 3  # not 0.35 squared, as plain blending would give
    frame = np.full((120, 160, 3), 200, np.uint8)
    out = composite(frame, layer)
    assert out[60, 80, 0] < 200 and out[60, 80, 2] > out[60, 80, 0]  # tinted blue


def test_composite_is_premultiplied_over() -> None:
    frame = np.full((4, 4, 3), 200, np.uint8)
    layer = np.zeros((4, 4, 4), np.uint8)
    layer[1, 2] = (64, 0, 0, 128)  # half covered by a dark red
    out = composite(frame, layer)
    kept = round(200 * (1 - 128 / 255))
    assert out[1, 2].tolist() == [kept + 64, kept, kept]
    assert np.array_equal(np.delete(out.reshape(-1, 3), 6, axis=0), np.full((15, 3), 200))
    assert np.array_equal(composite(frame, np.zeros_like(layer)), frame)


def test_composite_rounds_every_pixel_and_alpha_exactly() -> None:
    shade, alpha = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    frame = np.repeat(shade[..., None], 3, axis=2).astype(np.uint8)  # every grey ...
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[..., 3] = alpha  # ... under every alpha, with premultiplied colours up to it
    layer[..., 0], layer[..., 1], layer[..., 2] = alpha // 2, alpha, 0
    out = composite(frame, layer).astype(int)
    kept = (2 * shade * (255 - alpha) + 255) // 510  # frame * (1 - alpha), rounded
    assert np.array_equal(out[..., 0], kept + alpha // 2)
    assert np.array_equal(out[..., 1], np.minimum(kept + alpha, 255))
    assert np.array_equal(out[..., 2], kept)


@pytest.fixture(scope="module")
def portrait(shared_data: Path) -> np.ndarray:
    photo = read_image(shared_data / "photos" / "obama.jpg")
    return cv2.resize(photo[80:960, 10:890], (320, 320), interpolation=cv2.INTER_AREA)


def test_effects_sit_on_a_real_face(portrait) -> None:
    ar = AR("dog")
    out = ar(portrait)
    (face,) = ar.tracker.update(portrait)
    x, y = np.round(face.landmarks[30, :2]).astype(int)  # nose tip
    assert out[y, x].max() < 60 and portrait[y, x].mean() > 80  # the black dog nose is there
    changed = np.abs(out.astype(int) - portrait).sum(axis=2) > 30
    columns = np.nonzero(changed)[1]
    box = face.box
    assert box[0] - 20 < columns.min() and columns.max() < box[2] + 20  # near the head only
    ar.close()


def test_the_tracked_face_hides_what_is_behind_it(portrait) -> None:
    ar = AR("hat")
    (face,) = ar.tracker.update(portrait)
    scene = image_to_scene(face.vertices)
    occluder = ((scene[ar.occluder_vertices], ar.occluder_triangles), np.eye(4))
    x, y = face.landmarks[30, :2]  # a small box over the nose tip ...
    box = _box((0.9, 0.1, 0.1, 1.0), extents=12.0)
    renderer = Renderer(*portrait.shape[1::-1])
    for z, shown in ((scene[:, 2].min() - 20, False), (scene[:, 2].max() + 20, True)):
        pose = _at(x, -y, z)  # ... behind the whole face, then in front of it
        layer = renderer.render([(BakedPart(box).mesh(pose), pose)], [occluder], flat=True)
        patch = layer[round(y) - 4 : round(y) + 5, round(x) - 4 : round(x) + 5, 3]
        assert (patch.min() == 255) if shown else (layer[..., 3].max() == 0)
    renderer.close()
    ar.close()


@pytest.mark.integration
def test_an_unknown_antialias_is_refused() -> None:
    with pytest.raises(ValueError, match="antialias"):
        Renderer(16, 16, antialias="fxaa")  # type: ignore[arg-type]


def test_a_frame_without_a_face_is_unchanged() -> None:
    ar = AR("hat")
    grey = np.full((96, 128, 3), 128, np.uint8)
    assert np.array_equal(ar(grey), grey)
    ar.close()


def test_ar_command(shared_data: Path, portrait: np.ndarray, tmp_path: Path, capsys) -> None:
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    out = tmp_path / "out" / "face_glasses.png"
    assert main(["ar", str(image), "--effect", "glasses", "-o", str(out)]) == 0
    result = read_image(out)
    assert result.shape == portrait.shape and np.abs(result.astype(int) - portrait).max() > 60
    four = tmp_path / "out" / "face_glasses_msaa.png"
    assert (
        main(["ar", str(image), "--effect", "glasses", "-o", str(four), "--antialias", "msaa"]) == 0
    )
    apart = np.abs(read_image(four).astype(int) - result)
    assert 0 < apart.mean() < 0.5  # only edge pixels differ, and by little
    source = VideoReader(shared_data / "videos" / "d11.mp4")
    clip = short_clip(source.path, tmp_path / "clip.mp4", 8)
    video_out = tmp_path / "out" / "clip_hat.mp4"
    assert main(["ar", str(clip), "--effect", "hat", "-o", str(video_out)]) == 0
    written = VideoReader(video_out)
    assert written.fps == source.fps and sum(1 for _ in written) == 8
    assert "ms per frame" in capsys.readouterr().out
    assert main(["ar", str(clip), "--effect", "wings", "-o", str(tmp_path / "x.mp4")]) == 2
    assert not (tmp_path / "x.mp4").exists()
    assert main(["ar", "--effect", "dog"]) == 2


@pytest.mark.slow
def test_torch_still_imports_after_a_render() -> None:
    # Mesa's LLVM and Triton's clash unless Triton is loaded first (morph3d.ar.renderer does that)
    code = (
        "from morph3d.ar.renderer import Renderer; Renderer(32, 32).close(); "
        "import torchvision; print('imported')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-2000:]


def test_toon_lids_shut_in_the_picture_when_the_eyes_blink(portrait) -> None:
    from dataclasses import replace

    ar = AR("toon")
    (face,) = ar.tracker.update(portrait)
    x, y = np.round(face.landmarks[[43, 44, 46, 47], :2].mean(axis=0)).astype(int)  # left eye
    open_eyes = {**face.blendshapes, "eyeBlinkLeft": 0.0, "eyeBlinkRight": 0.0}
    shut = {**face.blendshapes, "eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}
    pictures = []
    for values in (open_eyes, shut):
        pictures.append(ar.render(portrait, [replace(face, blendshapes=values)]))
    patch_open = pictures[0][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)
    patch_shut = pictures[1][y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)
    # open: the white eyeball or the black pupil (grey levels alike); shut: the purple lid
    assert abs(patch_open[0] - patch_open[1]) < 25
    assert patch_shut[2] > patch_shut[1] + 40 and patch_shut[0] > patch_shut[1] + 20
    ar.close()
