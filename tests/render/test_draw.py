"""2D overlays: landmarks drawn where they are, the pose box follows the camera, output kinds dispatch."""
from types import SimpleNamespace

import numpy as np
import pytest

from tddfa.render.draw import draw_landmarks, draw_pose, draw_vertices, pose_box_points


def test_landmarks_are_drawn_at_their_positions(rng):
    img = np.zeros((100, 100, 3), np.uint8)
    lm = np.c_[rng.uniform(20, 80, (68, 2)), np.zeros(68)]
    out = draw_landmarks(img, [lm])
    assert img.max() == 0  # input untouched
    xi, yi = np.round(lm[:, 0]).astype(int), np.round(lm[:, 1]).astype(int)
    assert (out[yi, xi].max(axis=1) > 0).all()
    assert out[:10, :10].max() == 0


def test_dense_dots_respect_visibility():
    img = np.zeros((50, 50, 3), np.uint8)
    v = np.array([[10, 10, 0], [20, 20, 0], [30, 30, 0]], np.float32)
    out = draw_vertices(img, [v], visible=[np.array([True, False, True])], step=1)
    assert out[10, 10].any() and not out[20, 20].any() and out[30, 30].any()


def test_pose_box_follows_the_camera():
    pts = np.array([[-1, -1, 0], [1, 1, 0.5]], np.float32) * 50  # model frame
    params = np.zeros(62, np.float32)
    params[:12] = [0.5, 0, 0, 61, 0, 0.5, 0, 61, 0, 0, 0.5, 0]  # scale 0.5, centred in the 120 crop
    roi = np.array([100, 200, 220, 320], np.float32)  # 1:1 scale from crop to image
    box = pose_box_points(params, roi, pts)
    assert box.shape == (8, 3)
    # frontal camera: front and rear faces coincide in the image, front is nearer (larger z)
    np.testing.assert_allclose(box[:4, :2], box[4:, :2], atol=1e-4)
    assert (box[4:, 2] > box[:4, 2]).all()
    assert box[:, 0].min() == pytest.approx(100 + 60 - 25) and box[:, 0].max() == pytest.approx(100 + 60 + 25)
    # y flips: the model's top (y = +50) is the image's smaller y
    assert box[0, 1] > box[2, 1]
    out = draw_pose(np.zeros((400, 400, 3), np.uint8), [box], [np.array([10.0, -5.0, 2.0])])
    assert out[200:320, 100:220].any()


def test_render_kind_dispatch_and_sparse_fallback():
    from tddfa.errors import InputError
    from tddfa.facemodel import FaceModel
    from tddfa.render.outputs import composite, render_kind

    sparse = FaceModel(mean=np.random.default_rng(0).normal(size=(68, 3)).astype(np.float32),
                       basis=np.zeros((204, 50), np.float32), triangles=np.zeros((0, 3), np.int32),
                       keypoints=np.arange(68), uv=np.zeros((68, 2), np.float32),
                       param_mean=np.zeros(62, np.float32), param_std=np.ones(62, np.float32), name="kp68")
    params = np.zeros(62, np.float32)
    params[[0, 5, 10]] = 10
    params[[3, 7]] = 61
    face = SimpleNamespace(landmarks_3d=np.c_[np.full((68, 2), 50.0), np.zeros(68)], params=params,
                           roi=np.array([0, 0, 120, 120], np.float32), pose=np.zeros(3))
    img = np.zeros((120, 160, 3), np.uint8)
    assert render_kind("2d_sparse", img, [face], sparse).shape == img.shape
    assert composite(img, [face], sparse).shape == img.shape  # one tile: no dense model
    with pytest.raises(InputError, match="dense"):
        render_kind("3d", img, [face], sparse)
