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


def test_parse_size_accepts_wxh_and_rejects_garbage():
    import argparse

    from tddfa.eval.detection import parse_size

    assert parse_size("640x360") == (640, 360)
    assert parse_size("1080X720") == (1080, 720)
    for bad in ("640", "x360", "10x10", "axb", "640x360x3"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_size(bad)
