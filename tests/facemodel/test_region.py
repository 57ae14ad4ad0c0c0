import numpy as np

from tddfa.facemodel.region import cylindrical_uv, orient_outward, restrict_mesh


def test_restrict_mesh_drops_triangles_touching_removed_vertices():
    mask = np.array([True, True, True, False, True])
    tri = np.array([[0, 1, 2], [1, 2, 3], [0, 2, 4]])
    keep, out = restrict_mesh(mask, tri)
    np.testing.assert_array_equal(keep, [0, 1, 2, 4])
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 2, 3]])


def test_orient_outward_flips_back_facing_mesh():
    v = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0]], np.float32)  # clockwise seen from +z
    tri = np.array([[0, 1, 2]])
    out = orient_outward(v, tri)
    a, b, c = v[out[0]]
    assert np.cross(b - a, c - a)[2] > 0


def test_cylindrical_uv_monotonic_around_a_cylinder():
    theta = np.linspace(-1.2, 1.2, 50)
    y = np.linspace(-1, 1, 7)
    t, yy = np.meshgrid(theta, y)
    pts = np.stack([np.sin(t).ravel(), yy.ravel(), np.cos(t).ravel()], 1)
    uv = cylindrical_uv(pts)
    assert uv.min() >= 0 and uv.max() <= 1
    u = uv[:, 0].reshape(t.shape)
    assert (np.diff(u, axis=1) > 0).all()  # u follows the angle
    # equal texel density: arc length 2.4 vs height 2 -> u span / v span = 1.2
    span_u, span_v = np.ptp(uv[:, 0]), np.ptp(uv[:, 1])
    assert abs(span_u / span_v - 1.2) < 0.01
