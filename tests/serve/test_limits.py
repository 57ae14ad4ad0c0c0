"""Header-only checks: what is refused before decoding, and with which status."""
import io

import numpy as np
import pytest

from tddfa.serve.limits import Limits, RequestError, probe_image

PIL = pytest.importorskip("PIL.Image", reason="Pillow reads the headers (pip install 'tddfa[web]')")


def encode(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def status_of(data: bytes, limits: Limits = Limits()) -> tuple[int, str]:
    with pytest.raises(RequestError) as info:
        probe_image(data, limits)
    return info.value.status, info.value.code


def test_reads_format_size_and_mode_from_the_header():
    img = PIL.new("CMYK", (64, 48))
    h = probe_image(encode(img, "JPEG"), Limits())
    assert (h.format, h.width, h.height, h.mode) == ("JPEG", 64, 48, "CMYK")
    h16 = probe_image(encode(PIL.fromarray(np.zeros((5, 7), np.uint16)), "PNG"), Limits())
    assert (h16.format, h16.width, h16.height) == ("PNG", 7, 5) and "16" in h16.mode


def test_pixel_limit_from_the_header_alone():
    data = encode(PIL.new("L", (300, 200)), "PNG")
    assert probe_image(data, Limits(max_pixels=60_000)).width == 300
    assert status_of(data, Limits(max_pixels=59_999)) == (413, "too_many_pixels")
    # only the first bytes are there: the header still gives the size, and the limit still applies
    assert status_of(data[:100], Limits(max_pixels=59_999)) == (413, "too_many_pixels")


def test_upload_size_limit():
    data = encode(PIL.new("RGB", (32, 32)), "PNG")
    assert status_of(data, Limits(max_upload=len(data) - 1)) == (413, "too_large")
    assert probe_image(data, Limits(max_upload=len(data))).width == 32


@pytest.mark.parametrize("data, expected", [
    (b"", (422, "empty_upload")),
    (b"just some text, not an image\n", (415, "unsupported_media_type")),
    (encode(PIL.new("RGB", (8, 8)), "GIF"), (415, "unsupported_media_type")),  # Pillow knows it, the CLI does not
])
def test_refused_inputs(data, expected):
    assert status_of(data) == expected
