"""Trainer smoke run through the CLI, exact resume after an interruption, export to a shipped model."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.cli import main  # noqa: E402
from tddfa.train.dataset import whitening_stats  # noqa: E402
from tddfa.train.trainer import lr_at  # noqa: E402


@pytest.fixture(scope="module")
def smoke_run(data_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "smoke"
    assert main(["train", "--config", str(data_cfg), "--smoke", "--out", str(out)]) == 0
    return out


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_smoke_run_writes_log_checkpoints_and_refuses_to_overwrite(data_cfg, smoke_run):
    out = smoke_run
    log = (out / "train.log").read_text()
    assert "val NME" in log and "samples/s" in log
    hist = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in hist] == [1, 2] and all(np.isfinite(h["nme"]) for h in hist)
    ck = torch.load(out / "best.pth", map_location="cpu", weights_only=False)
    assert ck["config"]["arch"] == "mb05" and ck["config"]["face_model"] == "bfm"
    assert len(ck["config"]["param_mean"]) == 62 and len(ck["config"]["param_std"]) == 62
    assert "optimizer" in torch.load(out / "last.pth", map_location="cpu", weights_only=False)
    assert main(["train", "--config", str(data_cfg), "--smoke", "--out", str(out)]) != 0


def test_resume_reproduces_an_uninterrupted_run(data_cfg, smoke_run, tmp_path):
    a, b = smoke_run, tmp_path / "b"
    # interrupted mid-epoch 2 (global step 3 of 4), then resumed
    assert main(["train", "--config", str(data_cfg), "--smoke", "--stop-after", "3", "--out", str(b)]) == 0
    wa1 = _weights(b / "last.pth")
    assert main(["train", "--config", str(data_cfg), "--smoke", "--out", str(b), "--resume"]) == 0
    assert "resumed from" in (b / "train.log").read_text()
    wa, wb = _weights(a / "last.pth"), _weights(b / "last.pth")
    assert any(not torch.equal(wa1[k], wb[k]) for k in wb)  # the resumed epoch trained
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6, msg=k)


def test_export_gives_a_regressor_the_runtime_resolves(smoke_run, tmp_path):
    from tddfa.runtime.onnx import OnnxRegressor
    from tddfa.runtime.registry import resolve_regressor

    run = smoke_run
    models = tmp_path / "models"
    assert main(["train-export", str(run / "best.pth"), "--name", "tiny", "--out-dir", str(models), "--default"]) == 0
    assert json.loads((models / "default.json").read_text()) == {"regressor": "tiny"}
    spec = resolve_regressor(str(models / "tiny.onnx"))
    ck = torch.load(run / "best.pth", map_location="cpu", weights_only=False)
    np.testing.assert_allclose(spec.param_std, ck["config"]["param_std"], rtol=1e-6)
    assert spec.arch == "mb05" and spec.face_model == "bfm"
    from tddfa.nets import create_model

    net = create_model("mb05")
    net.load_state_dict(torch.load(models / "tiny.pth", map_location="cpu", weights_only=False)["model"])
    x = np.random.default_rng(0).normal(0, 0.5, (2, 3, 120, 120)).astype(np.float32)
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(OnnxRegressor(spec.onnx)(x), want, atol=1e-3, rtol=1e-3)
    assert spec.roi_box_scale == 1.58  # not given: the 3DDFA_V2 value


def test_export_stores_roi_box_scale_for_onnx_and_pth(smoke_run, tmp_path):
    from tddfa.runtime.registry import resolve_regressor

    models = tmp_path / "models"
    assert main(["train-export", str(smoke_run / "best.pth"), "--name", "tiny2", "--out-dir", str(models),
                 "--roi-box-scale", "1.2345"]) == 0
    assert json.loads((models / "tiny2.json").read_text())["roi_box_scale"] == 1.2345
    assert resolve_regressor(str(models / "tiny2.onnx")).roi_box_scale == 1.2345
    assert resolve_regressor(str(models / "tiny2.pth")).roi_box_scale == 1.2345


def test_lr_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 100, 1.0, 10, 0.1) for s in range(101)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:])) and lrs[100] == pytest.approx(0.1)


def test_whitening_keeps_constant_parameters_finite(rng):
    p = rng.normal(0, 1, (50, 62)).astype(np.float32)
    p[:, 11] = -76.0
    mean, std = whitening_stats(p)
    assert std[11] == 1.0 and mean[11] == pytest.approx(-76.0)
    np.testing.assert_allclose(std[:5], p[:, :5].std(0), rtol=1e-5)


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"lossx": 1}))
    assert main(["train", "--config", str(cfg), "--smoke", "--out", str(tmp_path / "r")]) != 0
    from tddfa.errors import InputError
    from tddfa.train.config import load_config

    with pytest.raises(InputError, match="lossx"):
        load_config(cfg)


def test_train_eval_matches_the_trainers_validation(data_cfg, smoke_run, tmp_path):
    """``train-eval`` recomputes the NME the trainer logged for best.pth on the same split."""
    from tddfa.train.evaluate import checkpoint_nme

    val = json.loads(data_cfg.read_text())["data"]["val"]
    best = torch.load(smoke_run / "best.pth", map_location="cpu", weights_only=False)
    got = checkpoint_nme(smoke_run / "best.pth", [val])[val]
    assert got["n"] == 16
    assert got["nme"] == pytest.approx(best["best_nme"], rel=1e-4)
    out = tmp_path / "eval.json"
    assert main(["train-eval", str(smoke_run / "best.pth"), "--data", val, "--json", str(out)]) == 0
    assert json.loads(out.read_text())[str(smoke_run / "best.pth")][val]["n"] == 16


def test_yaw_bins_split_by_absolute_yaw():
    from tddfa.train.evaluate import yaw_bins

    nme = np.array([1.0, 3.0, 2.0, 6.0, 10.0])
    yaw = np.array([-10.0, 20.0, -45.0, 75.0, -90.0])
    b = yaw_bins(nme, yaw)
    assert (b["0-30"]["n"], b["30-60"]["n"], b["60-90"]["n"]) == (2, 1, 2)
    assert b["0-30"]["nme"] == 2.0 and b["60-90"]["nme"] == 8.0
    assert b["mean_of_bins"] == pytest.approx((2.0 + 2.0 + 8.0) / 3)
