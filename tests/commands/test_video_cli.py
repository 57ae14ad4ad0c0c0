"""The model options of ``tddfa video`` / ``webcam`` (``build_tracker``)."""
from __future__ import annotations

import argparse

import pytest

from tddfa.errors import UsageError


def _args(**kw) -> argparse.Namespace:
    from tddfa.commands.video import add_tracking_args

    p = argparse.ArgumentParser()
    add_tracking_args(p)
    ns = p.parse_args([])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_fast_loads_the_int8_models(bfm):
    from tddfa.api import FAST
    from tddfa.commands.video import build_tracker

    aligner, _ = build_tracker(_args(fast=True))
    assert aligner.spec.name == FAST["model"]
    from tddfa.runtime.registry import load_detector

    assert aligner.detector.onnx_path == load_detector(FAST["detector"]).onnx_path


@pytest.mark.parametrize("clash", [{"model": "tddfa_mb1"}, {"detector": "haar"}, {"reference": "somewhere"}])
def test_fast_refuses_other_model_options(clash):
    from tddfa.commands.video import build_tracker

    with pytest.raises(UsageError, match="--fast"):
        build_tracker(_args(fast=True, **clash))
