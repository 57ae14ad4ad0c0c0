"""Dense maps: PNCC equals normalised coordinates, depth ordering, normals, shading, UV texture."""
import numpy as np
import pytest

from tddfa.facemodel import FaceModel
from tddfa.render import (depth_map, depth_to_uint16, pncc_code, render_depth, render_pncc, render_shaded,
                          uv_texture, vertex_normals)


def grid_model(n: int = 9, bump: float = 0.0) -> FaceModel:
    """A toy face model: an n x n grid over [-1, 1]^2 (model frame, y up), z = bump * (1 - x^2 - y^2)."""
    g = np.linspace(-1, 1, n)
    x, y = np.meshgrid(g, g[::-1])  # row 0 at the top (y = +1)
    mean = np.c_[x.ravel(), y.ravel(), bump * (1 - x.ravel() ** 2 - y.ravel() ** 2)].astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    # counter-clockwise seen from +z in the y-up model frame
    a, b, c, d = idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:], idx[:-1, :-1]
    tri = np.concatenate([np.c_[a.ravel(), b.ravel(), c.ravel()], np.c_[a.ravel(), c.ravel(), d.ravel()]])
    uv = ((mean[:, :2] + 1) / 2).astype(np.float32)
    return FaceModel(mean=mean, basis=np.zeros((3 * n * n, 50), np.float32), triangles=tri.astype(np.int32),
                     keypoints=np.arange(68) % (n * n), uv=uv, param_mean=np.zeros(62, np.float32),
                     param_std=np.ones(62, np.float32), name="grid")


def to_image(model: FaceModel, scale: float, cx: float, cy: float, z0: float = 0.0) -> np.ndarray:
    """Model frame (y up) -> image frame (y down), uniform scale."""
    m = model.mean
    return np.c_[m[:, 0] * scale + cx, -m[:, 1] * scale + cy, m[:, 2] * scale + z0].astype(np.float32)


def test_pncc_code_is_the_normalised_mean_shape():
    m = grid_model(7, bump=0.3)
    code = pncc_code(m)
    assert code.shape == (49, 3)
    mean = m.mean.astype(np.float64)
    for k in range(3):
        expect = (mean[:, k] - mean[:, k].min()) / (mean[:, k].max() - mean[:, k].min())
        np.testing.assert_allclose(code[:, k], expect, atol=1e-6)


def test_rendered_pncc_colours_equal_normalised_coordinates():
    m = grid_model(9, bump=0.5)
    verts = to_image(m, 20.0, 30.0, 30.0)  # vertices land exactly on pixel centres (step 5 px)
    img = np.full((60, 60, 3), 77, np.uint8)
    out = render_pncc(img, [verts], m, background=True)
    code = pncc_code(m)
    xi, yi = np.round(verts[:, 0]).astype(int), np.round(verts[:, 1]).astype(int)
    expect_bgr = np.round(code[:, ::-1] * 255)
    np.testing.assert_allclose(out[yi, xi].astype(float), expect_bgr, atol=1.0)
    assert (out[0, 0] == 77).all()  # background kept outside the face
    # between vertices the colour is the interpolated code (x -> red channel grows left to right)
    row = out[30, 10:51, 2].astype(int)
    assert (np.diff(row) >= 0).all() and row[0] < 5 and row[-1] > 250


def test_normals_point_to_the_viewer_for_an_outward_mesh():
    m = grid_model(5)
    n = vertex_normals(to_image(m, 10, 20, 20), m.triangles)
    np.testing.assert_allclose(n, np.tile([0, 0, 1], (25, 1)), atol=1e-6)
    n_model = vertex_normals(m.mean, m.triangles, image_frame=False)
    np.testing.assert_allclose(n_model, n, atol=1e-6)


def test_depth_is_bright_where_near_and_black_where_empty():
    m = grid_model(11, bump=1.0)  # a dome: the centre is nearest
    verts = to_image(m, 20, 30, 30)
    img = np.zeros((60, 60, 3), np.uint8)
    out = render_depth(img, [verts], m)
    assert out[30, 30, 0] > 240 and out[30, 30, 0] > out[30, 15, 0] > out[30, 11, 0]
    assert (out[5, 5] == 0).all()
    raw = depth_map([verts], m, 60, 60)
    assert raw[30, 30] == pytest.approx(20.0, abs=0.05)
    d16 = depth_to_uint16(raw)
    assert d16.dtype == np.uint16 and d16[5, 5] == 0 and d16[30, 30] == 65535 and 0 < d16[30, 11] < d16[30, 20]


def test_shaded_render_blends_only_over_the_face():
    m = grid_model(9, bump=0.5)
    img = np.full((60, 60, 3), 10, np.uint8)
    out = render_shaded(img, [to_image(m, 20, 30, 30)], m, alpha=0.6)
    assert (out[2, 2] == 10).all()
    assert out[30, 30].min() > 100  # lit from the front: bright
    assert out.dtype == np.uint8 and out.shape == img.shape


def test_uv_texture_samples_the_image_and_masks_hidden_texels():
    m = grid_model(9)
    h = w = 80
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 3, yy * 3, np.full_like(xx, 128)], -1).astype(np.uint8)
    face = to_image(m, 30, 40, 40)  # frontal, covers x, y in [10, 70]
    tex = uv_texture(img, [face], m, size=64, fill_mirror=False)[0]
    assert tex.shape == (64, 64, 3)
    # texel (i, j): u = (j + .5) / 64, v = 1 - (i + .5) / 64 -> model x = 2u - 1, y = 2v - 1 -> image x, y
    for i, j in [(10, 10), (32, 50), (60, 5)]:
        u, v = (j + 0.5) / 64, 1 - (i + 0.5) / 64
        x, y = (2 * u - 1) * 30 + 40, -(2 * v - 1) * 30 + 40
        assert tex[i, j, 0] == pytest.approx(3 * x, abs=2) and tex[i, j, 1] == pytest.approx(3 * y, abs=2)
    # an occluder in front of the left half hides those texels (black), the right half stays
    occ = to_image(m, 15, 25, 40, z0=50.0)
    tex2 = uv_texture(img, [face, occ], m, size=64, fill_mirror=False)[0]
    assert (tex2[32, 16] == 0).all() and (tex2[32, 56] == tex[32, 56]).all()
    # with mirror filling the hidden texel takes its mirror twin's colour
    tex3 = uv_texture(img, [face, occ], m, size=64, fill_mirror=True)[0]
    assert (tex3[32, 16] == tex[32, 64 - 1 - 16]).all()
