"""Trainer options for other machines: device, loader workers, init_from, vertex_model, time budget."""
from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")

from tddfa.errors import InputError  # noqa: E402
from tddfa.train import losses as L  # noqa: E402
from tddfa.train import trainer as T  # noqa: E402
from tddfa.train.config import load_config, smoke_overrides  # noqa: E402
from tddfa.train.dataset import whitening_stats  # noqa: E402
from tddfa.train.trainer import Trainer, lr_at, resolve_device  # noqa: E402


def _cfg(data_cfg, **extra) -> dict:
    """The smoke config with top-level ``extra`` keys (nested smoke keys such as ``schedule`` are kept)."""
    assert not set(extra) & {"schedule", "loss", "optimizer", "data"}
    return load_config(data_cfg, {**smoke_overrides(), **extra})


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def test_lr_with_progress_warms_up_by_steps_then_follows_progress():
    base, warm, lo = 2.0, 10, 0.05
    for s in (0, 4, 9):  # warm-up ignores progress
        for p in (0.0, 0.7, 1.0):
            assert lr_at(s, 1000, base, warm, lo, progress=p) == pytest.approx(base * (s + 1) / warm)
    for s in (10, 500, 5000):  # after warm-up only progress matters, not the step or the total
        assert lr_at(s, 1000, base, warm, lo, progress=0.0) == pytest.approx(base)
        assert lr_at(s, 1000, base, warm, lo, progress=1.0) == pytest.approx(base * lo)
        assert lr_at(s, 1000, base, warm, lo, progress=0.5) == pytest.approx(base * (lo + (1 - lo) / 2))
        assert lr_at(s, 1000, base, warm, lo, progress=1.7) == pytest.approx(base * lo)  # clamped
        assert lr_at(s, 1000, base, warm, lo, progress=-0.3) == pytest.approx(base)
    lrs = [lr_at(20, 1000, base, warm, lo, progress=p) for p in np.linspace(0, 1, 21)]
    assert all(a > b for a, b in pairwise(lrs))
    assert lr_at(20, 1000, base, warm, lo) != pytest.approx(lr_at(20, 1000, base, warm, lo, progress=0.9))


def test_unknown_device_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="device"):
        load_config(None, {"device": "tpu"})
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"device": "gpu0"}))
    with pytest.raises(InputError, match="gpu0"):
        load_config(cfg)
    for ok in ("cpu", "cuda", "auto"):
        assert load_config(None, {"device": ok})["device"] == ok


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="cuda"):
        resolve_device("cuda")


def test_loader_workers_give_the_same_batches(data_cfg, tmp_path):
    t1 = Trainer(_cfg(data_cfg, loader_workers=1, epochs=1), tmp_path / "w1")
    t0 = Trainer(_cfg(data_cfg, loader_workers=0, epochs=1), tmp_path / "w0")
    got1, got0 = list(t1.batches(0, 0)), list(t0.batches(0, 0))
    assert len(got1) == len(got0) == t1.steps_per_epoch == 2
    for k, ((x1, y1, l1), (x0, y0, l0)) in enumerate(zip(got1, got0)):
        imgs, params, lms = t1.batch_arrays(0, k)
        assert x1.shape == (8, 3, 120, 120) and x1.dtype == torch.float32
        # undo the input normalisation, (x - 127.5) / 128 (exact in float32)
        back = (x1 * 128 + 127.5).permute(0, 2, 3, 1)
        assert torch.equal(back, torch.from_numpy(imgs).float()), k
        assert torch.equal(y1, torch.from_numpy(params)) and torch.equal(l1, torch.from_numpy(lms))
        assert torch.equal(x1, x0) and torch.equal(y1, y0) and torch.equal(l1, l0)
    assert not torch.equal(got1[0][0], got1[1][0])
    (x, _, _), = list(t1.batches(0, 1))  # starting mid-epoch (resume) gives the later batch
    assert torch.equal(x, got1[1][0])
    result = t1.fit()  # a whole (one-epoch) smoke run through the workers
    assert result["global_step"] == 2 and np.isfinite(result["nme"])


def test_torch_augment_backend_batches_are_seeded_and_train(data_cfg, tmp_path):
    """``augment_backend: torch`` augments whole batches on the device: same (epoch, step) -> same batch, the
    batch's rows are those of ``batch_indices``, and a smoke run completes."""
    from tddfa.train import augment_torch

    t = Trainer(_cfg(data_cfg, augment_backend="torch", epochs=1), tmp_path / "t")
    a, b = list(t.batches(0, 0)), list(t.batches(0, 0))
    assert len(a) == t.steps_per_epoch == 2
    for (x1, y1, l1), (x2, y2, l2) in zip(a, b):
        assert x1.shape == (8, 3, 120, 120) and x1.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and torch.equal(l1, l2)
    assert not torch.equal(a[0][0], a[1][0])
    # with every augmentation off, the batch is exactly the indexed rows, normalised
    t.aug = type(t.aug)(p_geometric=0, p_color=0, p_gray=0, p_blur=0, p_lowres=0, p_occlude=0)
    (x, y, lm), = list(t.batches(0, 1))
    idx = t.batch_indices(0, 1)
    assert torch.equal(y, torch.from_numpy(t.train.params[idx]))
    assert torch.equal(lm, torch.from_numpy(t.train.landmarks[idx]))
    assert torch.equal(x, augment_torch.augment_batch_torch(torch.from_numpy(t.train.images[idx]), y, lm, t.aug,
                                                             torch.Generator().manual_seed(0))[0])
    t2 = Trainer(_cfg(data_cfg, augment_backend="torch", epochs=1), tmp_path / "t2")
    result = t2.fit()
    assert result["global_step"] == 2 and np.isfinite(result["nme"])
    with pytest.raises(InputError, match="augment_backend"):
        _cfg(data_cfg, augment_backend="gpu")


def test_init_from_takes_weights_and_whitening_of_a_checkpoint(data_cfg, tmp_path):
    a = Trainer(_cfg(data_cfg, seed=1, max_train=16), tmp_path / "a")
    a.train_step(*a.batch(0, 0), lr=1e-3)  # also moves the batch-norm statistics
    a.checkpoint(tmp_path / "a.pth", full=False)
    want = _state(a.model)

    b = Trainer(_cfg(data_cfg, init_from=str(tmp_path / "a.pth")), tmp_path / "b")
    got = _state(b.model)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.equal(got[k], want[k]), k
    torch.manual_seed(0)
    fresh = T.create_model("mb05").state_dict()  # what seed 0 would have started from
    assert any(not torch.equal(fresh[k], want[k]) for k in want)

    own_mean, _ = whitening_stats(b.train.params)
    assert not np.allclose(own_mean, a.param_mean)  # 32 samples vs the checkpoint's 16
    np.testing.assert_array_equal(b.param_mean, a.param_mean)
    np.testing.assert_array_equal(b.param_std, a.param_std)
    np.testing.assert_array_equal(b.t_mean.cpu().numpy(), a.param_mean)
    np.testing.assert_array_equal(b.t_std.cpu().numpy(), a.param_std)
    assert (b.epoch, b.global_step) == (0, 0)  # a new run, not a resume

    bad = torch.load(tmp_path / "a.pth", map_location="cpu", weights_only=False)
    bad["config"]["arch"] = "mb1"
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="mb1"):
        Trainer(_cfg(data_cfg, init_from=str(tmp_path / "bad.pth")), tmp_path / "c")


def test_vertex_model_file_replaces_the_face_model(data_cfg, bfm, tmp_path, monkeypatch):
    vm = L.VertexModel.from_face_model(bfm, L.vertex_subset(bfm, 25))
    vm.save(tmp_path / "vm.npz")

    def no_bfm():
        raise AssertionError("the BFM must not be loaded when vertex_model is given")

    monkeypatch.setattr(T, "load_bfm", no_bfm)
    t = Trainer(_cfg(data_cfg, vertex_model=str(tmp_path / "vm.npz")), tmp_path / "r")
    assert t.vm.n_vertices == vm.n_vertices
    got = dict(t.vm.named_buffers())
    for k, v in vm.named_buffers():
        assert torch.equal(got[k].cpu(), v), k


def test_time_budget_stops_the_run_early(data_cfg, tmp_path):
    cfg = _cfg(data_cfg, time_budget_minutes=0.001, epochs=2, steps_per_epoch=20)  # 0.06 s of training
    run = tmp_path / "r"
    t = Trainer(cfg, run)
    result = t.fit()
    assert 1 <= result["global_step"] < t.total_steps == 40
    assert result["epoch"] == 1 and len((run / "history.jsonl").read_text().splitlines()) == 1
    assert "time budget" in (run / "train.log").read_text()
    last = torch.load(run / "last.pth", map_location="cpu", weights_only=False)
    assert last["global_step"] == result["global_step"] and last["elapsed"] >= 0.06
    again = Trainer(cfg, run, resume=True)  # a resumed run has no time left either
    again.fit()
    assert again.global_step == result["global_step"]
