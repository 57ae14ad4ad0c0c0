"""Image reading: sizes from headers (a huge image is refused before decoding) and array conversion."""
import struct

import cv2
import numpy as np
import pytest

from tddfa.errors import InputError
from tddfa.io.images import header_size, read_image, to_bgr


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm", ".pgm"])
@pytest.mark.parametrize("h, w", [(37, 53), (1, 300), (300, 1)])
def test_header_size_matches_the_decoded_size(ext, h, w):
    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    ok, buf = cv2.imencode(ext, img[..., 0] if ext == ".pgm" else img)
    assert ok and header_size(buf.tobytes()) == (w, h)


def test_unknown_or_cut_headers_give_none():
    ok, buf = cv2.imencode(".jpg", np.zeros((20, 30, 3), np.uint8))
    assert header_size(buf.tobytes()[:10]) is None and header_size(b"GIF89a") is None and header_size(b"") is None


def test_a_huge_jpeg_is_refused_from_its_header(tmp_path, monkeypatch):
    ok, buf = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    b = bytearray(buf.tobytes())
    i = next(k for k in range(2, len(b) - 1) if b[k] == 0xFF and b[k + 1] == 0xC0)  # SOF0
    b[i + 5:i + 9] = struct.pack(">HH", 12000, 12000)
    p = tmp_path / "huge.jpg"
    p.write_bytes(bytes(b))

    def no_decode(*a, **k):
        raise AssertionError("decoded a refused image")

    monkeypatch.setattr(cv2, "imdecode", no_decode)
    with pytest.raises(InputError, match="12000x12000, over the 100,000,000-pixel limit"):
        read_image(p)


def test_float_images_in_0_1_are_scaled_and_others_clipped():
    f = np.linspace(0, 1, 12, dtype=np.float32).reshape(2, 2, 3)
    np.testing.assert_array_equal(to_bgr(f), np.round(f * 255).astype(np.uint8))
    np.testing.assert_array_equal(to_bgr(f * 300), np.clip(np.round(f * 300), 0, 255).astype(np.uint8))
    assert to_bgr(np.full((2, 2), 0.5)).shape == (2, 2, 3)
