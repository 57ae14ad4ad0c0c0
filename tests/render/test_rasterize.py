"""The z-buffer rasterizer: depth and attributes at known pixels, coverage, z order, robustness."""
import numpy as np
import pytest

from tddfa.render.rasterize import rasterize, rasterize_box


def quad(x0, y0, x1, y1, z):
    """Two triangles covering [x0, x1] x [y0, y1]; ``z`` is a constant or a function z(x, y)."""
    xy = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    zz = np.array([z(x, y) if callable(z) else z for x, y in xy], np.float32)
    return np.c_[xy, zz].astype(np.float32), np.array([[0, 1, 2], [0, 2, 3]])


def test_depth_of_a_plane_at_known_pixels():
    plane = lambda x, y: 0.5 * x - 0.25 * y + 3.0  # noqa: E731
    v, t = quad(2, 3, 17, 12, plane)
    buf, depth = rasterize(v, t, None, 20, 24)
    assert buf.shape == (20, 24, 0) and depth.shape == (20, 24) and depth.dtype == np.float32
    for x, y in [(2, 3), (17, 12), (10, 7), (5, 11), (16, 4)]:
        assert depth[y, x] == pytest.approx(plane(x, y), abs=1e-3)
    assert np.isneginf(depth[2, 10]) and np.isneginf(depth[13, 10]) and np.isneginf(depth[7, 1])
    assert np.isneginf(depth[7, 18])


def test_attributes_are_barycentric_interpolation():
    v, t = quad(1, 1, 30, 20, 0.0)
    attr = v[:, :2] * np.array([2.0, -1.0], np.float32) + 5  # linear in x, y: reproduced exactly
    buf, depth = rasterize(v, t, attr, 25, 35)
    ys, xs = np.nonzero(np.isfinite(depth))
    assert len(xs) == 30 * 20
    np.testing.assert_allclose(buf[ys, xs, 0], 2 * xs + 5, atol=1e-3)
    np.testing.assert_allclose(buf[ys, xs, 1], -ys + 5.0, atol=1e-3)
    assert not buf[~np.isfinite(depth)].any()


def test_shared_edges_leave_no_gaps_whatever_the_winding():
    v, t = quad(0, 0, 10, 10, 1.0)
    for tri in (t, t[:, ::-1], t[::-1]):
        _, depth = rasterize(v, tri, None, 12, 12)
        assert np.isfinite(depth[:11, :11]).all()  # pixel centres 0..10 inclusive, the diagonal too
        assert np.isneginf(depth[11]).all() and np.isneginf(depth[:, 11]).all()


def test_largest_z_wins_in_any_order_and_across_meshes():
    near_v, near_t = quad(5, 5, 15, 15, 10.0)
    far_v, far_t = quad(0, 0, 12, 12, -2.0)
    a_near, a_far = np.full((4, 1), 1.0, np.float32), np.full((4, 1), 2.0, np.float32)
    v = np.concatenate([far_v, near_v])
    attr = np.concatenate([a_far, a_near])
    for t in (np.concatenate([far_t, near_t + 4]), np.concatenate([near_t + 4, far_t])):
        buf, depth = rasterize(v, t, attr, 20, 20)
        assert depth[8, 8] == 10.0 and buf[8, 8, 0] == pytest.approx(1.0)  # overlap: the near quad
        assert depth[2, 2] == -2.0 and buf[2, 2, 0] == pytest.approx(2.0)  # only the far quad
        assert depth[14, 14] == 10.0
    # the same two meshes given as a list, attributes per mesh
    buf2, depth2 = rasterize([far_v, near_v], [far_t, near_t], [a_far, a_near], 20, 20)
    np.testing.assert_array_equal(depth2, depth)
    np.testing.assert_allclose(buf2, buf)


def test_matches_brute_force_on_random_triangles(rng):
    h, w = 40, 50
    v = np.c_[rng.uniform(-5, 55, (30, 2)), rng.uniform(-10, 10, 30)].astype(np.float32)
    t = rng.integers(0, 30, (25, 3))
    attr = rng.random((30, 2)).astype(np.float32)
    buf, depth = rasterize(v, t, attr, h, w)
    ys, xs = np.mgrid[0:h, 0:w]
    ref_d = np.full((h, w), -np.inf)
    ref_b = np.zeros((h, w, 2))
    for tri in t:
        a, b, c = v[tri].astype(np.float64)
        area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        if abs(area) < 1e-9:
            continue
        wa = ((c[0] - b[0]) * (ys - b[1]) - (c[1] - b[1]) * (xs - b[0])) / area
        wb = ((a[0] - c[0]) * (ys - c[1]) - (a[1] - c[1]) * (xs - c[0])) / area
        wc = 1 - wa - wb
        z = wa * a[2] + wb * b[2] + wc * c[2]
        win = (wa > 1e-4) & (wb > 1e-4) & (wc > 1e-4) & (z > ref_d)  # strictly inside: no snapping ties
        ref_d[win] = z[win]
        ref_b[win] = (wa[..., None] * attr[tri[0]] + wb[..., None] * attr[tri[1]] + wc[..., None] * attr[tri[2]])[win]
    inside = np.isfinite(ref_d)
    assert inside.sum() > 200
    assert np.isfinite(depth[inside]).all()
    np.testing.assert_allclose(depth[inside], ref_d[inside], atol=0.05)
    d = np.where(inside, depth, 0.0) - np.where(inside, ref_d, 0.0)
    close = inside & (np.abs(d) < 1e-3)  # skip the few pixels where two surfaces nearly tie
    np.testing.assert_allclose(buf[close], ref_b[close], atol=1e-3)


def test_box_variant_is_a_crop_of_the_full_render(rng):
    v = np.c_[rng.uniform(10, 60, (20, 2)), rng.uniform(0, 5, 20)].astype(np.float32)
    t = rng.integers(0, 20, (15, 3))
    attr = rng.random((20, 3)).astype(np.float32)
    buf, depth = rasterize(v, t, attr, 70, 80)
    bb, bd, (x0, y0) = rasterize_box(v, t, attr, 70, 80)
    h, w = bd.shape
    np.testing.assert_array_equal(depth[y0:y0 + h, x0:x0 + w], bd)
    np.testing.assert_array_equal(buf[y0:y0 + h, x0:x0 + w], bb)
    assert np.isfinite(depth).sum() == np.isfinite(bd).sum()


def test_robust_to_nan_offscreen_and_bad_input():
    v, t = quad(-50, -50, -10, -10, 1.0)  # entirely off screen
    buf, depth = rasterize(v, t, np.ones((4, 2), np.float32), 10, 10)
    assert np.isneginf(depth).all() and not buf.any()
    v, t = quad(0, 0, 8, 8, 1.0)
    v[2, 0] = np.nan  # both triangles use vertex 2
    _, depth = rasterize(v, t, None, 10, 10)
    assert np.isneginf(depth).all()
    with pytest.raises(ValueError):
        rasterize(v, np.array([[0, 1, 4]]), None, 10, 10)
    with pytest.raises(ValueError):
        rasterize(v[:, :2], t, None, 10, 10)
    _, depth = rasterize(np.zeros((0, 3), np.float32), np.zeros((0, 3), int), None, 5, 5)
    assert np.isneginf(depth).all()
