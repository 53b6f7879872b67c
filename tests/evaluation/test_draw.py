from __future__ import annotations

import numpy as np

from morph3d.evaluation.draw import draw_landmarks, shade_mesh

# A triangle counter-clockwise in a y-up frame; in image pixels (y down) it looks clockwise.
TRIANGLE = np.array([[0, 1, 2]])
VERTICES = np.array([[10.0, 40.0, 0.0], [40.0, 40.0, 0.0], [10.0, 10.0, 0.0]])


def test_front_facing_triangle_is_drawn_where_it_is() -> None:
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    out = shade_mesh(image, VERTICES, TRIANGLE, color=(100, 150, 200), alpha=1.0)
    assert out[30, 15].min() > 0  # inside (row = y, column = x)
    assert out[12, 38].max() == 0  # outside, across the hypotenuse
    assert out[45, 45].max() == 0
    assert image.max() == 0  # the input is left alone


def test_back_facing_triangle_is_culled() -> None:
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    out = shade_mesh(image, VERTICES, TRIANGLE[:, ::-1], alpha=1.0)
    assert out.max() == 0


def test_mesh_over_the_border_is_drawn_as_on_a_larger_image(tiny_model) -> None:
    """Only the mesh's window is blended: a mesh hanging over two edges of a small image gives
    the pixels of the same mesh drawn on a larger image, cut to the small one."""
    rng = np.random.default_rng(3)
    grid = np.asarray(tiny_model.mean, dtype=np.float64)
    span = np.ptp(grid[:, :2], axis=0).max()
    vertices = (grid - grid.mean(axis=0)) * (60.0 / span)
    vertices[:, 1] *= -1  # image y points down
    vertices += np.array([8.0, 12.0, 0.0])  # the centre near the top-left corner
    small = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    large = rng.integers(0, 256, (148, 164, 3), dtype=np.uint8)
    large[50:98, 70:134] = small
    drawn = shade_mesh(small, vertices, tiny_model.triangles, alpha=0.7)
    moved = vertices + np.array([70.0, 50.0, 0.0])
    wide = shade_mesh(large, moved, tiny_model.triangles, alpha=0.7)
    assert np.array_equal(drawn, wide[50:98, 70:134])
    assert (drawn != small).any(axis=-1).mean() > 0.2  # the mesh covers part of the image


def test_mesh_outside_the_image_draws_nothing(tiny_model) -> None:
    image = np.full((20, 30, 3), 77, dtype=np.uint8)
    vertices = np.array([[100.0, 140.0, 0.0], [140.0, 140.0, 0.0], [100.0, 100.0, 0.0]])
    assert np.array_equal(shade_mesh(image, vertices, TRIANGLE, alpha=1.0), image)
    assert np.array_equal(shade_mesh(image, vertices - 200.0, TRIANGLE, alpha=1.0), image)


def test_landmarks_are_dots_at_their_pixels() -> None:
    out = draw_landmarks(np.zeros((20, 20, 3), dtype=np.uint8), np.array([[5.0, 12.0]]), radius=2)
    assert tuple(out[12, 5]) == (255, 0, 0)
    assert out[2, 15].max() == 0


def test_pose_axes_point_along_the_rotation() -> None:
    from morph3d.evaluation.draw import draw_pose_axes

    out = draw_pose_axes(np.zeros((100, 100, 3), np.uint8), np.eye(3), np.array([50.0, 50.0]), 40)
    red = out[..., 0] > 150
    green = out[..., 1] > 150
    assert red[50, 80] and not red[50, 20]  # x axis: to the right
    assert green[20, 50] and not green[80, 50]  # y axis: up in the image (y-up frame)


def test_wireframe_draws_front_facing_grid_lines(tiny_model) -> None:
    from morph3d.core.crop import crop_to_image
    from morph3d.evaluation.draw import draw_wireframe

    params = tiny_model.layout.mean.copy()
    vertices = crop_to_image(tiny_model.decode(params), np.array([0.0, 0.0, 120.0, 120.0]))
    image = np.zeros((120, 120, 3), dtype=np.uint8)
    grid, triangles = tiny_model.grid, tiny_model.triangles
    out = draw_wireframe(image, vertices, grid, triangles, color=(0, 255, 0), step=1)
    assert image.max() == 0 and out[..., 1].max() > 0 and out[..., 0].max() == 0
    middle = (vertices[grid[0, 0], :2] + vertices[grid[0, 1], :2]) / 2  # on the first row's edge
    assert out[round(middle[1]), round(middle[0]), 1] > 0
    # the same surface seen from behind (x mirrored) faces away and is not drawn
    mirrored = vertices * np.array([-1.0, 1.0, 1.0]) + np.array([120.0, 0.0, 0.0])
    assert draw_wireframe(image, mirrored, grid, triangles).max() == 0
