import numpy as np

from tddfa.geometry import crop_faces, crop_roi, normalize


def test_crop_inside_is_a_slice(rng):
    img = rng.integers(0, 255, (50, 60, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_roi(img, [10.4, 5, 30, 25.2]), img[5:25, 10:30])


def test_crop_outside_is_zero_padded(rng):
    img = rng.integers(1, 255, (20, 20, 3), dtype=np.uint8)
    out = crop_roi(img, [-5, -5, 10, 10])
    assert out.shape == (15, 15, 3)
    assert (out[:5] == 0).all() and (out[:, :5] == 0).all()
    np.testing.assert_array_equal(out[5:, 5:], img[:10, :10])
    assert (crop_roi(img, [100, 100, 120, 130]) == 0).all()  # entirely outside


def test_crop_faces_shape_and_normalisation(rng):
    img = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    crops = crop_faces(img, np.array([[0, 0, 100, 100], [50, 50, 250, 250]]))
    assert crops.shape == (2, 120, 120, 3) and crops.dtype == np.uint8
    x = normalize(crops)
    assert x.shape == (2, 3, 120, 120) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 3, 4], (crops[0, 3, 4].astype(np.float32) - 127.5) / 128)
