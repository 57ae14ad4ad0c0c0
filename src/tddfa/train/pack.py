"""Compact copies of the cached training splits, for moving them to another machine (a lent GPU).

The caches hold raw uint8 crops (a 300W training set with its profiled views is about 2 GB). A pack stores
each distinct crop once as WebP and a mirrored sample as a reference to its unmirrored crop, so the same
samples fit in a few tens of MB (lossy: about 35 dB PSNR at quality 70, milder than the JPEG noise that
augmentation adds anyway). Parameters are kept exactly, landmarks to 1/64 pixel.

Layout (``.npz``, no pickles): ``webp`` (bytes,) uint8 concatenated encodings, ``offsets`` (M+1,) int64,
``image_index`` (N,) int32 (which encoding), ``mirrored`` (N,) bool (sample = encoding flipped left-right),
``params`` (N, 62) float32, ``landmarks_x64`` (N, 68, 2) int16 (crop pixels x 64), ``quality`` () int.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .dataset import Arrays, load_arrays

PACK_KEYS = ("webp", "offsets", "image_index", "mirrored", "params", "landmarks_x64")
LM_SCALE = 64.0


def mirror_pairs(images: np.ndarray) -> np.ndarray:
    """For each crop ``(N, H, W, 3)``, the index of an earlier crop it is the exact mirror of, else -1."""
    import hashlib

    first: dict[bytes, int] = {}
    out = np.full(len(images), -1, np.int64)
    for i, img in enumerate(images):
        j = first.get(hashlib.blake2b(np.ascontiguousarray(img[:, ::-1]).tobytes(), digest_size=16).digest())
        if j is not None and np.array_equal(images[j], img[:, ::-1]):
            out[i] = j
        else:
            first.setdefault(hashlib.blake2b(img.tobytes(), digest_size=16).digest(), i)
    return out


def pack_arrays(arrays: Arrays, out: str | Path, quality: int = 70, workers: int = 4) -> dict:
    """Write ``arrays`` as a pack (see the module docstring); returns size statistics."""
    n = len(arrays)
    if np.abs(arrays.landmarks).max(initial=0) * LM_SCALE > np.iinfo(np.int16).max:
        raise InputError("landmarks beyond +-512 px do not fit a pack")
    pair = mirror_pairs(arrays.images)
    own = np.flatnonzero(pair < 0)
    slot = np.full(n, -1, np.int64)
    slot[own] = np.arange(len(own))
    image_index = np.where(pair < 0, slot, slot[np.maximum(pair, 0)]).astype(np.int32)

    def enc(i: int) -> bytes:
        ok, buf = cv2.imencode(".webp", arrays.images[i], [cv2.IMWRITE_WEBP_QUALITY, int(quality)])
        if not ok:
            raise InputError(f"WebP encoding failed for sample {i}")
        return buf.tobytes()

    with ThreadPoolExecutor(max(int(workers), 1)) as ex:
        blobs = list(ex.map(enc, own.tolist()))
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, webp=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets, image_index=image_index,
             mirrored=pair >= 0, params=arrays.params.astype(np.float32),
             landmarks_x64=np.round(arrays.landmarks * LM_SCALE).astype(np.int16), quality=np.int64(quality))
    tmp.replace(out)
    return {"samples": n, "encoded": len(blobs), "mirrored": int((pair >= 0).sum()),
            "bytes": int(out.stat().st_size), "raw_bytes": int(arrays.images.nbytes)}


def is_pack(path: str | Path) -> bool:
    with np.load(path, allow_pickle=False) as z:
        return "webp" in z.files


def load_pack(path: str | Path, limit: int | None = None, workers: int = 8) -> Arrays:
    """Decode a pack into in-memory :class:`Arrays` (uint8 BGR crops)."""
    p = Path(path)
    with np.load(p, allow_pickle=False) as z:
        missing = set(PACK_KEYS) - set(z.files)
        if missing:
            raise InputError(f"{p}: not a training pack (missing {sorted(missing)})")
        webp, offsets, index, mirrored = z["webp"], z["offsets"], z["image_index"], z["mirrored"]
        params, lms = z["params"], z["landmarks_x64"].astype(np.float32) / LM_SCALE
    if limit is not None:
        index, mirrored, params, lms = index[:limit], mirrored[:limit], params[:limit], lms[:limit]
    used = np.unique(index)

    def dec(k: int) -> np.ndarray:
        img = cv2.imdecode(webp[offsets[k]:offsets[k + 1]], cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"{p}: image {k} cannot be decoded")
        return img

    with ThreadPoolExecutor(max(int(workers), 1)) as ex:
        decoded = dict(zip(used.tolist(), ex.map(dec, used.tolist())))
    first = next(iter(decoded.values()))
    images = np.empty((len(index),) + first.shape, np.uint8)
    for i, (k, m) in enumerate(zip(index.tolist(), mirrored.tolist())):
        images[i] = decoded[k][:, ::-1] if m else decoded[k]
    return Arrays(images, params.astype(np.float32), lms.astype(np.float32))


def pack_files(paths: list[str | Path], out: str | Path, quality: int = 70, limit: int | None = None) -> dict:
    """Concatenate cached splits (``load_arrays``) and pack them into one file."""
    from .dataset import concat

    return pack_arrays(concat([load_arrays(p, limit) for p in paths]), out, quality)
