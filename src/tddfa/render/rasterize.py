"""A CPU z-buffer rasterizer for triangle meshes (numba JIT, compiled once and cached on disk).

Frame: the image frame of the package: x right, y down, in pixels, **pixel centres at integer
coordinates** (pixel ``(row i, col j)`` is the point ``x = j, y = i``); z towards the viewer, so the
**largest z wins**. Projection is orthographic, so depth and attributes are interpolated linearly
in screen space with the barycentric weights of the pixel centre.

Per triangle, the pixel centres of its bounding box (clipped to the meshes' on-screen box) are walked
with exact integer edge functions, stepped incrementally: vertices are snapped to 1/256 pixel, so two
triangles sharing an edge agree on it bit-exactly (no cracks, no double coverage gaps, either winding).
Where the interpolated depth beats the z-buffer, depth and attributes are written at once. (A deferred
variant -- triangle ids and weights first, attributes in a second pass -- measured 10-15 % slower on
face meshes, whose overdraw is close to 1: dense mesh at 720p 8.4 vs 7.3 CPU ms in one run.)

With several numba threads (``numba.get_num_threads()``; ``NUMBA_NUM_THREADS`` or
``numba.set_num_threads`` choose), the box is cut into horizontal bands, one per thread, each walking
every triangle but writing only its own rows: bands need no locks between them, and give the same pixels
as one serial pass.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence

import numba
import numpy as np

SUBPIXEL_BITS = 8
_SCALE = 1 << SUBPIXEL_BITS
# vertices are clamped to +-2**22 pixels so that products of snapped coordinates fit in int64
_LIMIT = float(1 << 22)


@numba.njit(cache=True, nogil=True)
def _raster(xs, ys, zs, valid, tri, attr, depth, out, x_lo, y_lo, x_hi, y_hi, ox, oy):  # pragma: no cover - JIT
    """Draw every triangle: where its depth beats ``depth`` (init -inf), write the depth and the
    barycentric interpolation of ``attr`` (V, C) into ``out`` (h, w, C).

    ``xs, ys`` int64 snapped coordinates (1/256 px), ``zs`` float64, ``valid`` uint8 (finite vertex).
    Pixels ``[x_lo, x_hi] x [y_lo, y_hi]`` are drawn; pixel ``(x, y)`` is ``depth[y - oy, x - ox]``
    (the arrays are the full image, or the box only). One array layout for both: one compiled kernel.
    """
    n_c = attr.shape[1]
    n_tri = tri.shape[0]
    for t in range(n_tri):
        a = tri[t, 0]
        b = tri[t, 1]
        c = tri[t, 2]
        if not (valid[a] and valid[b] and valid[c]):
            continue
        ax = xs[a]
        ay = ys[a]
        bx = xs[b]
        by = ys[b]
        cx = xs[c]
        cy = ys[c]
        # bounding box in pixel centres (ceil of min, floor of max), clipped
        px0 = max(-((-min(ax, min(bx, cx))) >> SUBPIXEL_BITS), x_lo)
        px1 = min(max(ax, max(bx, cx)) >> SUBPIXEL_BITS, x_hi)
        if px0 > px1:
            continue
        py0 = max(-((-min(ay, min(by, cy))) >> SUBPIXEL_BITS), y_lo)
        py1 = min(max(ay, max(by, cy)) >> SUBPIXEL_BITS, y_hi)
        if py0 > py1:
            continue
        # twice the signed area; skip degenerate triangles
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if area == 0:
            continue
        sign = 1 if area > 0 else -1
        # edge functions e_a (edge b->c), e_b (c->a), e_c (a->b), oriented to be >= 0 inside:
        # e(p) = (q.x - p0.x) * (p.y - p0.y) - (q.y - p0.y) * (p.x - p0.x), exact in int64
        sx = px0 * _SCALE
        sy = py0 * _SCALE
        ea_row = sign * ((cx - bx) * (sy - by) - (cy - by) * (sx - bx))
        eb_row = sign * ((ax - cx) * (sy - cy) - (ay - cy) * (sx - cx))
        ec_row = sign * ((bx - ax) * (sy - ay) - (by - ay) * (sx - ax))
        ea_dx = -sign * (cy - by) * _SCALE
        eb_dx = -sign * (ay - cy) * _SCALE
        ec_dx = -sign * (by - ay) * _SCALE
        ea_dy = sign * (cx - bx) * _SCALE
        eb_dy = sign * (ax - cx) * _SCALE
        ec_dy = sign * (bx - ax) * _SCALE
        inv = 1.0 / (sign * area)
        za = zs[a] * inv
        zb = zs[b] * inv
        zc = zs[c] * inv
        for py in range(py0, py1 + 1):
            ea = ea_row
            eb = eb_row
            ec = ec_row
            for px in range(px0, px1 + 1):
                if ea >= 0 and eb >= 0 and ec >= 0:
                    z = ea * za + eb * zb + ec * zc
                    if z > depth[py - oy, px - ox]:
                        depth[py - oy, px - ox] = z
                        wa = ea * inv
                        wb = eb * inv
                        wc = ec * inv
                        for k in range(n_c):
                            out[py - oy, px - ox, k] = wa * attr[a, k] + wb * attr[b, k] + wc * attr[c, k]
                ea += ea_dx
                eb += eb_dx
                ec += ec_dx
            ea_row += ea_dy
            eb_row += eb_dy
            ec_row += ec_dy


@numba.njit(cache=True, nogil=True, parallel=True)
def _raster_bands(xs, ys, zs, valid, tri, attr, depth, out, x_lo, y_lo, x_hi, y_hi, ox, oy,
                  n_bands):  # pragma: no cover - JIT
    """:func:`_raster` split into ``n_bands`` horizontal bands drawn in parallel. Each band owns its rows
    and walks the triangles in the same order, so the result is bit-identical to one serial pass."""
    rows = y_hi - y_lo + 1
    for k in numba.prange(n_bands):
        b_lo = y_lo + rows * k // n_bands
        b_hi = y_lo + rows * (k + 1) // n_bands - 1
        _raster(xs, ys, zs, valid, tri, attr, depth, out, x_lo, b_lo, x_hi, b_hi, ox, oy)


MIN_BAND_ROWS = 48  # below this a band's triangle walk costs more than its share of pixels saves

# numba's default threading layer (workqueue) must not run two parallel kernels at once: a render in a
# video writer thread next to one in the main thread would abort the process. Whoever holds the lock
# runs in parallel; anyone else runs the serial kernel.
PARALLEL_LOCK = threading.Lock()


@numba.njit(cache=True, nogil=True)
def _snap(v, xs, ys, zs, valid):  # pragma: no cover - JIT
    """Snap ``v`` (V, 3) to 1/256 px into ``xs, ys`` (int64), copy z; return the finite vertices' box."""
    x_min = np.inf
    x_max = -np.inf
    y_min = np.inf
    y_max = -np.inf
    for i in range(v.shape[0]):
        x = v[i, 0]
        y = v[i, 1]
        z = v[i, 2]
        ok = np.isfinite(x) and np.isfinite(y) and np.isfinite(z)
        valid[i] = ok
        if not ok:
            xs[i] = 0
            ys[i] = 0
            zs[i] = 0.0
            continue
        x = min(max(x, -_LIMIT), _LIMIT)
        y = min(max(y, -_LIMIT), _LIMIT)
        xs[i] = np.int64(np.round(x * _SCALE))
        ys[i] = np.int64(np.round(y * _SCALE))
        zs[i] = z
        x_min = min(x_min, x)
        x_max = max(x_max, x)
        y_min = min(y_min, y)
        y_max = max(y_max, y)
    return x_min, x_max, y_min, y_max


def _concat(vertices, triangles, attributes):
    """Several meshes (lists) -> one mesh, with triangle indices offset."""
    if not isinstance(vertices, (list, tuple)):
        return vertices, triangles, attributes
    if len(vertices) == 1:  # one face: nothing to offset, no copies
        tri = triangles[0] if isinstance(triangles, (list, tuple)) else triangles
        attr = attributes[0] if isinstance(attributes, (list, tuple)) else attributes
        return vertices[0], tri, attr
    if not (isinstance(triangles, (list, tuple)) and len(triangles) == len(vertices)):
        # one topology shared by every mesh (e.g. several faces of one face model)
        triangles = [triangles] * len(vertices)
    if attributes is None:
        attributes = [None] * len(vertices)
    elif not isinstance(attributes, (list, tuple)):
        attributes = [attributes] * len(vertices)
    if len(vertices) == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), None
    offs = np.cumsum([0] + [len(v) for v in vertices[:-1]])
    v = np.concatenate([np.asarray(x, np.float32).reshape(-1, 3) for x in vertices])
    t = np.concatenate([np.asarray(x, np.int64).reshape(-1, 3) + o for x, o in zip(triangles, offs)])
    if any(a is None for a in attributes):
        a = None
    else:
        a = np.concatenate([np.asarray(x, np.float32).reshape(len(vv), -1) for x, vv in zip(attributes, vertices)])
    return v, t, a


def _check(vertices, triangles, attributes, height, width):
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {v.shape}")
    v = v.astype(np.float32, copy=False)  # float32 is ample for 1/256-px snapping; one kernel signature
    tri = np.asarray(triangles)
    if tri.size == 0:
        tri = np.zeros((0, 3), np.int64)
    if tri.ndim != 2 or tri.shape[1] != 3 or tri.dtype.kind not in "iu":
        raise ValueError(f"triangles must be (T, 3) integers, got {tri.shape} {tri.dtype}")
    n_v = v.shape[0]
    if tri.size and (tri.min() < 0 or tri.max() >= n_v):
        raise ValueError(f"triangle indices out of range [0, {n_v})")
    tri = tri.astype(np.int32, copy=False)
    if attributes is None:
        attr = np.zeros((n_v, 0), np.float32)
    else:
        attr = np.asarray(attributes, np.float32)
        if attr.ndim == 1:
            attr = attr[:, None]
        if attr.ndim != 2 or attr.shape[0] != n_v:
            raise ValueError(f"attributes must be (V, C) with V = {n_v}, got {np.shape(attributes)}")
    height, width = int(height), int(width)
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    return (np.ascontiguousarray(v), np.ascontiguousarray(tri), np.ascontiguousarray(attr), height, width)


def _run(vertices, triangles, attributes, height, width, box_only: bool):
    v, tri, attr, height, width = _check(*_concat(vertices, triangles, attributes), height, width)
    n_v, n_c = v.shape[0], attr.shape[1]
    xs = np.empty(n_v, np.int64)
    ys = np.empty(n_v, np.int64)
    zs = np.empty(n_v, np.float64)
    valid = np.empty(n_v, np.uint8)
    x_min, x_max, y_min, y_max = _snap(v, xs, ys, zs, valid) if n_v else (np.inf, -np.inf, np.inf, -np.inf)
    x_lo = max(int(np.ceil(x_min)), 0) if np.isfinite(x_min) else width
    x_hi = min(int(np.floor(x_max)), width - 1) if np.isfinite(x_max) else -1
    y_lo = max(int(np.ceil(y_min)), 0) if np.isfinite(y_min) else height
    y_hi = min(int(np.floor(y_max)), height - 1) if np.isfinite(y_max) else -1
    empty = tri.shape[0] == 0 or x_lo > x_hi or y_lo > y_hi
    if box_only:
        if empty:
            return np.zeros((0, 0, n_c), np.float32), np.zeros((0, 0), np.float32), (0, 0)
        bh, bw = y_hi - y_lo + 1, x_hi - x_lo + 1
        depth = np.full((bh, bw), -np.inf, np.float32)
        buffer = np.zeros((bh, bw, n_c), np.float32)
        ox, oy = x_lo, y_lo
    else:
        depth = np.full((height, width), -np.inf, np.float32)
        buffer = np.zeros((height, width, n_c), np.float32)  # calloc: only the touched box costs
        if empty:
            return buffer, depth, (0, 0)
        ox = oy = 0
    n_bands = min(numba.get_num_threads(), (y_hi - y_lo + 1) // MIN_BAND_ROWS)
    if n_bands > 1 and PARALLEL_LOCK.acquire(blocking=False):
        try:
            _raster_bands(xs, ys, zs, valid, tri, attr, depth, buffer, x_lo, y_lo, x_hi, y_hi, ox, oy, n_bands)
        finally:
            PARALLEL_LOCK.release()
    else:
        _raster(xs, ys, zs, valid, tri, attr, depth, buffer, x_lo, y_lo, x_hi, y_hi, ox, oy)
    return buffer, depth, (x_lo, y_lo)


def rasterize(vertices: np.ndarray | Sequence[np.ndarray], triangles: np.ndarray | Sequence[np.ndarray],
              attributes: np.ndarray | Sequence[np.ndarray] | None, height: int, width: int,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Render a triangle mesh (or several) with a z-buffer.

    Args:
        vertices: ``(V, 3)`` float image-frame points (x right, y down, pixels, pixel centres at integer
            coordinates; z towards the viewer: the largest z wins), or a list of such arrays (several
            meshes in one image, depth-tested against each other).
        triangles: ``(T, 3)`` int vertex indices (either winding; nothing is culled), or a list matching
            ``vertices`` (a single array is shared by every mesh of the list).
        attributes: ``(V, C)`` float per-vertex values to interpolate (``(V,)`` means C = 1; ``None``
            means C = 0), or a list matching ``vertices``.
        height, width: the image size.

    Returns:
        ``buffer`` ``(H, W, C)`` float32, attributes interpolated with the barycentric weights of each
        pixel centre (zero where no triangle covers it), and ``depth`` ``(H, W)`` float32, the largest z
        (``-inf`` where empty). Triangles touching a non-finite vertex are skipped.
    """
    buffer, depth, _ = _run(vertices, triangles, attributes, height, width, box_only=False)
    return buffer, depth


def rasterize_box(vertices: np.ndarray | Sequence[np.ndarray], triangles: np.ndarray | Sequence[np.ndarray],
                  attributes: np.ndarray | Sequence[np.ndarray] | None, height: int, width: int,
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """As :func:`rasterize`, but the buffers cover only the meshes' on-screen bounding box.

    Returns ``(buffer (h, w, C), depth (h, w), (x0, y0))``: pixel ``(x, y)`` of the image is
    ``depth[y - y0, x - x0]``. Cheaper for overlays (no full-frame buffers); ``h = w = 0`` if
    nothing is on screen.
    """
    return _run(vertices, triangles, attributes, height, width, box_only=True)


def coverage(depth: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool mask of the pixels a mesh covers, from a depth buffer of :func:`rasterize`."""
    return np.isfinite(depth)


def warmup() -> None:
    """Compile (or load from the on-disk cache) the JIT kernels outside any timing."""
    v = np.array([[0, 0, 0], [3, 0, 0], [0, 3, 0]], np.float32)
    rasterize(v, np.array([[0, 1, 2]]), np.ones((3, 1), np.float32), 4, 4)
