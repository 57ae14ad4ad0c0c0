"""The batched torch augmentation matches the numpy/cv2 one: geometry, parameters, photometric ops."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.geometry import camera_to_image
from tddfa.train import augment as A
from toy_face import ROI, crop_points, toy_model, toy_params
from tddfa.train import augment_torch as T
from tddfa.train.dataset import to_input

NONE = A.AugmentConfig(p_geometric=0, p_color=0, p_gray=0, p_blur=0, p_lowres=0, p_occlude=0)
GEO = dataclasses.replace(NONE, p_geometric=1)
ALL = A.AugmentConfig(p_geometric=1, p_color=1, p_gray=1, p_blur=1, p_lowres=1, p_occlude=1)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _run(imgs, params, lms, cfg, seed=0):
    x, p, lm = T.augment_batch_torch(torch.from_numpy(imgs), torch.from_numpy(params), torch.from_numpy(lms),
                                     cfg, _gen(seed))
    return x, p.numpy(), lm.numpy()


def _to_uint8_levels(x: torch.Tensor) -> np.ndarray:
    """Normalised ``(B, 3, H, W)`` -> float ``(B, H, W, 3)`` on the 0..255 scale."""
    return (x * 128 + 127.5).permute(0, 2, 3, 1).numpy().astype(np.float64)


def _fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares ``(2, 3)`` affine with ``dst = A @ [src, 1]``."""
    m = np.concatenate([src, np.ones((len(src), 1))], 1).astype(np.float64)
    return np.linalg.lstsq(m, dst.astype(np.float64), rcond=None)[0].T


def _grid_points(b: int) -> np.ndarray:
    """68 integer points 8 px apart around the crop centre, the same for each of ``b`` samples."""
    yy, xx = np.mgrid[32:89:8, 28:93:8]
    pts = np.stack([xx.ravel(), yy.ravel()], 1)[:68].astype(np.float32)
    return np.repeat(pts[None], b, 0)


def test_warp_params_and_points_match_numpy(rng):
    b = 16
    angle, scale = rng.uniform(-90, 90, b), rng.uniform(0.7, 1.3, b)
    shift = rng.uniform(-10, 10, (b, 2))
    a_t = T.similarity_matrices(torch.from_numpy(angle), torch.from_numpy(scale), torch.from_numpy(shift))
    a_np = np.stack([A.similarity_matrix(*args) for args in zip(angle, scale, map(tuple, shift))])
    np.testing.assert_allclose(a_t.numpy(), a_np, rtol=1e-12, atol=1e-12)
    params = np.stack([toy_params(rng) for _ in range(b)])
    pts = rng.uniform(0, 120, (b, 68, 2)).astype(np.float32)
    got = T.warp_params(torch.from_numpy(params), a_t).numpy()
    want = np.stack([A.warp_params(p, a) for p, a in zip(params, a_np)])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-9)  # float32 rounding of the same float64 math
    got_pts = T.warp_points(torch.from_numpy(pts), a_t).numpy()
    np.testing.assert_allclose(got_pts, np.stack([A.warp_points(q, a) for q, a in zip(pts, a_np)]), rtol=2e-7)


def test_dots_move_with_the_landmarks():
    b = 8
    lms = _grid_points(b)
    imgs = np.zeros((b, 120, 120, 3), np.uint8)
    for x, y in lms[0].astype(int):
        imgs[:, y - 1:y + 2, x - 1:x + 2] = 255
    x, _, lm2 = _run(imgs, np.zeros((b, 62), np.float32), lms, GEO, seed=3)
    out = _to_uint8_levels(x)[..., 1]
    assert not np.allclose(lm2, lms, atol=0.5)  # it really moved
    for img, pts in zip(out, lm2):
        for q in pts:
            cx, cy = np.round(q).astype(int)
            win = img[cy - 3:cy + 4, cx - 3:cx + 4]
            yy, xx = np.mgrid[cy - 3:cy + 4, cx - 3:cx + 4]
            assert win.sum() > 1000  # a bright blob is there
            c = np.array([(xx * win).sum(), (yy * win).sum()]) / win.sum()
            np.testing.assert_allclose(c, q, atol=0.5)


def test_warped_image_matches_cv2_warp_affine(rng):
    b = 6
    noise = rng.integers(0, 256, (b, 120, 120, 3), dtype=np.uint8)
    imgs = np.stack([cv2.GaussianBlur(im, (0, 0), 1.5) for im in noise])
    imgs = np.clip((imgs.astype(float) - 127.5) * 4 + 127.5, 0, 255).astype(np.uint8)  # restore contrast
    lms = _grid_points(b)
    x, _, lm2 = _run(imgs, np.zeros((b, 62), np.float32), lms, GEO, seed=11)
    out = _to_uint8_levels(x)
    for k in range(b):
        a = _fit_similarity(lms[k], lm2[k])
        assert abs(np.linalg.det(a[:, :2]) - 1) > 1e-4 or abs(a[0, 1]) > 1e-3  # not the identity
        ref = A.warp_image(imgs[k], a).astype(np.float64)
        inside = A.warp_image(np.full((120, 120), 255, np.uint8), a) == 255
        inside = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert inside.mean() > 0.5
        diff = np.abs(out[k] - ref)[inside]
        assert diff.mean() < 1.0 and diff.max() < 8
        # and the image did change (a wrong direction of rotation would fail the comparison above)
        assert np.abs(out[k] - imgs[k])[inside].mean() > 5


def test_augmented_params_project_to_augmented_landmarks(rng):
    fm = toy_model(rng)
    p = np.stack([toy_params(rng) for _ in range(6)])
    lm = np.stack([crop_points(fm, q)[:, :2] for q in p]).astype(np.float32)
    imgs = rng.integers(0, 256, (6, 120, 120, 3), dtype=np.uint8)
    _, p1, l1 = _run(imgs, p, lm, A.AugmentConfig(p_geometric=1.0), seed=5)
    assert p1.dtype == np.float32 and l1.dtype == np.float32
    assert not np.allclose(p1, p)
    for q, pts in zip(p1, l1):
        np.testing.assert_allclose(crop_points(fm, q)[:, :2], pts, atol=3e-3)


def test_augmented_bfm_params_project_to_augmented_landmarks(bfm):
    from tddfa.train.dataset import synthetic_arrays

    arr = synthetic_arrays(bfm, 4, seed=2)
    _, p1, l1 = _run(arr.images, arr.params, arr.landmarks, A.AugmentConfig(p_geometric=1.0), seed=7)
    assert not np.allclose(l1, arr.landmarks, atol=0.5)
    proj = camera_to_image(bfm.reconstruct(p1, sparse=True), np.repeat(ROI, 4, 0))[..., :2]
    np.testing.assert_allclose(proj, l1, atol=1e-2)


def test_no_augmentation_is_plain_normalisation(rng):
    imgs = rng.integers(0, 256, (5, 120, 120, 3), dtype=np.uint8)
    params = rng.normal(0, 1, (5, 62)).astype(np.float32)
    lms = rng.uniform(0, 120, (5, 68, 2)).astype(np.float32)
    x, p, lm = _run(imgs, params, lms, NONE)
    assert torch.equal(x, to_input(imgs))
    np.testing.assert_array_equal(p, params)
    np.testing.assert_array_equal(lm, lms)


def test_same_seed_same_output_other_seed_differs(rng):
    imgs = rng.integers(0, 256, (8, 120, 120, 3), dtype=np.uint8)
    params = np.stack([toy_params(rng) for _ in range(8)])
    lms = rng.uniform(20, 100, (8, 68, 2)).astype(np.float32)
    cfg = dataclasses.replace(ALL, p_gray=0.5, p_occlude=0.7)
    x1, p1, l1 = _run(imgs, params, lms, cfg, seed=1)
    x2, p2, l2 = _run(imgs, params, lms, cfg, seed=1)
    x3, p3, l3 = _run(imgs, params, lms, cfg, seed=2)
    assert torch.equal(x1, x2)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(l1, l2)
    assert not torch.equal(x1, x3) and not np.array_equal(p1, p3) and not np.array_equal(l1, l3)


def test_output_layout_and_range(rng):
    imgs = rng.integers(0, 256, (8, 120, 120, 3), dtype=np.uint8)
    before = imgs.copy()
    params = np.stack([toy_params(rng) for _ in range(8)])
    lms = rng.uniform(20, 100, (8, 68, 2)).astype(np.float32)
    cfg = dataclasses.replace(ALL, p_gray=0.5, contrast=(2.0, 3.0), brightness=100)  # force clipping
    x, p, lm = _run(imgs, params, lms, cfg)
    assert x.dtype == torch.float32 and x.shape == (8, 3, 120, 120)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert p.shape == (8, 62) and lm.shape == (8, 68, 2)
    assert x.min() >= -127.5 / 128 and x.max() <= 127.5 / 128
    assert x.min() == -127.5 / 128 and x.max() == 127.5 / 128  # clipping reached both ends
    np.testing.assert_array_equal(imgs, before)  # input untouched


def test_gray_matches_cv2(rng):
    imgs = rng.integers(0, 256, (4, 120, 120, 3), dtype=np.uint8)
    out = _to_uint8_levels(_run(imgs, np.zeros((4, 62), np.float32), np.zeros((4, 68, 2), np.float32),
                                dataclasses.replace(NONE, p_gray=1))[0])
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    ref = np.stack([cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in imgs]).astype(float)
    assert np.abs(out[..., 0] - ref).max() <= 0.6  # cv2 rounds to uint8, we keep the float


def test_color_matches_numpy_lut(rng):
    imgs = rng.integers(0, 256, (4, 120, 120, 3), dtype=np.uint8)
    z = np.zeros((4, 62), np.float32), np.zeros((4, 68, 2), np.float32)
    # degenerate ranges pin the random values, so both versions apply the same LUT
    cfg = dataclasses.replace(NONE, p_color=1, contrast=(1.2, 1.2), brightness=0.0, channel_gain=0.0)
    out = _to_uint8_levels(_run(imgs, *z, cfg)[0])
    ref = A.augment_batch(imgs, *z, cfg, np.random.default_rng(0))[0].astype(float)
    assert np.abs(out - ref).max() <= 1 and np.abs(out - ref).mean() < 0.01
    # random ranges: per-image mean levels of a grey image spread like the numpy version's
    grey = np.full((200, 8, 8, 3), 128, np.uint8)
    zz = np.zeros((200, 62), np.float32), np.zeros((200, 68, 2), np.float32)
    cfg = dataclasses.replace(NONE, p_color=1)
    m_t = _to_uint8_levels(_run(grey, *zz, cfg)[0]).mean((1, 2))
    m_n = A.augment_batch(grey, *zz, cfg, np.random.default_rng(0))[0].astype(float).mean((1, 2))
    assert abs(m_t.mean() - m_n.mean()) < 4 and abs(m_t.std() - m_n.std()) < 4
    assert m_t.std() > 10  # brightness uniform in +-32: std ~18.5


@pytest.mark.parametrize("op", ["blur", "lowres"])
def test_blur_and_lowres_match_cv2(rng, op):
    noise = rng.integers(0, 256, (3, 120, 120, 3), dtype=np.uint8)
    imgs = np.stack([cv2.GaussianBlur(im, (0, 0), 1.0) for im in noise])
    z = np.zeros((3, 62), np.float32), np.zeros((3, 68, 2), np.float32)
    if op == "blur":
        cfg = dataclasses.replace(NONE, p_blur=1, blur_sigma=(1.3, 1.3))
    else:
        cfg = dataclasses.replace(NONE, p_lowres=1, lowres=(0.5, 0.5))
    out = _to_uint8_levels(_run(imgs, *z, cfg)[0])
    ref = A.augment_batch(imgs, *z, cfg, np.random.default_rng(0))[0].astype(float)
    assert np.abs(out - ref).mean() < 0.6 and np.abs(out - ref).max() < 3
    assert out.std() < imgs.std() - 2  # it really smoothed


def _boxes(out: np.ndarray, bg: int) -> np.ndarray:
    """Height, width and centre ``(n, 4)`` (h, w, cy, cx) of the changed region of each occluded image."""
    boxes = []
    for o in out:
        ys, xs = np.nonzero((o != bg).any(-1))
        if len(ys):
            boxes.append((ys.max() - ys.min() + 1, xs.max() - xs.min() + 1, ys.mean(), xs.mean()))
    return np.array(boxes, float)


def test_occlusion_matches_numpy(rng):
    n = 300
    imgs = np.full((n, 40, 40, 3), 7, np.uint8)  # a random fill is never all 7s in practice
    z = np.zeros((n, 62), np.float32), np.zeros((n, 68, 2), np.float32)
    cfg = dataclasses.replace(NONE, p_occlude=0.5)
    out = _to_uint8_levels(_run(imgs, *z, cfg)[0])
    ref = A.augment_batch(imgs, *z, cfg, np.random.default_rng(0))[0]
    box_t, box_n = _boxes(out, 7), _boxes(ref, 7)
    hw_t, hw_n = box_t[:, :2], box_n[:, :2]
    assert abs(len(hw_t) - len(hw_n)) < 0.15 * n  # how often: both ~n/2
    # side int(U(0.15, 0.45) * 40): in [6, 18], mean 11.5
    assert hw_t.min() >= 6 and hw_t.max() <= 18
    np.testing.assert_allclose(hw_t.mean(0), [11.5, 11.5], atol=0.8)
    np.testing.assert_allclose(hw_t.mean(0), hw_n.mean(0), atol=1.2)
    np.testing.assert_allclose(box_t[:, 2:].mean(0), [19.5, 19.5], atol=1.5)  # placed uniformly
    assert box_t[:, 2:].std(0).min() > 5
    # flat and noise fills both occur; a flat fill is one colour
    vals = [np.unique(o[(o != 7).any(-1)], axis=0).shape[0] for o in out if (o != 7).any()]
    assert min(vals) == 1 and max(vals) > 50


def test_occlusion_noise_is_uniform_and_fresh_per_seed():
    imgs = np.full((12, 32, 32, 3), 7, np.uint8)
    z = np.zeros((12, 62), np.float32), np.zeros((12, 68, 2), np.float32)
    cfg = dataclasses.replace(NONE, p_occlude=1, occlude_size=(1.0, 1.0))  # the whole crop
    runs = [_to_uint8_levels(_run(imgs, *z, cfg, seed=s)[0]) for s in (0, 1)]
    noisy = [np.array([len(np.unique(o.reshape(-1, 3), axis=0)) > 1 for o in r]) for r in runs]
    assert 0 < noisy[0].sum() < 12
    both = noisy[0] & noisy[1]
    assert both.any()
    vals = runs[0][noisy[0]]
    assert abs(vals.mean() - 127.5) < 3 and abs(vals.std() - 73.9) < 3  # uniform integers 0..255
    assert vals.min() == 0 and vals.max() == 255 and (vals == np.round(vals)).all()
    assert not np.array_equal(runs[0][both], runs[1][both])
