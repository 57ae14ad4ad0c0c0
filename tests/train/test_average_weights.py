"""``benchmarks/average_weights.py``: the element-wise mean of state dicts (weight soups)."""
import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "average_weights.py"


def _module():
    spec = importlib.util.spec_from_file_location("average_weights", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mean_of_floats_first_of_integers():
    avg = _module().average
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(9)}
    out = avg([a, b])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0]))
    assert out["w"].dtype == torch.float32
    assert int(out["n"]) == 3


def test_different_keys_are_an_error():
    with pytest.raises(ValueError, match="different keys"):
        _module().average([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])
