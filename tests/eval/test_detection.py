import numpy as np
import pytest

from tddfa.eval.detection import average_precision, detection_metrics, match_detections


def test_match_is_one_to_one_by_score():
    gts = np.array([[0, 0, 10, 10]], np.float32)
    dets = np.array([[0, 0, 10, 10, 0.6], [0, 0, 10, 11, 0.9]], np.float32)
    tp, hit = match_detections(dets, gts, 0.5)
    assert tp.tolist() == [False, True] and hit.tolist() == [True]


def test_ap_perfect_and_half():
    assert np.isclose(average_precision([0.9, 0.8], [True, True], 2), 1.0)
    # one hit ranked first, the second face missed: AP = 0.5
    assert np.isclose(average_precision([0.9, 0.8], [True, False], 2), 0.5)
    # a false positive ranked above the only hit: precision 0.5 at recall 1
    assert np.isclose(average_precision([0.9, 0.8], [False, True], 1), 0.5)


def test_detection_metrics_recall_threshold():
    gts = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32), np.zeros((0, 4), np.float32)]
    dets = [np.array([[0, 0, 10, 10, 0.9], [20, 20, 30, 30, 0.3]], np.float32),
            np.array([[5, 5, 9, 9, 0.7]], np.float32)]
    m = detection_metrics(dets, gts, 0.5)
    assert m["recall"]["iou_0.5"] == 50.0  # the 0.3 detection is below the threshold
    assert m["dets_per_image"] == 1.0
    assert 0 < m["ap"]["iou_0.5"] < 100


def test_parse_input_size_accepts_wxh_and_rejects_garbage():
    from tddfa.detect import parse_input_size

    assert parse_input_size("640x360") == (640, 360)
    assert parse_input_size("1080X720") == (1080, 720)
    for bad in ("640", "x360", "10x10", "axb", "640x360x3"):
        with pytest.raises(ValueError):
            parse_input_size(bad)


def test_miss_causes_constructed_case():
    from tddfa.eval.detection import MISS_CAUSES, miss_causes

    gts = np.array([[0, 0, 10, 10], [100, 0, 110, 10], [200, 0, 210, 10], [300, 0, 310, 10],
                    [400, 0, 410, 10], [500, 0, 510, 10], [504, 0, 514, 10]], np.float32)
    dets = np.array([[0, 0, 10, 10, 0.9],          # hit
                     [100, 0, 110, 10, 0.3],       # right place, below the threshold
                     [200, 0, 220, 20, 0.9],       # confident but 4x the area: IoU 0.25
                     [300, 0, 320, 20, 0.2],       # weak and misplaced
                     # face 4 (x 400): nothing near
                     [502, 0, 512, 10, 0.9]],      # one box between faces 5 and 6: IoU 0.67 with each
                    np.float32)
    out = miss_causes([dets], [gts], 0.5, 0.4)
    assert set(out) == set(MISS_CAUSES)
    assert out == {"shared_box": 1, "below_threshold": 1, "misplaced": 1, "weak_and_misplaced": 1, "nothing": 1}
    assert sum(miss_causes([dets[:0]], [gts], 0.5).values()) == 7  # no detections: every face is a miss


def test_eval_detection_flip_applies_to_ours_only(monkeypatch, tmp_path, capsys):
    """``tddfa eval detection --flip``: our detector with its mirrored pass and box voting, named so."""
    import json

    from tddfa.cli import main
    from tddfa.eval import detection

    seen = {}

    def fake_eval(det, data, repeats=20, progress=True, negatives=None):
        seen[det.name] = (det.flip, det.box_voting)
        return {"recall": {"iou_0.4": 0.0, "iou_0.5": 0.0}, "dets_per_image": 0.0, "latency_ms_720p": 0.0}

    monkeypatch.setattr(detection, "evaluate_detector", fake_eval)
    monkeypatch.setattr(detection, "format_table", lambda results: "")
    out = tmp_path / "r.json"
    assert main(["eval", "detection", "--data", str(tmp_path), "--flip", "--json", str(out)]) == 0
    assert seen == {"retinaface+flip": (True, True)}
    assert json.loads(out.read_text())["recall"] == {"iou_0.4": 0.0, "iou_0.5": 0.0}


def test_pr_curve_counts_hits_false_faces_and_negatives():
    from tddfa.eval.detection import pr_curve

    gts = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)]
    dets = [np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.6], [20, 20, 30, 31, 0.3]], np.float32)]
    neg = [np.array([[0, 0, 5, 5, 0.7]], np.float32), np.zeros((0, 5), np.float32)]
    rows = {r["threshold"]: r for r in pr_curve(dets, gts, neg, thresholds=(0.2, 0.5, 0.8))}
    assert rows[0.2]["recall"] == 100.0 and abs(rows[0.2]["precision"] - 200 / 3) < 1e-9
    assert rows[0.5]["recall"] == 50.0 and rows[0.5]["precision"] == 50.0 and rows[0.5]["false_per_image"] == 0.5
    assert rows[0.8]["detections_per_image"] == 1.0 and rows[0.8]["false_per_image"] == 0.0


def test_negatives_folder_without_images_is_input_error(tmp_path):
    from tddfa.errors import InputError
    from tddfa.eval.detection import negative_images

    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match="no images"):
        negative_images(tmp_path)
