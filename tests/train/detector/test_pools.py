"""Extra face pools for detector training: crops around landmarks, valid masks, weighted draws, pseudo-labels."""
import types

import numpy as np
import pytest

from tddfa.errors import InputError
from tddfa.train.detector.data import FacePool, MosaicGenerator
from tddfa.train.detector.pools import CROP, load_pool, profile_pool, pseudo_label, save_pool, square_face_crop


def _face_pts(cx, cy, half):
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    return np.c_[cx + half * np.cos(t), cy + half * np.sin(t)]


def test_square_face_crop_maps_points_and_marks_filled_borders():
    img = np.zeros((200, 200, 3), np.uint8)
    pts = _face_pts(60.0, 100.0, 40.0)  # the face near the left edge: the crop reaches outside the image
    x, y = np.round(pts[5]).astype(int)
    img[y - 1:y + 2, x - 1:x + 2] = 255
    crop, p, valid = square_face_crop(img, pts)
    assert crop.shape == (CROP, CROP, 3) and valid.shape == (CROP, CROP) and valid.dtype == np.uint8
    u, v = np.round(p[5]).astype(int)
    assert crop[v, u].min() > 100  # the marked landmark lands on its point
    side = (p.max(0) - p.min(0)).max()
    assert side == pytest.approx(CROP / 2, rel=1e-3)  # the face fills the middle half
    assert valid[:, :20].max() == 0 and valid[CROP // 2, CROP // 2] == 1  # left strip lies outside the image
    _, _, v2 = square_face_crop(img, pts, valid=np.zeros((200, 200), np.uint8))
    assert v2.max() == 0  # a source mask is carried along


def test_pool_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    pool = FacePool(rng.integers(0, 256, (3, CROP, CROP, 3), dtype=np.uint8), rng.uniform(0, CROP, (3, 68, 2)),
                    rng.integers(0, 2, (3, CROP, CROP), dtype=np.uint8))
    save_pool(pool, tmp_path / "p.npz", seen=5)
    back = load_pool(tmp_path / "p.npz")
    np.testing.assert_array_equal(back.images, pool.images)
    np.testing.assert_array_equal(back.valid, pool.valid)
    np.testing.assert_allclose(back.pts, pool.pts.astype(np.float32))
    with pytest.raises(InputError, match="not found"):
        load_pool(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", images=np.zeros((1, 64, 64, 3), np.uint8), pts=np.zeros((1, 68, 2)))
    with pytest.raises(InputError, match="expected"):
        load_pool(tmp_path / "bad.npz")


def test_generator_draws_faces_by_face_p_and_pastes_only_valid_pixels():
    n = 4
    imgs = np.zeros((n, CROP, CROP, 3), np.uint8)
    imgs[:] = (0, 0, 255)  # filled-in border pixels: pure red
    valid = np.zeros((n, CROP, CROP), np.uint8)
    valid[:, 64:192, 64:192] = 1
    imgs[:, 64:192, 64:192] = 128
    pts = np.stack([_face_pts(128.0, 128.0, 32.0)] * n).astype(np.float32)
    pool = FacePool(imgs, pts, valid)
    gen = MosaicGenerator(pool, size=256, seed=0, face_p=np.array([0, 0, 0, 1.0]), n_background=1)
    rng = np.random.default_rng(0)
    assert {gen._face(rng) for _ in range(50)} == {3}
    canvas = np.zeros((256, 256, 3), np.uint8)
    M = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    gen._colour = lambda rng, img: img  # no photometric jitter: the colours stay recognisable
    gen._paste(canvas, np.random.default_rng(1), 3, M, flip=False, feather=False)
    red = (canvas[..., 2] > 200) & (canvas[..., 0] < 50)
    assert not red.any()  # the border fill never shows
    assert canvas[128, 128].tolist() == [128, 128, 128]


def test_pseudo_label_keeps_only_one_centred_face():
    img = np.zeros((200, 200, 3), np.uint8)
    pts = _face_pts(100.0, 100.0, 60.0)

    def aligner(faces):
        return lambda im: [types.SimpleNamespace(landmarks_2d=f + 100) for f in faces]  # padded by 0.5 x 200

    np.testing.assert_allclose(pseudo_label(img, aligner([pts])), pts)
    assert pseudo_label(img, aligner([])) is None
    assert pseudo_label(img, aligner([pts, pts])) is None
    assert pseudo_label(img, aligner([pts + 70])) is None  # off-centre: some other face


def test_profile_pool_drops_afw_faces(tmp_path):
    n = 4
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "prof.npz", images=rng.integers(30, 256, (n, 120, 120, 3), dtype=np.uint8),
             landmarks=np.stack([_face_pts(60.0, 60.0, 30.0)] * n).astype(np.float32),
             kind=np.array(["profile", "profile_flip", "profile", "profile"]), source=np.array([0, 0, 1, 2]))
    np.savez(tmp_path / "ann.npz", subset=np.array(["helen_train", "afw", "lfpw_train"]))
    pool = profile_pool(tmp_path / "prof.npz", tmp_path / "ann.npz", every=1)
    assert len(pool) == 2  # the flip and the AFW face are left out
    assert pool.valid is not None and pool.valid.shape == (2, CROP, CROP)


def test_train_pool_shares_draws_between_300w_and_the_pools(shared_data, tmp_path, torch_mod):
    from tddfa.train.detector.trainer import load_config, train_pool

    rng = np.random.default_rng(0)
    extra = FacePool(rng.integers(0, 256, (10, CROP, CROP, 3), dtype=np.uint8), rng.uniform(64, 192, (10, 68, 2)))
    save_pool(extra, tmp_path / "extra.npz")
    cfg = load_config(None)
    cfg["data_300w"] = str(shared_data / "300w")
    cfg["pools"] = [{"path": str(tmp_path / "extra.npz"), "weight": 0.25}]
    pool, p, n_300w = train_pool(cfg)
    assert len(pool) == n_300w + 10 and pool.valid.shape == pool.images.shape[:3]
    assert p.sum() == pytest.approx(1.0)
    assert p[:n_300w].sum() == pytest.approx(0.75) and p[n_300w:].sum() == pytest.approx(0.25)
    cfg["pools"][0]["weight"] = 1.0
    with pytest.raises(ValueError, match="weights"):
        train_pool(cfg)
