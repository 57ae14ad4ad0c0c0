import numpy as np

from tddfa.detect.boxes import decode, encode, iou_matrix, nms, vote


def test_decode_zero_offsets_gives_prior_corners():
    pri = np.array([[0.5, 0.5, 0.2, 0.4], [0.1, 0.2, 0.1, 0.1]], np.float32)
    out = decode(np.zeros((2, 4), np.float32), pri)
    np.testing.assert_allclose(out, [[0.4, 0.3, 0.6, 0.7], [0.05, 0.15, 0.15, 0.25]], atol=1e-7)


def test_encode_decode_round_trip(rng):
    pri = np.c_[rng.uniform(0, 1, (50, 2)), rng.uniform(0.05, 0.5, (50, 2))]
    lo = rng.uniform(0, 0.5, (50, 2))
    boxes = np.c_[lo, lo + rng.uniform(0.01, 0.5, (50, 2))]
    np.testing.assert_allclose(decode(encode(boxes, pri), pri), boxes, atol=1e-9)


def test_decode_scales_width_by_exp():
    pri = np.array([[0.5, 0.5, 0.2, 0.2]])
    loc = np.array([[1.0, 0.0, np.log(2) / 0.2, 0.0]])  # centre +0.1*w, width x2
    x1, y1, x2, y2 = decode(loc, pri)[0]
    assert np.isclose((x1 + x2) / 2, 0.52) and np.isclose(x2 - x1, 0.4) and np.isclose(y2 - y1, 0.2)


def test_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0])


def test_nms_constructed_case():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60], [0, 0, 10, 10.5]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95], np.float32)
    # box 3 (0.95) suppresses 0 (IoU ~0.95) and 1 (IoU ~0.63); box 2 is disjoint
    assert nms(boxes, scores, 0.3).tolist() == [3, 2]
    # a high threshold keeps everything, ordered by score
    assert nms(boxes, scores, 0.99).tolist() == [3, 0, 1, 2]


def _brute_nms(boxes, scores, thr):
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if iou_matrix(boxes[i], boxes[j])[0, 0] < thr]
    return keep


def test_nms_matches_brute_force(rng):
    xy = rng.uniform(0, 100, (60, 2))
    boxes = np.c_[xy, xy + rng.uniform(5, 40, (60, 2))].astype(np.float32)
    scores = rng.uniform(0, 1, 60).astype(np.float32)
    for thr in (0.1, 0.3, 0.5):
        assert nms(boxes, scores, thr).tolist() == _brute_nms(boxes, scores, thr)


def test_nms_empty():
    assert nms(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


def test_vote_averages_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    out = vote(boxes, scores, np.array([0, 2]), threshold=0.5)
    # box 1 overlaps box 0 at IoU 8/12 and pulls it right by 2 * 0.3 / 1.2; box 2 has no neighbour
    np.testing.assert_allclose(out[0], [0.5, 0, 10.5, 10], atol=1e-5)
    np.testing.assert_allclose(out[1], boxes[2])
    assert vote(boxes, scores, np.array([], np.int64)).shape == (0, 4)


def test_vote_ignores_boxes_under_the_iou_threshold():
    boxes = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], np.float32)  # IoU 4/16
    out = vote(boxes, np.array([0.9, 0.9], np.float32), np.array([0]), threshold=0.5)
    np.testing.assert_allclose(out[0], boxes[0])
