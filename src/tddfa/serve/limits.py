"""Request limits and the checks that run before an image is decoded.

An upload is sniffed from its bytes (never from its name or declared type) with Pillow, which reads only the
header: a 12000x12000 JPEG is refused from its first kilobytes, before OpenCV would allocate 432 MB for it.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

# Pillow format names of what the CLI reads (tddfa.io.images.IMAGE_SUFFIXES; PGM is Pillow's "PPM")
ACCEPTED_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "PPM")


@dataclass(frozen=True)
class Limits:
    """What one request may cost. ``workers`` requests run at once, ``queue`` more wait, the rest get 503."""

    max_upload: int = 20 * 1024 * 1024  # bytes of the image file
    max_pixels: int = 40_000_000  # width * height, from the header
    timeout: float = 60.0  # seconds from the first body byte to the answer
    workers: int = 1
    queue: int = 16

    def as_dict(self) -> dict:
        return {"max_upload": self.max_upload, "max_pixels": self.max_pixels, "timeout": self.timeout,
                "workers": self.workers, "queue": self.queue}


class RequestError(Exception):
    """An answer other than 200: ``status``, a short ``code`` (the JSON ``error``) and a message (``detail``)."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class ImageHeader:
    format: str  # Pillow's name, e.g. "JPEG"
    width: int
    height: int
    mode: str  # e.g. "RGB", "CMYK", "I;16"


def probe_image(data: bytes, limits: Limits) -> ImageHeader:
    """Read only the header of ``data``; raise :class:`RequestError` (415 / 413 / 422) for what is refused."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise RequestError(422, "empty_upload", "the upload is empty (0 bytes)")
    if len(data) > limits.max_upload:
        raise RequestError(413, "too_large", f"the upload is {len(data):,} bytes, over the {limits.max_upload:,}-byte limit")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and over twice its own limit raises) for decompression bombs: the limit below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                header = ImageHeader(format=str(im.format), width=int(im.size[0]), height=int(im.size[1]),
                                     mode=str(im.mode))
    except Image.DecompressionBombError as exc:
        raise RequestError(413, "too_many_pixels", str(exc)) from None
    except UnidentifiedImageError:
        raise RequestError(415, "unsupported_media_type",
                           f"not an image in a supported format ({', '.join(ACCEPTED_FORMATS)})") from None
    except (OSError, ValueError, SyntaxError) as exc:  # a header Pillow recognises but cannot parse
        raise RequestError(422, "unreadable_image", f"the image header cannot be read: {exc}") from None
    if header.format not in ACCEPTED_FORMATS:
        raise RequestError(415, "unsupported_media_type",
                           f"{header.format} images are not accepted (accepted: {', '.join(ACCEPTED_FORMATS)})")
    if header.width * header.height > limits.max_pixels:
        raise RequestError(413, "too_many_pixels", f"the image is {header.width}x{header.height}, over the "
                                                   f"{limits.max_pixels:,}-pixel limit")
    return header
