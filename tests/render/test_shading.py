import numba
import numpy as np
import pytest

from tddfa.render.rasterize import rasterize
from tddfa.render.shading import DEFAULT_LIGHT, lambert, vertex_normals


def test_lambert_matches_the_formula():
    n = np.random.default_rng(0).normal(size=(500, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    color = np.array([0.9, 0.5, 0.2])
    light = np.asarray(DEFAULT_LIGHT) / np.linalg.norm(DEFAULT_LIGHT)
    want = np.clip((0.35 + 0.65 * np.clip(n @ light, 0, None))[:, None] * color, 0, 1)
    got = lambert(n, color=color)
    assert got.dtype == np.float32 and got.shape == (500, 3)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # a normal facing the light gets ambient + diffuse; one facing away only the ambient term
    both = lambert(np.array([light, -light]), color=(1, 1, 1))
    np.testing.assert_allclose(both[:, 0], [1.0, 0.35], atol=1e-6)


def test_vertex_normals_of_a_frontal_quad_point_at_the_viewer():
    # image frame (y down): a square facing the viewer, wound as the BFM's outward triangles appear there
    v = np.array([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0]], np.float32)
    tri = np.array([[0, 2, 1], [0, 3, 2]])
    n = vertex_normals(v, tri)
    np.testing.assert_allclose(n, np.tile([0, 0, 1], (4, 1)), atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_banded_parallel_raster_equals_serial(threads):
    rng = np.random.default_rng(1)
    v = np.c_[rng.uniform(0, 300, (400, 2)), rng.uniform(-50, 50, 400)].astype(np.float32)
    tri = rng.integers(0, 400, (900, 3))
    attr = rng.uniform(0, 1, (400, 3)).astype(np.float32)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        ref = rasterize(v, tri, attr, 240, 320)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        got = rasterize(v, tri, attr, 240, 320)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


_CONCURRENT = """
import numpy as np
from concurrent.futures import ThreadPoolExecutor
from tddfa.render.rasterize import rasterize
rng = np.random.default_rng(2)
v = np.c_[rng.uniform(0, 300, (400, 2)), rng.uniform(-50, 50, 400)].astype(np.float32)
tri = rng.integers(0, 400, (900, 3))
attr = rng.uniform(0, 1, (400, 3)).astype(np.float32)
ref = rasterize(v, tri, attr, 240, 320)
with ThreadPoolExecutor(4) as pool:
    outs = list(pool.map(lambda _: rasterize(v, tri, attr, 240, 320), range(32)))
assert all(np.array_equal(b, ref[0]) and np.array_equal(d, ref[1]) for b, d in outs)
print("ok")
"""


def test_renders_from_several_threads_under_the_workqueue_layer():
    # numba's workqueue layer (the one every install has) aborts when two threads launch parallel kernels at
    # once -- e.g. a video writer thread rendering next to the main thread; PARALLEL_LOCK must prevent it
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    r = subprocess.run([sys.executable, "-c", _CONCURRENT], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_parallel_blend_equals_serial():
    from tddfa.render.maps import _blend_box

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (200, 160, 3), dtype=np.uint8)
    color = rng.uniform(0, 255, (120, 100, 3)).astype(np.float32)
    depth = np.where(rng.random((120, 100)) < 0.7, 1.0, -np.inf).astype(np.float32)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        ref = _blend_box(img, color, depth, (30, 40), 0.6)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        got = _blend_box(img, color, depth, (30, 40), 0.6)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(got, ref)
    covered = ref[40:160, 30:130][depth == 1.0].astype(float)
    want = 0.4 * img[40:160, 30:130][depth == 1.0] + 0.6 * color[depth == 1.0]
    assert np.abs(covered - want).max() <= 0.5 + 1e-6  # rounded blend where covered
    np.testing.assert_array_equal(ref[40:160, 30:130][depth != 1.0], img[40:160, 30:130][depth != 1.0])


def test_grey_blend_with_tint_equals_colour_blend():
    """The ``3d`` overlay interpolates one light channel and tints it in the blend: same pixels (to rounding)
    as interpolating the tinted BGR colour."""
    from tddfa.render.maps import _blend_box

    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (90, 80, 3), dtype=np.uint8)
    shade = rng.uniform(0, 255, (50, 40, 1)).astype(np.float32)
    depth = np.where(rng.random((50, 40)) < 0.6, 1.0, -np.inf).astype(np.float32)
    tint = np.array([0.9, 0.5, 0.2])
    got = _blend_box(img, shade, depth, (10, 20), 0.6, tint)
    want = _blend_box(img, (shade * tint).astype(np.float32), depth, (10, 20), 0.6)
    assert np.abs(got.astype(int) - want).max() <= 1
    assert (got != img).any()


def test_lambert_shade_is_lambert_of_the_normals_for_white():
    rng = np.random.default_rng(5)
    v = rng.normal(size=(60, 3)).astype(np.float32)
    tri = rng.integers(0, 60, (100, 3)).astype(np.int32)
    from tddfa.render.shading import lambert_shade

    for frame in (True, False):
        want = lambert(vertex_normals(v, tri, image_frame=frame), color=(1, 1, 1))[:, 0]
        np.testing.assert_allclose(lambert_shade(v, tri, image_frame=frame), want, atol=1e-5)
    # a vertex on no triangle has no normal: ambient only
    v2 = np.vstack([v, [[9, 9, 9]]]).astype(np.float32)
    assert lambert_shade(v2, tri)[-1] == pytest.approx(0.35)
