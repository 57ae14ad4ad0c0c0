import numpy as np
import pytest

from tddfa.facemodel import FaceModel, split_params


def _toy(rng, v=50):
    mean = rng.normal(size=(v, 3)).astype(np.float32)
    basis = rng.normal(size=(3 * v, 50)).astype(np.float32)
    return FaceModel(mean=mean, basis=basis, triangles=np.zeros((0, 3), np.int32), keypoints=np.arange(68) % v,
                     uv=np.zeros((v, 2), np.float32), param_mean=np.zeros(62, np.float32),
                     param_std=np.ones(62, np.float32))


def test_sparse_equals_dense_at_keypoints(rng):
    m = _toy(rng)
    p = rng.normal(size=(4, 62)).astype(np.float32)
    dense = m.reconstruct(p)
    sparse = m.reconstruct(p, sparse=True)
    np.testing.assert_allclose(sparse, dense[:, m.keypoints], rtol=1e-5, atol=1e-4)


def test_reconstruct_matches_explicit_formula(rng):
    m = _toy(rng)
    p = rng.normal(size=(1, 62)).astype(np.float32)
    cam = p[0, :12].reshape(3, 4)
    shape = m.mean + (m.basis @ p[0, 12:]).reshape(-1, 3)
    expected = shape @ cam[:, :3].T + cam[:, 3]
    np.testing.assert_allclose(m.reconstruct(p)[0], expected, rtol=1e-4, atol=1e-3)


def test_batch_is_independent(rng):
    m = _toy(rng)
    p = rng.normal(size=(3, 62)).astype(np.float32)
    np.testing.assert_allclose(m.reconstruct(p)[1], m.reconstruct(p[1:2])[0], rtol=1e-5, atol=1e-5)


def test_whitening_round_trip(rng):
    m = _toy(rng)
    m = FaceModel(**{**{k: getattr(m, k) for k in ("mean", "basis", "triangles", "keypoints", "uv")},
                     "param_mean": rng.normal(size=62).astype(np.float32),
                     "param_std": rng.uniform(0.5, 2, 62).astype(np.float32)})
    p = rng.normal(size=(2, 62)).astype(np.float32)
    np.testing.assert_allclose(m.unwhiten(m.whiten(p)), p, rtol=1e-5, atol=1e-5)


def test_bad_shapes_rejected(rng):
    with pytest.raises(ValueError):
        split_params(np.zeros((2, 61)))
    with pytest.raises(ValueError):
        FaceModel(mean=np.zeros((10, 3)), basis=np.zeros((29, 50)), triangles=np.zeros((0, 3)),
                  keypoints=np.arange(68), uv=np.zeros((10, 2)), param_mean=np.zeros(62), param_std=np.ones(62))


def test_bfm_face_model(bfm):
    assert 36000 < bfm.n_vertices < 42000
    assert bfm.triangles.min() >= 0 and bfm.triangles.max() < bfm.n_vertices
    assert bfm.keypoints.min() >= 0 and bfm.keypoints.max() < bfm.n_vertices
    assert bfm.uv.min() >= 0 and bfm.uv.max() <= 1
    # outward normals: the frontal mesh faces +z for the large majority of triangles
    v = bfm.mean
    a, b, c = (v[bfm.triangles[:, i]] for i in range(3))
    nz = np.cross(b - a, c - a)[:, 2]
    assert (nz > 0).mean() > 0.8
    # every vertex is used by some triangle (no dangling vertices after the region cut)
    assert np.unique(bfm.triangles).size > 0.99 * bfm.n_vertices


def test_bfm_uv_is_nearly_injective(bfm):
    """Distinct vertices map to distinct texels: triangle areas in UV keep one orientation."""
    uv = bfm.uv[bfm.triangles]
    a, b = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    assert (area > 0).mean() > 0.98 or (area < 0).mean() > 0.98
