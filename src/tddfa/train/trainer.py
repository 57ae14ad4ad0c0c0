"""The regressor trainer: in-memory uint8 data, online augmentation, resumable checkpoints, 300W-test NME.

Run folder ``runs/<name>/``: ``train.log`` (appended), ``config.json``, ``last.pth`` (everything needed to
resume: weights, optimizer, epoch/step, best score, whitening), ``best.pth`` (best validation NME) and
``history.jsonl`` (one line per validation). Checkpoints are written atomically, at the end of each epoch and
every ``checkpoint_minutes``; a killed run resumes at the step after the last checkpoint with the same data
order and augmentation (both are seeded by ``(seed, epoch, step)``).

Checkpoint layout (what ``tddfa.runtime.registry._spec_from_pth`` reads): ``{"config": {"arch", "input_size",
"param_mean", "param_std", "face_model": "bfm", "name"}, "model": state_dict, ...}``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..facemodel import load_bfm
from ..nets import create_model
from . import losses as L
from .augment import AugmentConfig, augment_batch
from .dataset import Arrays, concat, load_arrays, to_input, whitening_stats

log = logging.getLogger("tddfa.train")


def setup_logging(run_dir: Path) -> None:
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for h in (logging.FileHandler(run_dir / "train.log"), logging.StreamHandler(sys.stdout)):
        h.setFormatter(fmt)
        log.addHandler(h)
    log.propagate = False


def lr_at(step: int, total: int, base: float, warmup: int, min_ratio: float, progress: float | None = None) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from ``base`` to ``base * min_ratio`` at ``total``.

    ``progress`` (0..1), when given, places the cosine instead of the step count (time-budgeted runs)."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(total - warmup, 1) if progress is None else progress
    t = min(max(t, 0.0), 1.0)
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config device is 'cuda' but PyTorch sees no CUDA device")
    return torch.device(name)


class _EpochSteps(torch.utils.data.Dataset):
    """Steps ``start..n-1`` of one epoch as a dataset of whole batches, so loader workers augment them."""

    def __init__(self, trainer: "Trainer", epoch: int, start: int, n: int):
        self.trainer, self.epoch, self.start, self.n = trainer, epoch, start, n

    def __len__(self) -> int:
        return self.n - self.start

    def __getitem__(self, k: int):
        imgs, params, lms = self.trainer.batch_arrays(self.epoch, self.start + k)
        return torch.from_numpy(imgs), torch.from_numpy(params), torch.from_numpy(lms)


class Trainer:
    def __init__(self, cfg: dict, run_dir: str | Path, resume: bool = False):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        setup_logging(self.run_dir)
        torch.set_num_threads(int(cfg["threads"]))
        cv2.setNumThreads(1)
        torch.manual_seed(int(cfg["seed"]))
        self.device = resolve_device(cfg["device"])
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input shape

        d = cfg["data"]
        self.train = concat([load_arrays(d["train"], cfg["max_train"])] +
                            [load_arrays(e, cfg["max_train"]) for e in d.get("extra") or []])
        self.val = load_arrays(d["val"], cfg["max_val"])
        mean, std = whitening_stats(self.train.params)
        if cfg["vertex_model"]:
            self.vm = L.VertexModel.load(cfg["vertex_model"])
        else:
            fm = load_bfm()
            self.vm = L.VertexModel.from_face_model(fm, L.vertex_subset(fm, cfg["loss"]["vertex_step"]))
        self.model = create_model(cfg["arch"]).to(memory_format=torch.channels_last)
        self.aug = AugmentConfig.from_dict(cfg["augment"])

        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best_nme, self.best_epoch = float("inf"), -1
        self.elapsed = 0.0  # training seconds over all sessions
        last = self.run_dir / "last.pth"
        ck = None
        if resume and last.exists():
            ck = torch.load(last, map_location="cpu", weights_only=False)
            mean = np.asarray(ck["config"]["param_mean"], np.float32)  # keep the run's whitening
            std = np.asarray(ck["config"]["param_std"], np.float32)
        elif cfg["init_from"]:
            init = torch.load(cfg["init_from"], map_location="cpu", weights_only=False)
            if init["config"]["arch"] != cfg["arch"]:
                raise ValueError(f"init_from {cfg['init_from']} is a {init['config']['arch']}, not {cfg['arch']}")
            self.model.load_state_dict(init["model"])
            mean = np.asarray(init["config"]["param_mean"], np.float32)  # its outputs are whitened with these
            std = np.asarray(init["config"]["param_std"], np.float32)
        self.param_mean, self.param_std = mean, std
        self.t_mean, self.t_std = torch.from_numpy(mean).to(self.device), torch.from_numpy(std).to(self.device)

        opt = cfg["optimizer"]
        if opt["name"] == "sgd":
            self.opt = torch.optim.SGD(self.model.parameters(), lr=opt["lr"], momentum=opt["momentum"],
                                       weight_decay=opt["weight_decay"], nesterov=True)
        else:
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=opt["lr"], weight_decay=opt["weight_decay"])
        self.steps_per_epoch = int(cfg["steps_per_epoch"] or len(self.train) // int(cfg["batch_size"]))
        if self.steps_per_epoch < 1:
            raise ValueError(f"{len(self.train)} training samples are fewer than one batch of {cfg['batch_size']}")
        self.total_steps = self.steps_per_epoch * int(cfg["epochs"])

        lc = cfg["loss"]
        self.loss_fns = {"fwpdc": lambda p, g: L.fwpdc(p, g, self.vm), "vdc": lambda p, g: L.vdc(p, g, self.vm),
                         "wpdc": lambda p, g: L.wpdc(p, g, self.vm, self.t_std)}
        self.meta = None
        if lc["kind"] == "metajoint":
            self.meta = L.MetaJoint({k: self.loss_fns[k] for k in ("fwpdc", "vdc")}, self.loss_fns["vdc"],
                                    lr=opt["lr"], every=lc["meta_every"], lookahead=lc["meta_lookahead"])

        if ck is not None:
            self.model.load_state_dict(ck["model"])
        self.model.to(self.device)
        self.vm.to(self.device)
        if ck is not None:
            self.opt.load_state_dict(ck["optimizer"])
            self.epoch, self.step_in_epoch = int(ck["epoch"]), int(ck["step_in_epoch"])
            self.global_step, self.elapsed = int(ck["global_step"]), float(ck.get("elapsed", 0.0))
            self.best_nme, self.best_epoch = float(ck["best_nme"]), int(ck["best_epoch"])
            if self.meta is not None and ck.get("meta"):
                self.meta.current, self.meta.history = ck["meta"]["current"], dict(ck["meta"]["history"])
            log.info(f"resumed from {last}: epoch {self.epoch} step {self.step_in_epoch} "
                     f"(global {self.global_step}), best NME {self.best_nme:.3f}")
        (self.run_dir / "config.json").write_text(json.dumps(cfg, indent=2))
        log.info(f"{cfg['name']}: {cfg['arch']}, train {len(self.train)} val {len(self.val)}, batch "
                 f"{cfg['batch_size']}, {self.steps_per_epoch} steps/epoch x {cfg['epochs']} epochs, loss "
                 f"{lc['kind']} (+landmarks x{lc['lm_weight']}), threads {cfg['threads']}, "
                 f"{self.vm.n_vertices} loss vertices")

    # ---- pieces -------------------------------------------------------------------------------------
    def unwhiten(self, out: torch.Tensor) -> torch.Tensor:
        return out * self.t_std + self.t_mean

    def batch_indices(self, epoch: int, step: int) -> np.ndarray:
        """Training rows of batch ``step`` of ``epoch``: a pure function of (seed, epoch, step)."""
        bs, seed = int(self.cfg["batch_size"]), int(self.cfg["seed"])
        perm = np.random.default_rng([seed, epoch]).permutation(len(self.train))
        idx = np.sort(perm[(step * bs) % len(perm):][:bs])
        if idx.size < bs:  # steps_per_epoch beyond one pass: wrap around
            idx = np.sort(perm[:bs])
        return idx

    def batch_arrays(self, epoch: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The augmented batch ``step`` of ``epoch`` (uint8 crops, params, landmarks): a pure function of
        (seed, epoch, step)."""
        idx = self.batch_indices(epoch, step)
        rng = np.random.default_rng([int(self.cfg["seed"]), epoch, step, 1])
        return augment_batch(self.train.images[idx], self.train.params[idx], self.train.landmarks[idx], self.aug, rng)

    def batch(self, epoch: int, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`batch_arrays` as tensors on the training device (input normalised like inference)."""
        imgs, params, lms = self.batch_arrays(epoch, step)
        return self.to_device(torch.from_numpy(imgs), torch.from_numpy(params), torch.from_numpy(lms))

    def to_device(self, imgs: torch.Tensor, params: torch.Tensor, lms: torch.Tensor):
        d = self.device
        nb = d.type == "cuda"
        x = to_input(imgs.to(d, non_blocking=nb))
        return x, params.to(d, non_blocking=nb), lms.to(d, non_blocking=nb)

    def _device_batches(self, epoch: int, start: int):
        """``augment_backend: torch``: the training set lives on the device; whole batches are augmented there."""
        from .augment_torch import augment_batch_torch

        if getattr(self, "_on_device", None) is None:
            d = self.device
            self._on_device = tuple(torch.from_numpy(a).to(d) for a in
                                    (self.train.images, self.train.params, self.train.landmarks))
        images, params, lms = self._on_device
        seed = int(self.cfg["seed"])
        for k in range(start, self.steps_per_epoch):
            idx = torch.from_numpy(self.batch_indices(epoch, k)).to(self.device)
            g = torch.Generator().manual_seed(int(np.random.default_rng([seed, epoch, k, 2]).integers(2 ** 62)))
            yield augment_batch_torch(images[idx], params[idx], lms[idx], self.aug, g)

    def batches(self, epoch: int, start: int):
        """Batches ``start..`` of ``epoch`` on the device, from loader workers when ``loader_workers`` > 0."""
        if self.cfg["augment_backend"] == "torch":
            yield from self._device_batches(epoch, start)
            return
        w = int(self.cfg["loader_workers"])
        if w <= 0:
            for k in range(start, self.steps_per_epoch):
                yield self.batch(epoch, k)
            return
        loader = torch.utils.data.DataLoader(_EpochSteps(self, epoch, start, self.steps_per_epoch), batch_size=None,
                                             shuffle=False, num_workers=w, pin_memory=self.device.type == "cuda",
                                             prefetch_factor=4)
        for imgs, params, lms in loader:
            yield self.to_device(imgs, params, lms)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, lm: torch.Tensor, lr: float) -> tuple[torch.Tensor, str]:
        """One optimiser step; returns the loss (a detached tensor: reading it waits for the device) and its kind."""
        for g in self.opt.param_groups:
            g["lr"] = lr
        kind = self.cfg["loss"]["kind"]
        if self.meta is not None:
            self.meta.lr = lr
            kind = self.meta.step(self.global_step, self.model, lambda o: self.unwhiten(o), x, y)
        self.model.train()
        out, lm_out = self.model.forward_train(x)
        loss = self.loss_fns[kind](self.unwhiten(out), y)
        w = float(self.cfg["loss"]["lm_weight"])
        if w > 0:
            loss = loss + w * L.landmark_loss(lm_out, lm)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach(), kind

    @torch.no_grad()
    def validate(self) -> dict:
        """NME (%) of the 68 reconstructed landmarks vs the annotated ones, normalised by sqrt(w*h) of their box."""
        from .evaluate import predict_landmarks

        pred = predict_landmarks(self.model, self.val.images, self.unwhiten, self.vm, int(self.cfg["val_batch"]), n=68)
        nme = L.nme_68(pred, self.val.landmarks)
        return {"nme": float(nme.mean()), "nme_median": float(np.median(nme))}

    def checkpoint(self, path: Path, full: bool = True) -> None:
        ck = {"config": {"name": self.cfg["name"], "arch": self.cfg["arch"], "input_size": int(self.cfg["input_size"]),
                         "param_mean": self.param_mean.tolist(), "param_std": self.param_std.tolist(),
                         "face_model": "bfm", "train_config": self.cfg},
              "model": _state_dict(self.model), "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
              "global_step": self.global_step, "best_nme": self.best_nme, "best_epoch": self.best_epoch,
              "elapsed": self.elapsed}
        if full:
            ck["optimizer"] = self.opt.state_dict()
            if self.meta is not None:
                ck["meta"] = {"current": self.meta.current, "history": self.meta.history}
        _save(ck, path)

    # ---- loop ---------------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.cfg
        opt = cfg["optimizer"]
        sch = cfg["schedule"]
        bs = int(cfg["batch_size"])
        last_ck = time.monotonic()
        result: dict = {}
        budget = 60 * float(cfg["time_budget_minutes"]) if cfg["time_budget_minutes"] else None
        out_of_time = budget is not None and self.elapsed >= budget
        while self.epoch < int(cfg["epochs"]) and not out_of_time:
            t_epoch, run_loss, n_loss = time.monotonic(), 0.0, 0
            t_log = t_prev = time.monotonic()
            for x, y, lm in self.batches(self.epoch, self.step_in_epoch):
                lr = lr_at(self.global_step, self.total_steps, opt["lr"], sch["warmup_steps"], sch["min_lr_ratio"],
                           None if budget is None else self.elapsed / budget)
                loss, kind = self.train_step(x, y, lm, lr)
                self.step_in_epoch += 1
                self.global_step += 1
                now = time.monotonic()
                self.elapsed += now - t_prev
                t_prev = now
                run_loss, n_loss = run_loss + loss, n_loss + 1
                if self.step_in_epoch % int(cfg["log_every"]) == 0 or self.step_in_epoch == self.steps_per_epoch:
                    mean_loss = float(run_loss) / n_loss  # the only wait for the device in a logging period
                    if not math.isfinite(mean_loss):
                        raise FloatingPointError(f"loss became {mean_loss} before step {self.global_step}; "
                                                 "lower optimizer.lr")
                    rate = n_loss * bs / max(time.monotonic() - t_log, 1e-9)
                    if budget is None:
                        eta = (self.total_steps - self.global_step) * bs / max(rate, 1e-9)
                    else:
                        eta = max(budget - self.elapsed, 0.0)
                    log.info(f"epoch {self.epoch + 1}/{cfg['epochs']} step {self.step_in_epoch}/{self.steps_per_epoch}"
                             f" loss {mean_loss:.3f} ({kind}) lr {lr:.2e} {rate:.1f} samples/s"
                             f" eta {eta / 3600:.2f} h")
                    t_log, run_loss, n_loss = time.monotonic(), 0.0, 0
                out_of_time = budget is not None and self.elapsed >= budget
                stop = cfg["stop_after_steps"] is not None and self.global_step >= int(cfg["stop_after_steps"])
                if stop or time.monotonic() - last_ck > 60 * float(cfg["checkpoint_minutes"]):
                    self.checkpoint(self.run_dir / "last.pth")
                    last_ck = time.monotonic()
                if stop and self.step_in_epoch < self.steps_per_epoch:
                    log.info(f"stopped at step {self.global_step} (stop_after_steps); resume with --resume")
                    return {"stopped": True, "best_nme": self.best_nme, "best_epoch": self.best_epoch}
                if out_of_time:
                    log.info(f"time budget of {cfg['time_budget_minutes']} min spent at step {self.global_step}")
                    break
            metrics = self.validate()
            self.epoch += 1
            self.step_in_epoch = 0
            improved = metrics["nme"] < self.best_nme
            if improved:
                self.best_nme, self.best_epoch = metrics["nme"], self.epoch
            result = {"epoch": self.epoch, "global_step": self.global_step, "train_hours": self.elapsed / 3600,
                      "epoch_seconds": time.monotonic() - t_epoch, **metrics, "best_nme": self.best_nme,
                      "best_epoch": self.best_epoch}
            if self.meta is not None:
                result["meta_steps"] = dict(self.meta.history)
            with open(self.run_dir / "history.jsonl", "a") as f:
                f.write(json.dumps(result) + "\n")
            log.info(f"epoch {self.epoch} val NME {metrics['nme']:.3f} (median {metrics['nme_median']:.3f})"
                     f" best {self.best_nme:.3f} @ epoch {self.best_epoch}"
                     + (f" meta-joint steps {self.meta.history}" if self.meta is not None else ""))
            if improved:
                self.checkpoint(self.run_dir / "best.pth", full=False)
            self.checkpoint(self.run_dir / "last.pth")
            last_ck = time.monotonic()
            if cfg["stop_after_steps"] is not None and self.global_step >= int(cfg["stop_after_steps"]):
                log.info(f"stopped at step {self.global_step} (stop_after_steps); resume with --resume")
                return {**result, "stopped": True}
        log.info(f"done: best val NME {self.best_nme:.3f} at epoch {self.best_epoch}, "
                 f"{self.elapsed / 3600:.2f} h of training")
        return result


def run(cfg: dict, run_dir: str | Path, resume: bool = False) -> dict:
    return Trainer(cfg, run_dir, resume=resume).fit()


__all__ = ["Trainer", "run", "lr_at", "Arrays"]
