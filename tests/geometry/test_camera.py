import numpy as np

from tddfa.geometry import camera_to_image, image_to_camera


def test_camera_to_image_reference_convention():
    pts = np.array([[[1.0, 120.0, 1.0], [61.0, 60.0, 11.0]]], np.float32)
    roi = np.array([[100, 50, 340, 290]])  # 2x scale
    out = camera_to_image(pts, roi)[0]
    np.testing.assert_allclose(out[0], [100, 50, 0])  # crop pixel (0, 0)
    np.testing.assert_allclose(out[1], [100 + 60 * 2, 50 + 60 * 2, 20])


def test_round_trip(rng):
    pts = rng.uniform(0, 120, (3, 10, 3)).astype(np.float32)
    rois = np.array([[0, 0, 120, 120], [-20, 10, 300, 330], [5, 5, 65, 65]], np.float64)
    np.testing.assert_allclose(image_to_camera(camera_to_image(pts, rois), rois), pts, rtol=1e-5, atol=1e-3)


def test_reframe_params_gives_the_same_image_points_from_another_crop(rng):
    from toy_face import toy_model, toy_params

    from tddfa.geometry.camera import reframe_params

    fm = toy_model(rng)
    p = np.stack([toy_params(rng) for _ in range(3)])
    src = np.array([[10, 20, 130.4, 140.4], [50, 7, 300, 257], [0.3, 0.6, 80.3, 80.6]])
    dst = src * 1.07 + np.array([5.3, -2.1, 5.3, -2.1])
    before = camera_to_image(fm.reconstruct(p, sparse=True), src)
    q = reframe_params(p, src, dst)
    after = camera_to_image(fm.reconstruct(q, sparse=True), dst)
    np.testing.assert_allclose(after, before, atol=1e-3 * np.abs(before).max())
    np.testing.assert_array_equal(q[:, 12:], p[:, 12:])  # shape and expression untouched
    assert not np.allclose(q[:, :12], p[:, :12])
    np.testing.assert_allclose(reframe_params(q, dst, src), p, rtol=1e-4, atol=1e-4)
