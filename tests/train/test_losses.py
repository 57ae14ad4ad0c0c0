"""Losses: zero at the target, exact fWPDC weights (finite differences), meta-joint bookkeeping."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.facemodel import FaceModel  # noqa: E402
from tddfa.train import losses as L  # noqa: E402


def _toy_model(rng: np.random.Generator, v: int = 200) -> FaceModel:
    """A random 3DMM with a face-like scale, so the tests need neither the BFM nor ../shared."""
    mean = rng.normal(0, 5e4, (v, 3)).astype(np.float32)
    basis = rng.normal(0, 1e3, (3 * v, 50)).astype(np.float32)
    return FaceModel(mean=mean, basis=basis, triangles=np.zeros((0, 3), np.int32), keypoints=np.arange(68),
                     uv=np.zeros((v, 2), np.float32), param_mean=np.zeros(62, np.float32),
                     param_std=np.ones(62, np.float32))


def _params(rng: np.random.Generator, n: int) -> np.ndarray:
    p = np.zeros((n, 62), np.float64)
    for i in range(n):
        a = rng.normal(0, 0.3, 3)
        r, _ = np.linalg.qr(rng.normal(size=(3, 3)) + np.eye(3) * 3)
        s = rng.uniform(4e-4, 1e-3)
        p[i, :12] = np.concatenate([s * r, rng.normal(60, 5, (3, 1))], 1).ravel()
        p[i, 12:52] = rng.normal(0, 1, 40) * (1 + a[0])
        p[i, 52:] = rng.normal(0, 1, 10)
    return p


@pytest.fixture
def vm(rng):
    fm = _toy_model(rng)
    return L.VertexModel.from_face_model(fm, L.vertex_subset(fm, step=3)).double(), fm


def test_reconstruct_matches_numpy_model(vm, rng):
    m, fm = vm
    p = _params(rng, 3)
    idx = L.vertex_subset(fm, step=3)
    want = fm.reconstruct(p.astype(np.float32))[:, idx]
    got = m.reconstruct(torch.as_tensor(p)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)
    sparse = fm.reconstruct(p.astype(np.float32), sparse=True)
    np.testing.assert_allclose(m.reconstruct(torch.as_tensor(p), n=68).numpy(), sparse, rtol=1e-4, atol=1e-2)


def test_sensitivity_matches_finite_differences(vm, rng):
    m, _ = vm
    p = torch.as_tensor(_params(rng, 2))
    g = m.sensitivity(p)
    base = m.reconstruct(p)
    for i in range(62):
        d = 1e-3 * max(float(p[:, i].abs().max()), 1.0)
        q = p.clone()
        q[:, i] += d
        fd = (m.reconstruct(q) - base).flatten(1).norm(dim=1) / d
        np.testing.assert_allclose(g[:, i].numpy(), fd.numpy(), rtol=1e-5, err_msg=f"param {i}")


@pytest.mark.parametrize("name", ["vdc", "fwpdc", "wpdc", "landmark"])
def test_zero_at_target_positive_elsewhere(vm, rng, name):
    m, _ = vm
    p = torch.as_tensor(_params(rng, 4))
    q = p + torch.as_tensor(rng.normal(0, 1e-2, p.shape)) * p.abs().clamp_min(1)
    std = torch.ones(62, dtype=p.dtype)
    fn = {"vdc": lambda a, b: L.vdc(a, b, m), "fwpdc": lambda a, b: L.fwpdc(a, b, m),
          "wpdc": lambda a, b: L.wpdc(a, b, m, std),
          "landmark": lambda a, b: L.landmark_loss(L.landmarks_to_branch(m.reconstruct(a, 68)[..., :2]),
                                                   m.reconstruct(b, 68)[..., :2])}[name]
    assert float(fn(p, p)) == pytest.approx(0.0, abs=1e-9)
    assert float(fn(q, p)) > 0


def test_fwpdc_equals_vdc_for_a_single_wrong_parameter(vm, rng):
    m, _ = vm
    p = torch.as_tensor(_params(rng, 3))
    for i in (0, 5, 11, 20, 55):
        q = p.clone()
        q[:, i] += 0.05 * p[:, i].abs().clamp_min(1)
        assert float(L.fwpdc(q, p, m)) == pytest.approx(float(L.vdc(q, p, m)), rel=1e-6)


def test_wpdc_weights_are_single_parameter_vertex_errors(vm, rng):
    m, _ = vm
    p = torch.as_tensor(_params(rng, 1))
    q = p + torch.as_tensor(rng.normal(0, 1e-2, p.shape)) * p.abs().clamp_min(1)
    # with a unit std the loss is sum_i w_i d_i^2, w_i = |X(p with p_i := q_i) - X(p)| / max
    w = []
    for i in range(62):
        r = p.clone()
        r[:, i] = q[:, i]
        w.append(float((m.reconstruct(r) - m.reconstruct(p)).norm()))
    w = np.array(w) / max(w)
    want = float((w * (q - p).numpy()[0] ** 2).sum())
    assert float(L.wpdc(q, p, m, torch.ones(62, dtype=p.dtype))) == pytest.approx(want, rel=1e-6)


def test_landmark_branch_scaling_round_trips(rng):
    pts = torch.as_tensor(rng.uniform(0, 120, (2, 68, 2)))
    assert float(L.landmark_loss(L.landmarks_to_branch(pts), pts)) == pytest.approx(0, abs=1e-9)
    assert float(L.landmark_loss(L.landmarks_to_branch(pts + 1.0), pts)) == pytest.approx(2.0)


def test_nme_68_normalises_by_box():
    gt = np.zeros((1, 68, 2))
    gt[0, :, 0] = np.linspace(0, 40, 68)
    gt[0, :, 1] = np.linspace(0, 90, 68)
    assert L.nme_68(gt + [3.0, 4.0], gt)[0] == pytest.approx(100 * 5 / 60)


def test_meta_joint_picks_the_loss_that_helps_and_restores_weights(torch_mod):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    x = torch.randn(32, 4)
    y = x @ torch.randn(4, 2) + 3.0  # learnable, so a step on one half helps the other
    judge = lambda a, b: (a - b).pow(2).mean()  # noqa: E731
    harmful = lambda a, b: -(a - b).pow(2).mean()  # noqa: E731
    before = {k: v.clone() for k, v in net.state_dict().items()}
    mj = L.MetaJoint({"harmful": harmful, "good": judge}, judge, lr=0.1, every=2)
    assert mj.step(0, net, lambda o: o, x, y) == "good"
    assert mj.step(1, net, lambda o: o, x, y) == "good"  # held between look-aheads
    assert mj.history == {"harmful": 0, "good": 2}
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_vertex_model_save_load_round_trip(rng, tmp_path):
    fm = _toy_model(rng)
    m = L.VertexModel.from_face_model(fm, L.vertex_subset(fm, step=3))
    m.save(tmp_path / "vm.npz")
    back = L.VertexModel.load(tmp_path / "vm.npz")
    want, got = dict(m.named_buffers()), dict(back.named_buffers())
    assert got.keys() == want.keys() == {"mean", "basis", "gram", "mm", "cross", "hess"}
    for k, v in want.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    assert back.n_vertices == m.n_vertices
    p = torch.as_tensor(_params(rng, 2), dtype=torch.float32)
    assert torch.equal(back.reconstruct(p), m.reconstruct(p))
