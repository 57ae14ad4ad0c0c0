"""Corpus generator for the fuzz suite: seed images and videos of every format, and their mutations (random
bytes, bit flips, truncation, odd and huge sizes in headers), plus arrays of every dtype and channel count.

Everything is generated from a seed (nothing is stored): ``image_corpus(rng)``, ``array_corpus()`` and
``video_corpus(folder, rng)``. ``python tests/fuzz/corpus.py DIR`` writes the files, to try them by hand.
"""
from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

if __name__ == "__main__":  # run as a script: the test helpers' folder is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from video_files import write_video  # noqa: E402

IMAGE_FORMATS = (".jpg", ".png", ".webp", ".bmp", ".tiff")
HUGE = 60000  # a side that makes a header claim 3.6 gigapixels


def seed_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A small BGR picture with edges and texture (a gradient, noise and an ellipse)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], -1).astype(np.uint8)
    img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    cv2.ellipse(img, (w // 2, h // 2), (max(w // 4, 1), max(h // 3, 1)), 0, 0, 360, (200, 180, 160), -1)
    return img


def encode(img: np.ndarray, ext: str) -> bytes:
    ok, buf = cv2.imencode(ext, img)
    assert ok, ext
    return buf.tobytes()


def bitflip(data: bytes, rng: np.random.Generator, n: int) -> bytes:
    """``data`` with ``n`` random bits flipped."""
    b = bytearray(data)
    for i in rng.integers(0, len(b), n):
        b[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(b)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_claiming(w: int, h: int) -> bytes:
    """A PNG whose (valid, CRC-checked) header claims ``w`` x ``h`` but whose data holds a few rows."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit gray
    rows = zlib.compress(b"\x00" + b"\x80" * min(w, 4096))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def with_header_size(data: bytes, ext: str, w: int, h: int) -> bytes:
    """``data`` (an encoded ``ext`` image) with the size fields of its header replaced by ``w`` x ``h``."""
    b = bytearray(data)
    if ext == ".jpg":
        i = 2
        while i + 9 < len(b):
            m, length = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
            if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
                b[i + 5:i + 9] = struct.pack(">HH", min(h, 65535), min(w, 65535))
                break
            i += 2 + length
    elif ext == ".bmp":
        b[18:26] = struct.pack("<ii", w, h)
    elif ext == ".webp" and b[12:16] == b"VP8 ":
        b[26:30] = struct.pack("<HH", min(w, 0x3FFF), min(h, 0x3FFF))
    elif ext == ".webp" and b[12:16] == b"VP8L":  # 14-bit width - 1 and height - 1
        wm, hm = max(min(w, 1 << 14) - 1, 0), max(min(h, 1 << 14) - 1, 0)
        bits = int.from_bytes(b[21:25], "little") & ~((1 << 28) - 1) | wm | hm << 14
        b[21:25] = bits.to_bytes(4, "little")
    elif ext == ".tiff":
        order = "<" if b[:2] == b"II" else ">"
        ifd = struct.unpack(order + "I", b[4:8])[0]
        for k in range(struct.unpack(order + "H", b[ifd:ifd + 2])[0]):
            e = ifd + 2 + 12 * k
            tag, typ = struct.unpack(order + "HH", b[e:e + 4])
            if tag in (256, 257):
                v = w if tag == 256 else h
                b[e + 8:e + 12] = struct.pack(order + "HH", min(v, 65535), 0) if typ == 3 else struct.pack(order + "I", v)
    elif ext == ".png":
        return png_claiming(w, h)
    return bytes(b)


def image_corpus(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` pairs: random bytes, valid seeds, their truncations, bit flips and size claims."""
    out: list[tuple[str, bytes]] = []
    for n in (1, 7, 100, 5000):
        for ext in (".jpg", ".png", ".bin"):
            out.append((f"random-{n}{ext}", rng.integers(0, 256, n, dtype=np.uint8).tobytes()))
    seed = seed_image()
    for ext in IMAGE_FORMATS:
        data = encode(seed, ext)
        name = ext[1:]
        out.append((f"{name}-valid{ext}", data))
        for frac in (0.05, 0.3, 0.7, 0.97):
            out.append((f"{name}-truncated-{frac}{ext}", data[: max(1, int(len(data) * frac))]))
        for flips in (1, 8, 64):
            out.append((f"{name}-bitflip-{flips}{ext}", bitflip(data, rng, flips)))
        out.append((f"{name}-huge-header{ext}", with_header_size(data, ext, HUGE, HUGE)))
        out.append((f"{name}-zero-header{ext}", with_header_size(data, ext, 0, 0)))
    for h, w in ((1, 257), (257, 1), (1, 1), (2, 3)):
        for ext in (".png", ".jpg", ".bmp"):
            out.append((f"odd-{w}x{h}{ext}", encode(seed_image(h, w), ext)))
    out.append(("wide-65535x1.png", encode(seed_image(1, 65535), ".png")))
    out.append(("tall-1x65535.png", encode(seed_image(65535, 1), ".png")))
    out.append(("gray16.png", encode((seed[..., 0].astype(np.uint16) * 257), ".png")))
    out.append(("bgra.png", encode(cv2.cvtColor(seed, cv2.COLOR_BGR2BGRA), ".png")))
    out.append(("gray.jpg", encode(seed[..., 0], ".jpg")))
    out.append(("text.jpg", b"this is not an image\n" * 20))
    out.append(("empty.png", b""))
    return out


def array_corpus() -> list[tuple[str, object]]:
    """``(name, value)`` pairs for the array API: every dtype and channel count, NaN / inf, and non-arrays."""
    base = seed_image(24, 32)
    out: list[tuple[str, object]] = []
    dtypes = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
              np.float16, np.float32, np.float64, np.bool_, np.complex64, object]
    for dt in dtypes:
        for c in (None, 0, 1, 2, 3, 4, 5):
            a = base[..., 0] if c is None else np.resize(base, base.shape[:2] + (c,))
            out.append((f"{np.dtype(dt).name}-c{c}", a.astype(dt)))
    f = base.astype(np.float32) / 255
    out += [("float01", f), ("float-nan", np.where(f > 0.5, np.nan, f)), ("float-inf", np.where(f > 0.5, np.inf, f)),
            ("float-negative", f - 2), ("float-huge", f * 1e30), ("chw", base.transpose(2, 0, 1)),
            ("batch", base[None]), ("1d", base.ravel()), ("0d", np.array(3)), ("empty", np.zeros((0, 4, 3), np.uint8)),
            ("1xN", base[:1]), ("Nx1", base[:, :1]), ("wide-65535", np.zeros((1, 65535, 3), np.uint8)),
            ("non-contiguous", base[::2, ::-1]), ("None", None), ("int", 7), ("bytes", encode(base, ".jpg")),
            ("str-not-a-file", "no/such/image.jpg"), ("list", base.tolist())]
    return out


def huge_frame_header(data: bytes, side: int = HUGE) -> bytes:
    """An AVI or MP4 whose headers claim frames of ``side`` x ``side`` (AVI avih and strf; MP4 tkhd and mp4v)."""
    b = bytearray(data)
    for tag, offsets in ((b"avih", [(40, "<II")]), (b"strf", [(12, "<ii")]), (b"tkhd", [(80, ">II")]),
                         (b"mp4v", [(28, ">HH")])):
        i = b.find(tag)
        while i >= 0:
            for off, fmt in offsets:
                v = side << 16 if tag == b"tkhd" else min(side, 65535) if "H" in fmt else side
                if i + off + 8 <= len(b):
                    b[i + off:i + off + struct.calcsize(fmt)] = struct.pack(fmt, v, v)
            i = b.find(tag, i + 4)
    return bytes(b)


def video_corpus(folder: Path, rng: np.random.Generator) -> list[Path]:
    """Video files in ``folder``: valid, truncated, bit-flipped, zero frames, one frame, a huge frame size."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [seed_image(48, 64, seed=k) for k in range(6)]
    out = []
    for ext, fourcc in ((".avi", "MJPG"), (".mp4", "mp4v")):
        valid = write_video(folder / f"valid{ext}", frames, fourcc=fourcc)
        data = valid.read_bytes()
        out += [valid, write_video(folder / f"zero-frames{ext}", [], fourcc=fourcc),
                write_video(folder / f"one-frame{ext}", frames[:1], fourcc=fourcc)]
        cases = {f"huge-frame-header{ext}": huge_frame_header(data), f"empty{ext}": b"",
                 f"random{ext}": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()}
        for frac in (0.02, 0.3, 0.6, 0.95):
            cases[f"truncated-{frac}{ext}"] = data[: max(1, int(len(data) * frac))]
        for flips in (1, 16, 256):
            cases[f"bitflip-{flips}{ext}"] = bitflip(data, rng, flips)
        for name, blob in cases.items():
            (folder / name).write_bytes(blob)
            out.append(folder / name)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz-corpus")
    g = np.random.default_rng(0)
    (target / "images").mkdir(parents=True, exist_ok=True)
    for fname, blob in image_corpus(g):
        (target / "images" / fname).write_bytes(blob)
    video_corpus(target / "videos", g)
    print(f"corpus written to {target}/")
