"""``tddfa bench`` plumbing (no timing asserts: speed lives in benchmarks/ and the bench command)."""
from __future__ import annotations

import json

import numpy as np
import pytest


def test_measure_reports_median_and_p90():
    from tddfa.bench.timing import measure

    calls = []
    r = measure(lambda: calls.append(1), budget_s=0.0, min_repeat=7, warmup=2)
    assert r["n"] == 7 and len(calls) == 9
    assert 0 <= r["median"] <= r["p90"]


def test_scene_places_the_faces():
    from tddfa.bench.scenes import scene
    from tddfa.bench.worker import _tile_boxes

    face = np.full((50, 50, 3), 255, np.uint8)
    img = scene(face, 1280, 720, n_faces=4)
    assert img.shape == (720, 1280, 3) and img.dtype == np.uint8
    boxes = _tile_boxes(1280, 720, 4)
    assert boxes.shape == (4, 4)
    for x1, y1, x2, y2 in boxes.astype(int):  # the fallback boxes lie on the pasted (white) faces
        assert (img[y1:y2, x1:x2] == 255).all()


def _fake_run(pipe, err=None):
    stages = {"pipeline_720p_1face": {"median": pipe, "p90": pipe * 1.2, "n": 10},
              "regress_mb05_b1": {"median": 1.0, "p90": 1.1, "n": 10},
              "detect_720p": {"error": err} if err else {"median": 10.0, "p90": 11.0, "n": 10}}
    return {"stages": stages, "info": {}}


def test_assemble_contract_and_missing_stages():
    from tddfa.bench.runner import assemble, format_table

    runs = {"threads_1": _fake_run(20.0, err="ModelNotAvailableError: no detector"),
            "threads_2": _fake_run(16.0, err="ModelNotAvailableError: no detector"), "baseline": _fake_run(40.0)}
    cfg = {"regressor": "x", "detector": None, "detector_error": "none", "regressors": {}, "budget_s": 0.1}
    out = json.loads(json.dumps(assemble(cfg, runs, (1, 2), "0", "0")))  # JSON-serialisable
    assert out["pipeline_720p_1face_ms"] == {"threads_1": 20.0, "threads_2": 16.0}
    assert set(out["regress_ms"]) == {"mb1", "mb05"} and out["regress_ms"]["mb05"] == 1.0
    assert out["regress_ms"]["mb1"] is None
    assert set(out["regress_int8_ms"]) == {"mb1", "mb05"} and out["pipeline_720p_1face_int8_ms"]["threads_1"] is None
    assert out["detect_720p_ms"] is None and "no detector" in out["missing"]["detect_720p"]
    assert out["render_dense_720p_ms"] is None
    assert out["baseline_ratio"] == pytest.approx(2.0)
    assert out["stages"]["pipeline_720p_1face"]["ratio"] == {"threads_1": 2.0, "threads_2": 2.5}
    table = format_table(out)
    assert "pipeline_720p_1face" in table and "n/a: ModelNotAvailableError" in table


def test_worker_reports_unavailable_stages_instead_of_crashing(tmp_path):
    import cv2

    from tddfa.bench.worker import run_stages

    n_threads = cv2.getNumThreads()
    try:
        out = run_stages({"threads": 1, "budget_s": 0.0, "regressor": str(tmp_path / "missing.onnx"), "detector": None,
                          "detector_error": "no detector in this test", "regressors": {"mb1": {"error": "absent"}}})
    finally:
        cv2.setNumThreads(n_threads)
    st = out["stages"]
    assert st["decode_720p"]["median"] > 0 and st["crop_4faces"]["n"] >= 1
    assert st["detect_720p"]["error"] == "no detector in this test"
    assert st["regress_mb1_b1"]["error"] == "absent"
    assert "error" in st["pipeline_720p_1face"]


def test_merge_rounds_keeps_the_least_disturbed_median():
    from tddfa.bench.runner import merge_rounds

    a = {"stages": {"x": {"median": 5.0, "p90": 9.0}, "y": {"error": "missing"}}}
    b = {"stages": {"x": {"median": 3.0, "p90": 4.0}, "y": {"median": 2.0, "p90": 2.5}}}
    c = {"stages": {"x": {"median": 4.0, "p90": 4.1}, "y": {"error": "missing"}}}
    m = merge_rounds([a, b, c])
    assert m["stages"]["x"] == {"median": 3.0, "p90": 4.0}
    assert m["stages"]["y"]["median"] == 2.0
    assert merge_rounds([a])["stages"]["y"] == {"error": "missing"}


def test_default_bench_frames_hold_the_faces_they_claim(bfm):
    """The 720p "1 face" frame (the contract's pipeline number) gives exactly 1 face through the shipped pipeline,
    and every pasted face of the "4 faces" frame is found once. (The whole example photo also carries a mission
    patch and a torso, and a wider head crop the suit's collar, which the detector flags.) The shipped detector
    can also fire on the noise background (e.g. once on the 720p 4-face frame, score 0.501, passing the face
    check at 0.06, so that row times 5 regressions); such detector weaknesses are reported in docs/benchmarks.md,
    not hidden by the frames."""
    from tddfa import FaceAligner
    from tddfa.bench.scenes import SIZES, load_face, scene
    from tddfa.detect.boxes import iou_matrix

    aligner = FaceAligner()
    face = load_face()
    assert len(aligner(scene(face, *SIZES["720p"], 1))) == 1
    assert len(aligner(scene(face, *SIZES["480p"], 1))) == 1
    w, h = SIZES["720p"]
    side = int(min(0.8 * h, 0.95 * w / 4))  # the tiles as scene() places them
    gap, y = (w - 4 * side) // 5, (h - side) // 2
    tiles = np.array([[gap + i * (side + gap), y, gap + i * (side + gap) + side, y + side] for i in range(4)],
                     np.float32)
    boxes = np.array([f.box for f in aligner(scene(face, w, h, 4))], np.float32)
    inside = iou_matrix(boxes, tiles) > 0.2  # a face box sits inside its tile (IoU about 0.4)
    assert (inside.sum(0) == 1).all() and len(boxes) <= 5


def test_network_macs_counts_conv_and_gemm_by_hand(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from tddfa.bench.roofline import network_macs

    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")            # 3x3 conv, stride 2
    dw = numpy_helper.from_array(np.zeros((8, 1, 3, 3), np.float32), "dw")          # depthwise 3x3
    fc = numpy_helper.from_array(np.zeros((10, 8 * 5 * 5), np.float32), "fc")        # Gemm with transB
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "dw"], ["b"], group=8, pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["b"], ["f"]), helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1)]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])], [w, dw, fc])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "t.onnx"))
    # 10x10 input -> 5x5x8 (27 products each) -> 5x5x8 depthwise (9 each) -> 10 outputs x 200
    assert network_macs(tmp_path / "t.onnx", (1, 3, 10, 10)) == 200 * 27 + 200 * 9 + 10 * 200
    assert network_macs(tmp_path / "t.onnx", (2, 3, 10, 10)) == 2 * (200 * 27 + 200 * 9 + 10 * 200)


def test_roofline_floor_and_peak():
    from tddfa.bench.roofline import floor_ms, gemm_peak_gmacs
    from tddfa.bench.runner import format_roofline

    assert floor_ms(2_000_000_000, 40.0) == pytest.approx(50.0)
    assert floor_ms(None, 40.0) is None and floor_ms(10, None) is None
    assert 0.1 < gemm_peak_gmacs(n=128, repeats=3) < 1e4
    roof = {"gemm_peak_gmacs": {"threads_1": 40.0},
            "stages": {"regress_mb05_b1": {"gmacs_per_call": 0.046, "input": "120x120",
                                           "threads_1": {"floor_ms": 1.15, "median_ms": 2.3, "fraction_of_peak": 0.5}}}}
    text = "\n".join(format_roofline(roof, [1]))
    assert "40.0 GMAC/s" in text and "regress_mb05_b1" in text and "50%" in text


def test_shipped_int8_copies_are_timed_next_to_their_fp32_models():
    from tddfa.bench.runner import resolve_models

    cfg = resolve_models(None)
    regs = cfg["regressors"]
    assert regs["mb05"]["weights"] == "tddfa_mb05" and regs["mb05_int8"]["weights"] == "tddfa_mb05_int8"
    assert regs["mb1"]["weights"] == "tddfa_mb1" and regs["mb1_int8"]["weights"] == "tddfa_mb1_int8"
    assert cfg["regressor"] == "default" and cfg["regressor_int8"].endswith("tddfa_mb1_mb05_int8.onnx")
    # the default detector has no INT8 copy; our FaceBoxes is timed beside it
    assert cfg["detector"] == "default" and "detector_int8" not in cfg and cfg["detector_compare"] == "faceboxes"
    fb = resolve_models(None, detector="faceboxes")
    assert fb["detector_int8"] == "faceboxes_int8" and "detector_compare" not in fb


def test_int8_rows_are_compared_with_the_fp32_baseline_pipeline():
    """The fast setting: the ratio of the all-INT8 pipeline is to the FP32 pipeline with default options; the baseline
    process does not run INT8 rows of its own."""
    from tddfa.bench.runner import assemble

    def run(pipe, int8det=None, det8=None):
        st = {"pipeline_720p_1face": {"median": pipe}, "detect_720p": {"median": pipe / 2}}
        if int8det is not None:
            st.update(pipeline_720p_1face_int8det={"median": int8det}, detect_720p_int8={"median": det8})
        return {"stages": st, "info": {}}

    runs = {"threads_1": run(20.0, 12.0, 8.0), "threads_2": run(16.0, 10.0, 6.0), "baseline": run(30.0)}
    out = assemble({"regressors": {}}, runs, (1, 2), "0", "0")
    assert out["pipeline_720p_1face_int8det_ms"] == {"threads_1": 12.0, "threads_2": 10.0}
    assert out["int8det_baseline_ratio"] == {"threads_1": 2.5, "threads_2": 3.0}
    assert out["stages"]["pipeline_720p_1face_int8det"]["ratio"] == {"threads_1": 2.5, "threads_2": 3.0}
    assert out["detect_720p_int8_ms"] == 8.0 and out["stages"]["detect_720p_int8"]["ratio"]["threads_1"] == 15 / 8


def test_the_pipeline_floor_counts_every_regression_of_its_refine_setting(monkeypatch):
    from tddfa.bench import runner

    monkeypatch.setattr(runner, "network_costs", lambda cfg: {"detect_720p": {"macs": 100e6, "input": "det"},
                                                               "pipeline_regressor": {"macs": 10e6, "input": "120x120"}})
    runs = {"threads_1": {"info": {"gemm_peak_gmacs": 1.0}, "stages": {}}}
    assert runner.pipeline_refine({}) == 1  # FaceAligner's default
    for refine, gmacs in [(0, 0.12), (1, 0.13), (2, 0.14)]:
        row = runner.roofline({"refine": refine}, runs, (1,))["stages"]["pipeline_720p_1face"]
        assert row["gmacs_per_call"] == pytest.approx(gmacs) and row["input"] == f"detector + {2 + refine} regressions"


def test_fast_baseline_runs_the_fp32_files_the_int8_models_came_from():
    from tddfa.api import FAST
    from tddfa.bench.runner import assemble, fp32_originals, resolve_models
    from tddfa.runtime.registry import MODELS_DIR, load_detector

    FACEBOXES_ONNX = MODELS_DIR / "faceboxes.onnx"

    cfg = resolve_models(None, FAST["model"], FAST["detector"])
    # the default detector is FP32 already: the baseline runs the same detector, loaded the same way
    base = fp32_originals(cfg)
    assert base["regressor"] == "tddfa_mb05"
    ours, theirs = load_detector(FAST["detector"]), load_detector(base["detector"])
    assert type(theirs) is type(ours) and theirs.onnx_path == ours.onnx_path
    int8 = resolve_models(None, FAST["model"], "faceboxes_int8")
    assert fp32_originals(int8) == {"regressor": "tddfa_mb05", "detector": str(FACEBOXES_ONNX)}
    with pytest.raises(Exception, match="not an INT8 copy"):
        fp32_originals(resolve_models(None, "tddfa_mb05", "default"))
    st = {"regress_mb1_b1": {"median": 3.0}, "regress_mb1_int8_b1": {"median": 1.4},
          "regress_mb05_b1": {"median": 0.9}, "regress_mb05_int8_b1": {"median": 0.6}}
    runs = {"threads_1": {"stages": st, "info": {}}}
    out = assemble({"fast": True, "regressors": {}}, runs, (1,), "0", "0")
    assert out["regress_ms"] == {"mb1": 1.4, "mb05": 0.6} and out["regress_fp32_ms"] == {"mb1": 3.0, "mb05": 0.9}
    assert assemble({"regressors": {}}, runs, (1,), "0", "0")["regress_ms"] == {"mb1": 3.0, "mb05": 0.9}
