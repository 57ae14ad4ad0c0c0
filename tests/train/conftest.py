"""Fixtures of the training tests."""
from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def data_cfg(bfm, tmp_path_factory):
    """A config file pointing at small synthetic train (48) / val (16) caches."""
    from tddfa.train.dataset import synthetic_arrays

    d = tmp_path_factory.mktemp("data")
    for name, n, seed in (("train", 48, 0), ("val", 16, 1)):
        a = synthetic_arrays(bfm, n, seed)
        np.savez(d / f"{name}.npz", images=a.images, params=a.params, landmarks=a.landmarks)
    cfg = d / "cfg.json"
    cfg.write_text(json.dumps({"name": "t", "data": {"train": str(d / "train.npz"), "val": str(d / "val.npz")}}))
    return cfg
