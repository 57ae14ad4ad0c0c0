"""The parameter-averaging ensemble (``mb1+mb05``): forward, checkpoint assembly and ONNX export."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.cli import main
from tddfa.errors import InputError
from tddfa.nets import create_model, list_models
from tddfa.nets.ensemble import ParamAverage
from tddfa.export.checkpoint import ensemble_checkpoint, export_checkpoint


def _randomize_bn(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BatchNorm running stats, so eval mode differs from train mode and members differ."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def _member(arch: str, seed: int) -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    torch.manual_seed(seed)
    m = create_model(arch)
    gen = torch.Generator().manual_seed(seed)
    _randomize_bn(m, gen)
    m.eval()
    rng = np.random.default_rng(seed)
    mean = rng.normal(0, 3, 62).astype(np.float32)
    std = rng.uniform(0.5, 4.0, 62).astype(np.float32)
    return m, mean, std


def _hand_average(members, x: torch.Tensor, out_mean, out_std) -> np.ndarray:
    with torch.no_grad():
        raw = [m(x).numpy() * s + mu for m, mu, s in members]
    return (sum(raw) / len(raw) - out_mean) / out_std


@pytest.fixture(scope="module")
def members():
    return [_member("mb1", 1), _member("mb05", 2)]


@pytest.fixture(scope="module")
def x():
    return torch.from_numpy(np.random.default_rng(7).normal(0, 0.5, (2, 3, 120, 120)).astype(np.float32))


@pytest.fixture(scope="module")
def member_ckpts(members, tmp_path_factory):
    d = tmp_path_factory.mktemp("members")
    paths = []
    for (m, mean, std), arch in zip(members, ("mb1", "mb05")):
        p = d / f"{arch}.pth"
        cfg = {"arch": arch, "input_size": 120, "param_mean": mean.tolist(), "param_std": std.tolist(),
               "face_model": "bfm", "roi_box_scale": 1.5 if arch == "mb1" else 1.7}
        torch.save({"config": cfg, "model": m.state_dict()}, p)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def ens_ckpt(member_ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("ens") / "sub" / "ens.pth"
    cfg = ensemble_checkpoint(member_ckpts, out)
    return out, cfg


def _load_ensemble(path) -> torch.nn.Module:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = create_model(ck["config"]["arch"])
    model.load_state_dict(ck["model"])
    return model.eval()


def test_registered_and_forward_is_the_mean_of_unwhitened_params(members, x):
    assert "mb1+mb05" in list_models()
    ens = create_model("mb1+mb05")
    assert isinstance(ens, ParamAverage) and len(ens.members) == 2
    assert [type(m).__name__ for m in ens.members] == [type(members[0][0]).__name__, type(members[1][0]).__name__]
    for dst, (src, _, _) in zip(ens.members, members):
        dst.load_state_dict(src.state_dict())
    out_mean = np.random.default_rng(3).normal(0, 2, 62).astype(np.float32)
    out_std = np.random.default_rng(4).uniform(0.5, 3.0, 62).astype(np.float32)
    with torch.no_grad():
        ens.in_mean.copy_(torch.from_numpy(np.stack([members[0][1], members[1][1]])))
        ens.in_std.copy_(torch.from_numpy(np.stack([members[0][2], members[1][2]])))
        ens.out_mean.copy_(torch.from_numpy(out_mean))
        ens.out_std.copy_(torch.from_numpy(out_std))
    ens.eval()
    with torch.no_grad():
        got = ens(x).numpy()
    want = _hand_average(members, x, out_mean, out_std)
    assert got.shape == (2, 62)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # not trivially one member's output
    with torch.no_grad():
        only_first = (members[0][0](x).numpy() * members[0][2] + members[0][1] - out_mean) / out_std
    assert np.abs(got - only_first).max() > 1e-2
    with pytest.raises(NotImplementedError):
        ens.forward_train(x)


def test_ensemble_checkpoint_reproduces_the_average_with_the_first_members_whitening(members, ens_ckpt, x):
    path, cfg = ens_ckpt
    assert path.exists()
    ck = torch.load(path, map_location="cpu", weights_only=False)
    assert ck["config"] == cfg
    assert cfg["arch"] == "mb1+mb05" and cfg["input_size"] == 120 and cfg["name"] == "ens"
    np.testing.assert_array_equal(np.asarray(cfg["param_mean"], np.float32), members[0][1])
    np.testing.assert_array_equal(np.asarray(cfg["param_std"], np.float32), members[0][2])
    assert cfg["roi_box_scale"] == 1.5 and cfg["face_model"] == "bfm" and len(cfg["members"]) == 2
    model = _load_ensemble(path)
    np.testing.assert_array_equal(model.out_mean.numpy(), members[0][1])
    np.testing.assert_array_equal(model.out_std.numpy(), members[0][2])
    with torch.no_grad():
        got = model(x).numpy()
    want = _hand_average(members, x, members[0][1], members[0][2])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_ensemble_checkpoint_rejects_wrong_order_unknown_archs_and_mixed_sizes(member_ckpts, tmp_path):
    mb1, mb05 = member_ckpts
    with pytest.raises(InputError, match="no registered ensemble"):
        ensemble_checkpoint([mb05, mb1], tmp_path / "bad.pth")
    with pytest.raises(InputError, match="no registered ensemble"):
        ensemble_checkpoint([mb1, mb1], tmp_path / "bad.pth")
    with pytest.raises(InputError, match="no registered ensemble"):
        ensemble_checkpoint([mb1], tmp_path / "bad.pth")
    ck = torch.load(mb05, map_location="cpu", weights_only=False)
    ck["config"]["input_size"] = 128
    odd = tmp_path / "mb05_128.pth"
    torch.save(ck, odd)
    with pytest.raises(InputError, match="input sizes"):
        ensemble_checkpoint([mb1, odd], tmp_path / "bad.pth")
    not_ckpt = tmp_path / "weights_only.pth"
    torch.save({"model": ck["model"]}, not_ckpt)
    with pytest.raises(InputError):
        ensemble_checkpoint([mb1, not_ckpt], tmp_path / "bad.pth")
    assert not (tmp_path / "bad.pth").exists()


def test_train_ensemble_cli(member_ckpts, tmp_path, capsys):
    out = tmp_path / "cli_ens.pth"
    assert main(["train-ensemble", str(member_ckpts[0]), str(member_ckpts[1]), "--out", str(out)]) == 0
    assert out.exists() and "mb1+mb05" in capsys.readouterr().out
    assert torch.load(out, map_location="cpu", weights_only=False)["config"]["arch"] == "mb1+mb05"
    assert main(["train-ensemble", str(member_ckpts[1]), str(member_ckpts[0]), "--out", str(tmp_path / "x.pth")]) \
        == InputError.exit_code
    assert not (tmp_path / "x.pth").exists()


def test_export_without_pth_matches_torch_in_onnx_runtime(members, ens_ckpt, tmp_path, x):
    from tddfa.runtime.onnx import OnnxRegressor

    path, cfg = ens_ckpt
    paths = export_checkpoint(path, "ens", out_dir=tmp_path, pth=False)
    assert set(paths) == {"onnx", "json"}
    assert (tmp_path / "ens.onnx").exists() and (tmp_path / "ens.json").exists()
    assert not (tmp_path / "ens.pth").exists()
    assert not list(tmp_path.glob(".*tmp*"))
    meta = json.loads((tmp_path / "ens.json").read_text())
    assert meta["arch"] == "mb1+mb05" and meta["name"] == "ens"
    np.testing.assert_allclose(meta["param_mean"], cfg["param_mean"], rtol=1e-6)
    np.testing.assert_allclose(meta["param_std"], cfg["param_std"], rtol=1e-6)
    got = OnnxRegressor(tmp_path / "ens.onnx")(x.numpy())
    with torch.no_grad():
        want = _load_ensemble(path)(x).numpy()
    assert got.shape == (2, 62)
    np.testing.assert_allclose(got, want, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(got, _hand_average(members, x, members[0][1], members[0][2]), atol=1e-3, rtol=1e-3)
