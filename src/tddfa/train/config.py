"""Training configuration: a JSON (or, on Python >= 3.11, TOML) file merged over these defaults.

Unknown keys are errors (a typo must not silently train the wrong thing). ``smoke_overrides`` turns any
config into a run of a few seconds for tests.
"""
from __future__ import annotations

import copy
from pathlib import Path

from ..errors import InputError
from .recipe import read_recipe

DEFAULTS: dict = {
    "name": "tddfa_mb05",
    "arch": "mb05",
    "input_size": 120,
    "data": {"train": "cache/train/train.npz", "val": "cache/train/val.npz", "extra": []},
    "batch_size": 64,
    "epochs": 60,
    "steps_per_epoch": None,  # None: one pass over the training set
    "optimizer": {"name": "adamw", "lr": 2e-3, "weight_decay": 1e-4, "momentum": 0.9},
    "schedule": {"warmup_steps": 100, "min_lr_ratio": 0.02},  # linear warm-up, then cosine to min
    "loss": {"kind": "metajoint", "lm_weight": 0.5, "vertex_step": 10, "meta_every": 10, "meta_lookahead": "sign"},
    "augment": {},
    "threads": 1,
    "seed": 0,
    "max_train": None,  # use only the first N training samples (quick runs)
    "max_val": None,
    "val_batch": 128,
    "log_every": 20,
    "checkpoint_minutes": 10.0,
    "stop_after_steps": None,  # save last.pth and stop at this global step, as if killed (tests, time boxes)
    "device": "cpu",  # "cpu", "cuda" or "auto" (cuda when available)
    "loader_workers": 0,  # >0: batches are augmented in that many worker processes (a GPU needs several)
    "init_from": None,  # a checkpoint whose weights and whitening start a new run (fine-tuning)
    "vertex_model": None,  # an .npz from `VertexModel.save` instead of building the loss vertices from the BFM
    "time_budget_minutes": None,  # the lr schedule runs on training time instead of steps; stop when spent
    "augment_backend": "cv2",  # "cv2": per image on the CPU (workers); "torch": whole batches on the device
}

LOSS_KINDS = ("metajoint", "fwpdc", "vdc", "wpdc")


def _merge(base: dict, over: dict, path: str = "") -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in base:
            raise InputError(f"unknown config key {path}{k!r}")
        if isinstance(base[k], dict) and k != "augment":
            if not isinstance(v, dict):
                raise InputError(f"config key {path}{k!r} must be a table/object")
            out[k] = _merge(base[k], v, f"{path}{k}.")
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path | None, overrides: dict | None = None, stage: str | None = None) -> dict:
    """Read a config file (``.json`` or ``.toml``; ``stage`` of a staged recipe, :mod:`tddfa.train.recipe`),
    merge it over :data:`DEFAULTS`, validate."""
    raw = read_recipe(path, stage) if path is not None else {}
    cfg = _merge(DEFAULTS, raw)
    if overrides:
        cfg = _merge(cfg, overrides)
    validate(cfg)
    return cfg


def validate(cfg: dict) -> None:
    if cfg["loss"]["kind"] not in LOSS_KINDS:
        raise InputError(f"loss.kind must be one of {LOSS_KINDS}, not {cfg['loss']['kind']!r}")
    if cfg["optimizer"]["name"] not in ("adamw", "sgd"):
        raise InputError(f"optimizer.name must be 'adamw' or 'sgd', not {cfg['optimizer']['name']!r}")
    if int(cfg["batch_size"]) < 2:
        raise InputError("batch_size must be at least 2 (batch norm, meta-joint halves)")
    if cfg["device"] not in ("cpu", "cuda", "auto"):
        raise InputError(f"device must be 'cpu', 'cuda' or 'auto', not {cfg['device']!r}")
    if cfg["augment_backend"] not in ("cv2", "torch"):
        raise InputError(f"augment_backend must be 'cv2' or 'torch', not {cfg['augment_backend']!r}")
    if int(cfg["input_size"]) != 120:
        raise InputError("only input_size 120 is supported (the cached crops are 120x120)")


def smoke_overrides() -> dict:
    """A run of a few seconds: tiny data, two epochs of two steps, frequent logging."""
    return {"epochs": 2, "steps_per_epoch": 2, "batch_size": 8, "max_train": 32, "max_val": 16, "val_batch": 16,
            "log_every": 1, "schedule": {"warmup_steps": 1}, "loss": {"meta_every": 2}}
