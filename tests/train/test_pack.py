"""Training packs: WebP round trip, mirrored crops stored once, transparent loading, clear errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tddfa.errors import InputError
from tddfa.train.dataset import Arrays, load_arrays
from tddfa.train.pack import is_pack, load_pack, mirror_pairs, pack_arrays, pack_files

N = 12
MIRRORS = {5: 1, 9: 3}  # sample -> the earlier sample it is the left-right mirror of


def _crop(rng: np.random.Generator) -> np.ndarray:
    """A smooth 120x120 BGR crop with a few dots (random noise would not survive lossy coding)."""
    img = cv2.resize(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), (120, 120), interpolation=cv2.INTER_CUBIC)
    for x, y in rng.integers(10, 110, (5, 2)):
        cv2.circle(img, (int(x), int(y)), 3, (230, 230, 230), -1)
    return img


def _arrays(seed: int = 0, n: int = N, mirrors: dict[int, int] = MIRRORS) -> Arrays:
    rng = np.random.default_rng(seed)
    images = np.stack([_crop(rng) for _ in range(n)])
    for i, j in mirrors.items():
        images[i] = images[j][:, ::-1]
    params = (rng.normal(0, 1, (n, 62)) * 1e-3 ** rng.integers(0, 2, 62)).astype(np.float32)  # tiny and O(1)
    landmarks = rng.uniform(-40, 160, (n, 68, 2)).astype(np.float32)
    landmarks[0, 0] = (511.9, -511.9)  # the extremes a pack holds
    return Arrays(images, params, landmarks)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    a = _arrays()
    path = tmp_path_factory.mktemp("pack") / "train_pack.npz"
    stats = pack_arrays(a, path, quality=90)
    return a, path, stats


def test_round_trip_keeps_params_exact_landmarks_and_images_close(packed):
    a, path, stats = packed
    b = load_pack(path)
    assert len(b) == N and b.images.dtype == np.uint8 and b.images.shape == a.images.shape
    assert b.params.dtype == np.float32 and np.array_equal(b.params, a.params)
    assert b.landmarks.dtype == np.float32 and b.landmarks.shape == a.landmarks.shape
    assert np.abs(b.landmarks - a.landmarks).max() <= 1 / 128 + 1e-6
    diff = np.abs(b.images.astype(np.int16) - a.images.astype(np.int16)).reshape(N, -1).mean(1)
    assert diff.max() < 6, diff
    assert stats["samples"] == N and stats["raw_bytes"] == a.images.nbytes
    assert stats["bytes"] == path.stat().st_size < a.images.nbytes / 4


def test_mirrored_samples_are_stored_once(packed):
    a, path, stats = packed
    want = np.full(N, -1)
    for i, j in MIRRORS.items():
        want[i] = j
    np.testing.assert_array_equal(mirror_pairs(a.images), want)
    assert stats["encoded"] == N - len(MIRRORS) and stats["mirrored"] == len(MIRRORS)
    with np.load(path) as z:
        assert len(z["offsets"]) == N - len(MIRRORS) + 1
        np.testing.assert_array_equal(np.flatnonzero(z["mirrored"]), sorted(MIRRORS))
    b = load_pack(path)
    for i, j in MIRRORS.items():  # decoded from the same encoding, so exact mirrors again
        assert np.array_equal(b.images[i], b.images[j][:, ::-1])


def test_nearly_mirrored_or_repeated_crops_are_not_pairs():
    a = _arrays(mirrors={})
    imgs = a.images[:4].copy()
    imgs[1] = imgs[0][:, ::-1]
    imgs[1, 60, 60, 0] ^= 1  # one bit off: not a mirror
    imgs[2] = imgs[0]  # a plain copy is not a mirror either
    imgs[3] = imgs[0][:, ::-1]
    np.testing.assert_array_equal(mirror_pairs(imgs), [-1, -1, -1, 0])


def test_load_arrays_reads_a_pack_transparently_and_limit_works(packed):
    _, path, _ = packed
    full = load_pack(path)
    via = load_arrays(path)
    for k in ("images", "params", "landmarks"):
        assert np.array_equal(getattr(via, k), getattr(full, k)), k
    for n in (3, 6):  # 6 keeps the mirror of sample 1 (sample 5), 3 keeps no mirror
        for part in (load_pack(path, limit=n), load_arrays(path, limit=n)):
            assert len(part) == n
            for k in ("images", "params", "landmarks"):
                assert np.array_equal(getattr(part, k), getattr(full, k)[:n]), k


def test_is_pack_and_a_plain_cache_is_not_a_pack(packed, tmp_path):
    a, path, _ = packed
    plain = tmp_path / "plain.npz"
    np.savez(plain, images=a.images, params=a.params, landmarks=a.landmarks)
    assert is_pack(path) and not is_pack(plain)
    with pytest.raises(InputError, match="not a training pack"):
        load_pack(plain)


def test_pack_files_concatenates_plain_caches(tmp_path):
    a, b = _arrays(1, n=4, mirrors={}), _arrays(2, n=3, mirrors={})
    paths = []
    for name, arr in (("a", a), ("b", b)):
        paths.append(tmp_path / f"{name}.npz")
        np.savez(paths[-1], images=arr.images, params=arr.params, landmarks=arr.landmarks)
    stats = pack_files(paths, tmp_path / "out" / "pack.npz", quality=90)
    assert stats["samples"] == 7 and stats["encoded"] == 7
    got = load_arrays(tmp_path / "out" / "pack.npz")
    assert np.array_equal(got.params, np.concatenate([a.params, b.params]))
    assert pack_files(paths, tmp_path / "lim.npz", limit=2)["samples"] == 4


@pytest.mark.parametrize("value", [512.5, -600.0])
def test_landmarks_beyond_512_px_are_refused(value, tmp_path):
    a = _arrays(n=3, mirrors={})
    a.landmarks[2, 10, 1] = value
    out = tmp_path / "p.npz"
    with pytest.raises(InputError, match="512"):
        pack_arrays(a, out)
    assert not out.exists()
