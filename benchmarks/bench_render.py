"""Rendering speed (a benchmark, not a test): our numba z-buffer rasterizer on a 1280x720 image.

Cases (vertex colours interpolated, C = 3):

* ``dense``: the BFM face region (38,834 vertices, 76,982 triangles), a face 300 px wide turned 20 degrees;
* ``grid4k``: a 64 x 64 vertex dome (4,096 vertices, 7,938 triangles: the size of mesh the reference's C
  renderer draws in 2.6 ms on this machine), same size on screen;

and, for each, these renderers (the numba ones at 1 and at 2 threads: the box is cut into one band of rows
per thread):

* ``ours``: :func:`tddfa.render.rasterize` (the public contract: full-frame (H, W, 3) buffer + depth);
* ``ours_box``: :func:`tddfa.render.rasterize_box` (buffers over the face's bounding box only, what the
  overlays use);
* ``overlay_3d``: the whole ``3d`` output: normals, Lambert shading, rasterize (box) and alpha blend
  into a copy of the 720p image;
* ``immediate``: a measured alternative, the same numba rasterizer writing attributes at every depth
  win (no deferred pass);
* ``opencv``: a straightforward reference, ``cv2.fillConvexPoly`` per triangle in far-to-near order
  (painter's algorithm, flat colour per triangle, no per-pixel depth): a Python loop over triangles.

* ``reference_c`` (``--ab`` only): 3DDFA_V2's own C renderer, when ``TDDFA_SIM3DR`` points at a built copy of it.

Run either
  ``pytest benchmarks/bench_render.py --benchmark-only`` (pytest-benchmark table; the ratio of each
  renderer to ``ours`` is in ``extra_info`` and printed with ``-s``), or
  ``OMP_NUM_THREADS=1 python benchmarks/bench_render.py`` (medians, ratios from the same run, CPU time), or
  ``TDDFA_SIM3DR=DIR python benchmarks/bench_render.py --ab`` (our ``3d`` overlay against the reference's
  ``render()``, alternated call by call, 1 thread).
JIT compilation (cached on disk) happens in a warm-up call outside the timings.
"""
from __future__ import annotations

import os
import time
from types import SimpleNamespace

import cv2
import numba
import numpy as np
import pytest

from tddfa.render.maps import render_shaded
from tddfa.render.rasterize import rasterize, rasterize_box, warmup

H, W = 720, 1280
FACE_WIDTH = 300.0


def _pose(points: np.ndarray, yaw_deg: float = 20.0) -> np.ndarray:
    """Model frame (y up) -> image frame (y down), face FACE_WIDTH px wide at the image centre."""
    a = np.radians(yaw_deg)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    p = (points - points.mean(axis=0)) @ R.T
    s = FACE_WIDTH / np.ptp(p[:, 0])
    return np.c_[p[:, 0] * s + W / 2, -p[:, 1] * s + H / 2, p[:, 2] * s].astype(np.float32)


def dense_mesh():
    from tddfa.errors import ModelNotAvailableError
    from tddfa.facemodel import load_bfm

    try:
        m = load_bfm(auto_fetch=False)
    except ModelNotAvailableError:
        return None
    return _pose(m.mean.astype(np.float64)), m.triangles


def grid_mesh(n: int = 64):
    g = np.linspace(-1, 1, n)
    x, y = np.meshgrid(g, g[::-1])
    z = np.sqrt(np.clip(2.0 - x ** 2 - y ** 2, 0, None))
    pts = np.c_[x.ravel() * 0.85, y.ravel(), z.ravel() * 0.6]
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:], idx[:-1, :-1]
    tri = np.concatenate([np.c_[a.ravel(), b.ravel(), c.ravel()], np.c_[a.ravel(), c.ravel(), d.ravel()]])
    return _pose(pts), tri.astype(np.int32)


# ---------------------------------------------------------------- the measured alternative
@numba.njit(cache=True, nogil=True)
def _immediate_kernel(xs, ys, zs, tri, attr, depth, out):  # pragma: no cover - JIT
    h, w = depth.shape
    for t in range(tri.shape[0]):
        a, b, c = tri[t, 0], tri[t, 1], tri[t, 2]
        ax, ay, bx, by, cx, cy = xs[a], ys[a], xs[b], ys[b], xs[c], ys[c]
        px0 = max(-((-min(ax, min(bx, cx))) >> 8), 0)
        px1 = min(max(ax, max(bx, cx)) >> 8, w - 1)
        py0 = max(-((-min(ay, min(by, cy))) >> 8), 0)
        py1 = min(max(ay, max(by, cy)) >> 8, h - 1)
        if px0 > px1 or py0 > py1:
            continue
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area == 0:
            continue
        sign = 1 if area > 0 else -1
        inv = 1.0 / (sign * area)
        for py in range(py0, py1 + 1):
            sy = py * 256
            for px in range(px0, px1 + 1):
                sx = px * 256
                ea = sign * ((cx - bx) * (sy - by) - (cy - by) * (sx - bx))
                eb = sign * ((ax - cx) * (sy - cy) - (ay - cy) * (sx - cx))
                ec = sign * ((bx - ax) * (sy - ay) - (by - ay) * (sx - ax))
                if ea >= 0 and eb >= 0 and ec >= 0:
                    wa, wb, wc = ea * inv, eb * inv, ec * inv
                    z = wa * zs[a] + wb * zs[b] + wc * zs[c]
                    if z > depth[py, px]:
                        depth[py, px] = z
                        for k in range(attr.shape[1]):
                            out[py, px, k] = wa * attr[a, k] + wb * attr[b, k] + wc * attr[c, k]


def immediate(v, tri, attr, h, w):
    xs = np.round(v[:, 0] * 256).astype(np.int64)
    ys = np.round(v[:, 1] * 256).astype(np.int64)
    depth = np.full((h, w), -np.inf, np.float32)
    out = np.zeros((h, w, attr.shape[1]), np.float32)
    _immediate_kernel(xs, ys, v[:, 2].astype(np.float64), np.ascontiguousarray(tri, np.int64), attr, depth, out)
    return out, depth


# ---------------------------------------------------------------- the straightforward reference
def opencv_painter(v, tri, attr, img):
    """Per-triangle ``cv2.fillConvexPoly``, far to near, flat colour: what a user writes without a z-buffer."""
    out = img.copy()
    order = np.argsort(v[tri, 2].mean(axis=1))  # farthest first, nearest painted last
    pts = np.round(v[tri[order], :2] * 16).astype(np.int32)  # 4 fractional bits
    cols = (attr[tri[order]].mean(axis=1)).tolist()
    for p, c in zip(pts, cols):
        cv2.fillConvexPoly(out, p, c, cv2.LINE_8, 4)
    return out


def reference_c():
    """3DDFA_V2's C renderer (``Sim3DR``) if ``TDDFA_SIM3DR`` names the folder holding a built ``Sim3DR`` package
    (``python setup.py build_ext --inplace`` in a 3DDFA_V2 checkout, outside this repository), else ``None``.

    Returns ``{"render": fn, "kernel": fn}``: ``render`` is called as the reference's ``utils/render.py`` ``render()``
    does (copy the image, normals + lighting with its default light, rasterize, ``cv2.addWeighted`` at alpha 0.6);
    ``kernel`` is its C rasterization call alone, given per-vertex colours, with the depth buffer reset outside
    the timing (``kernel.reset``)."""
    import sys

    path = os.environ.get("TDDFA_SIM3DR")
    if not path:
        return None
    sys.path.insert(0, path)
    try:
        from Sim3DR import RenderPipeline  # (puts its compiled Sim3DR_Cython on the path)
        import Sim3DR_Cython
    except ImportError as exc:
        print(f"TDDFA_SIM3DR={path}: cannot import Sim3DR ({exc})")
        return None
    app = RenderPipeline(intensity_ambient=0.3, color_ambient=(1, 1, 1), intensity_directional=0.6,
                         color_directional=(1, 1, 1), intensity_specular=0.1, specular_exp=5,
                         light_pos=(0, 0, 5), view_pos=(0, 0, 5))

    def render(v, t, a, img):
        overlap = app(np.ascontiguousarray(v, np.float32), np.ascontiguousarray(t, np.int32), img.copy())
        return cv2.addWeighted(img, 0.4, overlap, 0.6, 0)

    state = {}

    def reset(v, t, a, img):
        state["bg"] = img.copy()
        state["depth"] = np.full(img.shape[:2], -1e8, np.float32)
        state["args"] = (np.ascontiguousarray(v, np.float32), np.ascontiguousarray(t, np.int32),
                         np.ascontiguousarray(a / 255.0, np.float32))

    def kernel(v, t, a, img):
        vv, tt, cc = state["args"]
        h, w, c = img.shape
        Sim3DR_Cython.rasterize(state["bg"], vv, tt, cc, state["depth"], tt.shape[0], h, w, c, reverse=False)

    kernel.reset = reset
    return {"render": render, "kernel": kernel}


RENDERERS = {
    "ours": lambda v, t, a, img: rasterize(v, t, a, H, W),
    "ours_box": lambda v, t, a, img: rasterize_box(v, t, a, H, W),
    "overlay_3d": lambda v, t, a, img: render_shaded(img, [v], SimpleNamespace(triangles=t)),
    "immediate": lambda v, t, a, img: immediate(v, t, a, H, W),
    "opencv": lambda v, t, a, img: opencv_painter(v, t, a, img),
}


def _case(name):
    mesh = dense_mesh() if name == "dense" else grid_mesh()
    if mesh is None:
        return None
    v, t = mesh
    attr = np.random.default_rng(0).uniform(0, 255, (len(v), 3)).astype(np.float32)
    img = np.full((H, W, 3), 90, np.uint8)
    return v, t, attr, img


# ---------------------------------------------------------------- pytest-benchmark
_medians: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("renderer", list(RENDERERS))
@pytest.mark.parametrize("case", ["dense", "grid4k"])
def test_render_720p(benchmark, case, renderer):
    data = _case(case)
    if data is None:
        pytest.skip("BFM face model not provisioned (tddfa models fetch)")
    warmup()
    fn = RENDERERS[renderer]
    fn(*data)  # JIT / caches outside the timing
    benchmark.group = f"render 720p {case}"
    benchmark.pedantic(fn, args=data, rounds=30 if renderer != "opencv" else 5, iterations=1, warmup_rounds=1)
    _medians[(case, renderer)] = benchmark.stats.stats.median
    if renderer != "ours" and (case, "ours") in _medians:
        ratio = _medians[(case, renderer)] / _medians[(case, "ours")]
        benchmark.extra_info["time_vs_ours"] = round(ratio, 2)
        print(f"\n{case}: {renderer} median {_medians[(case, renderer)] * 1e3:.2f} ms = {ratio:.1f}x ours "
              f"({_medians[(case, 'ours')] * 1e3:.2f} ms)")


# ---------------------------------------------------------------- script
PARALLEL = ("ours", "ours_box", "overlay_3d")  # numba-threaded renderers, timed at 1 and 2 threads


def ab(rounds: int = 400) -> None:
    """Our whole ``3d`` overlay against 3DDFA_V2's C renderer, calls alternated one by one at 1 thread, so all see
    the same machine load: medians and ratios from the same run."""
    ref = reference_c()
    if ref is None:
        print("set TDDFA_SIM3DR to a folder with a built 3DDFA_V2 Sim3DR package to compare with its C renderer")
        return
    warmup()
    numba.set_num_threads(1)
    cv2.setNumThreads(1)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'case':8s} {'ours: whole 3d overlay':>23s} {'reference: C kernel only':>25s} "
          f"{'reference: render()':>20s}   (median ms; ratio ours / reference)")
    for case in ("grid4k", "dense"):
        data = _case(case)
        if data is None:
            continue
        fns = {"ours": RENDERERS["overlay_3d"], "kernel": ref["kernel"], "render": ref["render"]}
        times = {k: [] for k in fns}
        for _ in range(rounds):
            for k, fn in fns.items():
                if k == "kernel":
                    fn.reset(*data)
                t0 = time.perf_counter()
                fn(*data)
                times[k].append(time.perf_counter() - t0)
        m = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        print(f"{case:8s} {m['ours']:23.2f} {m['kernel']:17.2f} ({m['ours'] / m['kernel']:.2f}) "
              f"{m['render']:12.2f} ({m['ours'] / m['render']:.2f})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def main() -> None:
    import sys

    if "--ab" in sys.argv:
        ab()
        return
    warmup()
    threads0 = numba.get_num_threads()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared: wall times vary; CPU ms is the process's)")
    print(f"{'case':8s} {'renderer':10s} {'threads':>7s} {'median ms':>10s} {'min ms':>8s} {'CPU ms':>8s} {'x ours':>7s}")
    for case in ("dense", "grid4k"):
        data = _case(case)
        if data is None:
            print(f"{case}: skipped (BFM not provisioned)")
            continue
        base = None
        for name, fn in RENDERERS.items():
            for threads in ((1, min(2, threads0)) if name in PARALLEL else (1,)):
                numba.set_num_threads(threads)
                fn(*data)
                n = 7 if name == "opencv" else 60
                wall, cpu = [], []
                for _ in range(n):
                    t0, c0 = time.perf_counter(), time.process_time()
                    fn(*data)
                    wall.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                med = float(np.median(wall))
                base = base or med
                print(f"{case:8s} {name:10s} {threads:7d} {med * 1e3:10.2f} {min(wall) * 1e3:8.2f} "
                      f"{np.median(cpu) * 1e3:8.2f} {med / base:7.2f}")
        numba.set_num_threads(threads0)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
