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
