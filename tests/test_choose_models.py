"""The model options every command shares (``--model``, ``--detector``, ``--reference``, ``--fast``, ``--refine``)."""
import pytest

from tddfa.api import FAST, choose_models
from tddfa.errors import InputError, UsageError


def test_defaults_and_refine():
    assert choose_models() == {"model": "default", "detector": "default", "refine": 1,
                              "flip": None}
    assert choose_models(refine=0)["refine"] == 0 and choose_models(refine=2)["refine"] == 2
    assert choose_models("reference:somewhere")["refine"] == 0  # 3DDFA_V2's own one-pass protocol
    assert choose_models("reference:somewhere")["flip"] is False  # and one crop
    assert choose_models(flip=False)["flip"] is False


def test_reference_fills_in_what_is_not_given(tmp_path):
    ref = f"reference:{tmp_path}"
    assert choose_models(reference=tmp_path) == {"model": ref, "detector": ref, "refine": 0, "flip": False}
    assert choose_models("default", "default", tmp_path, refine=1) == {"model": ref, "detector": ref, "refine": 1,
                                                                     "flip": False}
    assert choose_models("tddfa_mb1", None, tmp_path) == {"model": "tddfa_mb1", "detector": ref, "refine": 1,
                                                             "flip": None}
    assert choose_models(None, "haar", tmp_path) == {"model": ref, "detector": "haar", "refine": 0,
                                                         "flip": False}
    with pytest.raises(InputError, match="not a directory"):
        choose_models(reference=tmp_path / "missing")


def test_fast_is_the_int8_setting_and_refuses_the_other_options(tmp_path):
    assert choose_models(fast=True) == FAST
    assert choose_models("default", "default", fast=True) == FAST
    for clash in ({"model": "tddfa_mb1"}, {"refine": 1}, {"detector": "x.onnx"}, {"detector": "haar"},
                  {"reference": tmp_path}):
        with pytest.raises(UsageError, match="--fast"):
            choose_models(fast=True, **clash)


def test_fast_loads_the_int8_models(bfm):
    from tddfa import FaceAligner
    from tddfa.runtime.registry import load_detector

    aligner = FaceAligner(**choose_models(fast=True))
    assert aligner.spec.name == FAST["model"] and aligner.refine == 0 and not aligner.flip
    assert aligner.detector.onnx_path == load_detector(FAST["detector"]).onnx_path


def test_the_mirrored_crop_is_on_with_one_crop_only(bfm):
    from tddfa import FaceAligner

    none = (lambda img: None)
    assert FaceAligner(detector=none).flip and not FaceAligner(detector=none, crops=3).flip
    assert not FaceAligner(detector=none, flip=False).flip
