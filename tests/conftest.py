"""Shared fixtures. Tests that need ../shared/data skip cleanly (with the reason) when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TDDFA_SHARED", ROOT.parent / "shared" / "data"))
REFERENCE = SHARED / "reference" / "3ddfa_v2"
EXAMPLE = ROOT / "examples" / "astronaut.jpg"
FUZZ_QUICK_CASES = 300  # the quick fuzz profile of the default run; `-m fuzz --fuzz-cases 2000` is the long one


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-cases", type=int, default=FUZZ_QUICK_CASES,
                     help=f"total cases of the fuzz suite (tests/fuzz), shared out between its tests "
                          f"(default {FUZZ_QUICK_CASES}: the quick, derandomized profile)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: the fuzz suite (tests/fuzz); its size is --fuzz-cases")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED} (set TDDFA_SHARED); skipping data-dependent test")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir(shared_data: Path) -> Path:
    if not (REFERENCE / "mb05_120x120.pth").exists():
        pytest.skip(f"reference weights not found in {REFERENCE}")
    return REFERENCE


@pytest.fixture(scope="session")
def torch_mod():
    return pytest.importorskip("torch", reason="PyTorch not installed (pip install 'tddfa[train]')")


@pytest.fixture(scope="session")
def bfm():
    from tddfa.errors import ModelNotAvailableError
    from tddfa.facemodel import load_bfm

    try:
        return load_bfm()
    except ModelNotAvailableError as exc:
        pytest.skip(f"BFM face model not available: {exc}")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
