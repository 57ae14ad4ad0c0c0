"""Resumable single-core FaceBoxes training on synthetic mosaics (see ``data.py``).

State lives in ``cfg["out"]`` (default ``runs/detector``): ``last.pth`` (model, EMA, optimiser, step),
``best.pth`` (EMA weights with the best validation AP), ``train.log`` and ``val.jsonl``. The sample
stream is a pure function of (seed, sample index), so a resumed run sees exactly the data it would have.
Validation uses mosaics of held-out 300W *test* faces (never AFW / AFLW2000), so picking the best
checkpoint does not look at the benchmark.

``"stem": "lite"`` trains the cheaper stem (``FaceBoxesNet(stem="lite")``) from a trained ``rdcl`` network
(``init_from``: everything after the stem) and distils it from ``distill_from`` (one of our own detectors): for the
first ``distill_stem_steps`` steps only the stem learns, to reproduce the teacher's stem output (relative squared
error); then the whole network trains on the detection loss plus ``distill_weight`` times that error.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ...detect.boxes import decode, nms
from ...detect.faceboxes import BGR_MEAN
from ...detect.priors import prior_boxes, priors_for
from ...io.datasets import data_pack
from ...nets.faceboxes import FaceBoxesNet, faceboxes_for, fine_of, stem_of
from .data import FacePool, MosaicGenerator, load_300w
from .pools import load_pool
from .loss import MultiBoxLoss

DEFAULTS = {
    "seed": 0,
    "data_300w": data_pack("300w"),  # $TDDFA_DATA/300w unless the config names it
    "train_splits": ["train"],
    "val_splits": ["test"],
    "sizes": [384, 384, 384, 576],  # per-step canvas size (cycled): mostly small for speed, some large faces
    "batch_size": 8,
    "lr": 1e-3,
    "weight_decay": 5e-4,
    "warmup_steps": 300,
    "total_steps": 60000,  # cosine decay horizon; the EMA makes any intermediate checkpoint usable
    "min_lr_ratio": 0.05,
    "ema_decay": 0.999,
    "grad_clip": 10.0,
    "match_threshold": 0.35,
    "neg_pos_ratio": 7,
    "log_every": 20,
    "ckpt_every": 100,
    "val_every": 500,
    "val_images": 120,
    "val_size": 512,
    "threads": 1,
    "out": "runs/detector",
    "data_version": 2,  # bump when the generator changes (validation AP restarts)
    # extra face pools (``pools.py``), each {"path": npz, "weight": share of face draws, "from": "profiles" |
    # "utkface", "source": what --make-pools builds it from}; the 300W train faces get the rest of the draws
    "pools": [],
    "init_from": None,  # weights to start from (a state dict or checkpoint) when not resuming
    # other people's faces in the 300W crops (``teacher.py``, --make-teacher-boxes): never background, never targets
    "teacher_boxes": None,
    "stem": "rdcl",  # "lite": the cheaper stem, see the module docstring
    "fine": False,  # True: add the stride-16 source (faceboxes_s16); new layers start fresh from init_from
    "distill_from": None,  # our own detector whose stem output the lite stem learns to reproduce
    "distill_stem_steps": 0,
    "distill_weight": 1.0,
}


def load_config(path: str | Path | None, stage: str | None = None, default_last: bool = False) -> dict:
    """The trainer defaults updated with the config at ``path`` (``stage`` of a staged recipe,
    :mod:`tddfa.train.recipe`)."""
    from ..recipe import read_recipe

    cfg = dict(DEFAULTS)
    if path:
        cfg.update(read_recipe(path, stage, default_last=default_last))
    return cfg


def weights_of(ck: dict) -> dict:
    """The FaceBoxes state dict in a loaded ``.pth``: a plain state dict, ``best.pth`` or a ``last.pth`` (its EMA)."""
    return ck.get("state_dict") or ck.get("ema") or ck


def load_weights(path: str | Path) -> dict:
    """:func:`weights_of` the file at ``path``."""
    return weights_of(torch.load(path, map_location="cpu", weights_only=False))


def train_pool(cfg: dict) -> tuple[FacePool, np.ndarray | None, int]:
    """The 300W train faces plus ``cfg["pools"]`` as one pool, per-face draw probabilities (``None``: uniform,
    one pool) and the number of 300W faces, which come first (their crops alone give background pieces)."""
    base = load_300w(cfg["data_300w"], splits=tuple(cfg["train_splits"]), others=teacher_boxes(cfg))
    if not cfg.get("pools"):
        return base, None, len(base)
    pools = [load_pool(p["path"]) for p in cfg["pools"]]
    shares = [float(p["weight"]) for p in cfg["pools"]]
    if min(shares) <= 0 or sum(shares) >= 1:
        raise ValueError("pool weights must be > 0 and sum to less than 1 (300W gets the rest)")
    shares = [1.0 - sum(shares)] + shares
    parts = [base] + pools
    p = np.concatenate([np.full(len(q), w / len(q)) for q, w in zip(parts, shares)])
    return FacePool.concat(parts), p, len(base)


def teacher_boxes(cfg: dict) -> dict[str, np.ndarray] | None:
    """Other faces in the 300W crops (``cfg["teacher_boxes"]``, made by ``--make-teacher-boxes``), or ``None``."""
    path = cfg.get("teacher_boxes")
    if not path:
        return None
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} missing: run tddfa train-detector --config CONFIG --make-teacher-boxes")
    from .teacher import load_other_faces

    return load_other_faces(path)


def stem_error(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Relative squared error of stem features ``(N, 128, h, w)``: 0 when equal, 1 for a student of zeros."""
    return ((student - teacher) ** 2).mean() / (teacher ** 2).mean().clamp_min(1e-8)


def init_model(cfg: dict, log: logging.Logger | None = None) -> FaceBoxesNet:
    """A fresh network of ``cfg["stem"]``, with ``cfg["init_from"]``'s weights where the layers match (all of
    them for the same stem; everything after the stem for a lite stem started from an ``rdcl`` network)."""
    model = FaceBoxesNet(stem=cfg.get("stem", "rdcl"), fine=bool(cfg.get("fine", False))).init_weights()
    if cfg.get("init_from"):
        sd = load_weights(cfg["init_from"])
        if stem_of(sd) == model.stem and model.fine and not fine_of(sd):
            missing, unexpected = model.load_state_dict(sd, strict=False)  # the stride-16 layers start fresh
            if unexpected or not all(k.startswith("fine_") for k in missing):
                raise ValueError(f"{cfg['init_from']} is not a FaceBoxes network: missing {missing}, "
                                 f"unexpected {unexpected}")
        elif stem_of(sd) == model.stem:
            model.load_state_dict(sd)
        else:
            sd = {k: v for k, v in sd.items() if not k.startswith(("conv1.", "conv2."))}
            missing, unexpected = model.load_state_dict(sd, strict=False)
            if unexpected or not all(k.startswith(("conv1.", "conv2.")) for k in missing):
                raise ValueError(f"{cfg['init_from']} is not a FaceBoxes network: missing {missing}, "
                                 f"unexpected {unexpected}")
        if log:
            log.info(f"initialised from {cfg['init_from']}" + ("" if stem_of(sd) == model.stem else " (after the stem)"))
    return model


def load_teacher(path: str | Path) -> FaceBoxesNet:
    sd = load_weights(path)
    net = faceboxes_for(sd)
    net.load_state_dict(sd)
    for q in net.parameters():
        q.requires_grad_(False)
    return net.eval()


def drop_ignored(dets: np.ndarray, ignore: np.ndarray, iou: float = 0.4) -> np.ndarray:
    """Detections ``(D, 5)`` minus those on an ignored face ``(M, 4)`` (unannotated people are not false alarms)."""
    if len(dets) == 0 or len(ignore) == 0:
        return dets
    from ...detect.boxes import iou_matrix

    return dets[iou_matrix(dets[:, :4], np.asarray(ignore, np.float32)).max(1) < iou]


def to_blob(imgs: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(cv2.dnn.blobFromImages(imgs, 1.0, mean=BGR_MEAN, swapRB=False, crop=False))


def lr_at(step: int, cfg: dict) -> float:
    if step < cfg["warmup_steps"]:
        return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
    t = min(1.0, (step - cfg["warmup_steps"]) / max(1, cfg["total_steps"] - cfg["warmup_steps"]))
    r = cfg["min_lr_ratio"]
    return cfg["lr"] * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
        if e.dtype.is_floating_point:
            e.mul_(decay).add_(m.detach(), alpha=1 - decay)
        else:
            e.copy_(m)


@torch.no_grad()
def detect_batch(net: torch.nn.Module, imgs: list[np.ndarray], score_threshold: float = 0.05) -> list[np.ndarray]:
    """Torch-side detection for validation (same decoding / NMS as the ONNX detector)."""
    net.eval()
    loc, logits = net(to_blob(imgs))
    score = torch.softmax(logits, -1)[..., 1].numpy()
    loc = loc.numpy()
    h, w = imgs[0].shape[:2]
    pri = priors_for(h, w, loc.shape[1])
    out = []
    for lo, sc in zip(loc, score):
        idx = np.flatnonzero(sc > score_threshold)
        boxes = decode(lo[idx], pri[idx]) * np.array([w, h, w, h], np.float32)
        keep = nms(boxes, sc[idx], 0.3, offset=1.0)[:750]
        out.append(np.concatenate([boxes[keep], sc[idx][keep, None]], 1))
    return out


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)  # atomic, so a kill mid-write never corrupts the checkpoint


def _logger(out: Path) -> logging.Logger:
    log = logging.getLogger("tddfa.train.detector")
    log.setLevel(logging.INFO)
    if not log.handlers:
        fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        for h in (logging.FileHandler(out / "train.log"), logging.StreamHandler()):
            h.setFormatter(fmt)
            log.addHandler(h)
    return log


def train(cfg: dict, resume: bool = False, max_steps: int | None = None) -> Path:
    """Train until ``total_steps`` (or ``max_steps`` more steps); returns the output folder."""
    from ...eval.detection import detection_metrics

    if cfg.get("fine") and cfg.get("distill_from"):
        raise ValueError("stem distillation (distill_from) is not implemented for the stride-16 network (fine)")
    torch.set_num_threads(int(cfg["threads"]))
    out = Path(cfg["out"])
    out.mkdir(parents=True, exist_ok=True)
    log = _logger(out)
    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"])

    t0 = time.time()
    pool, face_p, n_300w = train_pool(cfg)
    val_pool = load_300w(cfg["data_300w"], splits=tuple(cfg["val_splits"]), others=teacher_boxes(cfg))
    gens = {s: MosaicGenerator(pool, s, seed=cfg["seed"], face_p=face_p, n_background=n_300w,
                               p_group=float(cfg.get("p_group", 0.0)), p_context=float(cfg.get("p_context", 0.0)),
                               p_occlude=float(cfg.get("p_occlude", 0.0)))
            for s in sorted(set(cfg["sizes"]))}
    vgen = MosaicGenerator(val_pool, cfg["val_size"], seed=cfg["seed"] + 1000)
    val = [vgen(i) for i in range(cfg["val_images"])]
    log.info(f"data: {len(pool)} train faces ({n_300w} 300W), {len(val_pool)} val faces, {len(val)} val images "
             f"({time.time() - t0:.1f}s)")

    last = out / "last.pth"
    resuming = resume and last.exists()
    model = init_model({**cfg, "init_from": None} if resuming else cfg, log)
    teacher = load_teacher(cfg["distill_from"]) if cfg.get("distill_from") else None
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    crit = MultiBoxLoss(cfg["match_threshold"], cfg["neg_pos_ratio"])
    step, best = 0, -1.0
    if resuming:
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, best = ck["step"], ck.get("best_ap", -1.0)
        if ck.get("config", {}).get("data_version") != cfg.get("data_version"):
            best = -1.0  # validation mosaics changed with the generator: old AP is not comparable
        log.info(f"resumed from {last} at step {step} (best val AP {best:.2f})")
    else:
        if resume:
            log.info(f"--resume: no {last}, starting fresh")
    (out / "config.json").write_text(json.dumps(cfg, indent=1))

    priors = {s: torch.from_numpy(prior_boxes(s, s, model.fine).copy()) for s in gens}
    B = cfg["batch_size"]
    end = cfg["total_steps"] if max_steps is None else min(cfg["total_steps"], step + max_steps)
    meter, tick, n_img = [], time.time(), 0
    while step < end:
        model.train()
        S = cfg["sizes"][step % len(cfg["sizes"])]
        samples = [gens[S](step * B + i) for i in range(B)]
        x = to_blob([s[0] for s in samples])
        targets = [torch.from_numpy(s[1] / S) for s in samples]
        ignores = [torch.from_numpy(s[2] / S) for s in samples]
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        if teacher is not None:
            with torch.no_grad():
                t_stem = teacher.stem_features(x)
            f = model.stem_features(x)
            distill = stem_error(f, t_stem)
        if teacher is not None and step < cfg["distill_stem_steps"]:  # the stem alone learns the teacher's
            loss, parts = distill, {"loc": 0.0, "conf": 0.0, "pos": 0.0}
        else:
            loc, logits = model.heads(model.trunk(f)) if teacher is not None else model(x)
            loss, parts = crit(loc, logits, targets, priors[S], ignores)
            if teacher is not None:
                loss = loss + cfg["distill_weight"] * distill
        if teacher is not None:
            parts["distill"] = float(distill.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        ema_update(ema, model, min(cfg["ema_decay"], (1 + step) / (10 + step)))
        step += 1
        n_img += B
        meter.append([float(loss.detach()), parts["loc"], parts["conf"], parts["pos"], parts.get("distill", 0.0)])
        if step % cfg["log_every"] == 0:
            m = np.mean(meter, 0)
            dt = time.time() - tick
            log.info(f"step {step}/{cfg['total_steps']} loss {m[0]:.3f} loc {m[1]:.3f} conf {m[2]:.3f} "
                     f"pos/img {m[3]:.1f}" + (f" stem error {m[4]:.4f}" if teacher is not None else "")
                     + f" lr {lr_at(step, cfg):.2e} {n_img / dt:.1f} img/s")
            meter, tick, n_img = [], time.time(), 0
        if step % cfg["val_every"] == 0 or step == end:
            dets = []
            for i in range(0, len(val), 8):
                dets += detect_batch(ema, [v[0] for v in val[i:i + 8]])
            dets = [drop_ignored(d, v[2]) for d, v in zip(dets, val)]
            met = detection_metrics(dets, [v[1] for v in val], 0.5)
            ap = met["ap"]["iou_0.5"]
            rec = {"step": step, "val_ap50": ap, "val_recall50": met["recall"]["iou_0.5"],
                   "val_dets_per_image": met["dets_per_image"], "time": time.strftime("%Y-%m-%d %H:%M:%S")}
            with open(out / "val.jsonl", "a") as f:
                f.write(json.dumps(rec) + "\n")
            log.info(f"val step {step}: AP50 {ap:.2f} recall50 {rec['val_recall50']:.2f} "
                     f"dets/img {rec['val_dets_per_image']:.2f} (best {max(best, ap):.2f})")
            if ap > best:
                best = ap
                _save({"state_dict": ema.state_dict(), "step": step, "val": rec, "config": cfg}, out / "best.pth")
            tick = time.time()
        if step % cfg["ckpt_every"] == 0 or step == end:
            _save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                   "step": step, "best_ap": best, "config": cfg}, last)
    log.info(f"done at step {step}")
    return out
