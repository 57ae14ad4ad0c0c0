"""Reading images with clear errors: always returns an ``(H, W, 3)`` uint8 BGR array.

Arrays (:func:`to_bgr`): gray ``(H, W)`` / ``(H, W, 1)``, BGR ``(H, W, 3)``, BGRA ``(H, W, 4)``, channels last.
uint8 as is; uint16 keeps its high byte; other integers are clipped to 0..255; floats must be finite: a float
image whose values all lie in [0, 1] is scaled by 255, any other float image is read as 0..255 and clipped.
bool and non-numeric arrays are refused with a hint, as are channels-first ``(3, H, W)`` arrays.

Files (:func:`read_image`): the size is read from the header (PNG, JPEG, BMP, WebP, TIFF, PNM) before anything
is decoded, so that an image over :data:`MAX_PIXELS` is refused without allocating its pixels.
"""
from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

MAX_PIXELS = 100_000_000  # refuse decompression bombs (e.g. 10k x 10k)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_HINT = "expected an (H, W, 3) BGR uint8 array (or a file path)"


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null meanwhile: codec libraries (libjpeg's "Corrupt JPEG data", libpng,
    libtiff, OpenCV's own log and AVI parser) print straight to it, and the error contract is one line of ours."""
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to silence
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _describe(img: object) -> str:
    if isinstance(img, (bytes, bytearray, memoryview)):
        return (f"{type(img).__name__} ({len(img)} bytes); for encoded image bytes use "
                "cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)")
    return type(img).__name__ if img is None or np.isscalar(img) else f"{type(img).__module__}.{type(img).__name__}"


def to_bgr(img: np.ndarray) -> np.ndarray:
    """Any image array (see the module docstring) -> uint8 BGR ``(H, W, 3)``; :class:`InputError` otherwise."""
    if not isinstance(img, np.ndarray):
        raise InputError(f"{_HINT}, got {_describe(img)}")
    if img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8 and img.size:  # the common case, fast
        return np.ascontiguousarray(img)
    if img.dtype == np.bool_:
        raise InputError(f"{_HINT}, got a bool array of shape {img.shape} (for a mask: img.astype(np.uint8) * 255)")
    if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise InputError(f"{_HINT}, got an array of dtype {img.dtype}")
    if img.ndim not in (2, 3):
        hint = " (one image at a time: pass images[i])" if img.ndim == 4 else ""
        raise InputError(f"{_HINT}, got an array of shape {img.shape}{hint}")
    if img.size == 0:
        raise InputError(f"empty image array of shape {img.shape}")
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        hint = (f"; it looks channels-first (C, H, W): pass img.transpose(1, 2, 0)"
                if img.shape[0] in (1, 3, 4) else "")
        raise InputError(f"unsupported number of channels: {img.shape[2]} in an array of shape {img.shape} "
                         f"(expected 1, 3 or 4 in the last axis, H, W, C){hint}")
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.floating):
        if not np.isfinite(img).all():
            raise InputError(f"image array of shape {img.shape} has NaN or infinite values")
        scale = 255.0 if img.max() <= 1.0 else 1.0  # [0, 1] floats (skimage, PIL / 255.): documented above
        img = np.clip(img.astype(np.float64) * scale, 0, 255).round().astype(np.uint8)  # float64: no overflow
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or img.shape[2] == 1:
        return cv2.cvtColor(np.ascontiguousarray(img.reshape(img.shape[:2])), cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(img)


# ----------------------------------------------------------------------------- header sizes

def _png(b: bytes) -> tuple[int, int] | None:
    if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and len(b) >= 24:
        return struct.unpack(">II", b[16:24])
    return None


def _jpeg(b: bytes) -> tuple[int, int] | None:
    if b[:2] != b"\xff\xd8":
        return None
    pos, n = 2, len(b)
    while pos + 4 <= n:
        if b[pos] != 0xFF:
            return None
        m = b[pos + 1]
        if m == 0xFF:  # fill byte
            pos += 1
            continue
        if m in (0x01, 0xD8) or 0xD0 <= m <= 0xD7:  # markers without a length
            pos += 2
            continue
        if m in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            return None
        length = struct.unpack(">H", b[pos + 2:pos + 4])[0]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):  # SOFn: precision, height, width
            if pos + 9 > n:
                return None
            h, w = struct.unpack(">HH", b[pos + 5:pos + 9])
            return w, h
        pos += 2 + length
    return None


def _bmp(b: bytes) -> tuple[int, int] | None:
    if b[:2] != b"BM" or len(b) < 26:
        return None
    if struct.unpack("<I", b[14:18])[0] == 12:  # OS/2 core header
        return struct.unpack("<HH", b[18:22])
    w, h = struct.unpack("<ii", b[18:26])
    return abs(w), abs(h)  # a negative height is a top-down bitmap


def _webp(b: bytes) -> tuple[int, int] | None:
    if b[:4] != b"RIFF" or b[8:12] != b"WEBP" or len(b) < 30:
        return None
    kind = b[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", b[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        b0, b1, b2, b3 = b[21:25]
        return 1 + (b0 | (b1 & 0x3F) << 8), 1 + (b1 >> 6 | b2 << 2 | (b3 & 0x0F) << 10)
    if kind == b"VP8X":
        return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
    return None


def _tiff(b: bytes) -> tuple[int, int] | None:
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(b[:4])
    if order is None or len(b) < 8:
        return None
    ifd = struct.unpack(order + "I", b[4:8])[0]
    if ifd + 2 > len(b):
        return None
    size: dict[int, int] = {}
    for i in range(struct.unpack(order + "H", b[ifd:ifd + 2])[0]):
        e = ifd + 2 + 12 * i
        if e + 12 > len(b):
            break
        tag, typ = struct.unpack(order + "HH", b[e:e + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            size[tag] = struct.unpack(order + ("H" if typ == 3 else "I"), b[e + 8:e + (10 if typ == 3 else 12)])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def _pnm(b: bytes) -> tuple[int, int] | None:
    if len(b) < 3 or b[0:1] != b"P" or b[1:2] not in b"123456":
        return None
    tokens: list[int] = []
    for line in b[2:4096].split(b"\n"):
        for tok in line.split(b"#")[0].split():
            if not tok.isdigit():
                return None
            tokens.append(int(tok))
            if len(tokens) == 2:
                return tokens[0], tokens[1]
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, JPEG, BMP, WebP, TIFF or PNM header without decoding; None if unknown."""
    for parse in (_png, _jpeg, _bmp, _webp, _tiff, _pnm):
        try:
            size = parse(data)
        except (struct.error, ValueError, IndexError):
            size = None
        if size is not None:
            return int(size[0]), int(size[1])
    return None


def read_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` into uint8 BGR, or raise :class:`InputError` with a message a user can act on."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not an image")
    try:
        data = np.fromfile(str(p), dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if data.size == 0:
        raise InputError(f"{p}: file is empty")
    size = header_size(data[: 1 << 20].tobytes())  # APP segments before a JPEG's frame header fit in 1 MiB
    if size is not None:
        _check_pixels(p, *size)
    with quiet_stderr():
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise InputError(f"{p}: not a readable image (corrupt or unsupported format)")
    _check_pixels(p, img.shape[1], img.shape[0])
    try:
        return to_bgr(img)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None


def _check_pixels(p: Path, w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise InputError(f"{p}: image is {w}x{h}, over the {MAX_PIXELS:,}-pixel limit")


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand folders into their image files (sorted); keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out
