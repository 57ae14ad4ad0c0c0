"""Recipes in configs/: one file per shipped model, each stage a valid config for its trainer."""
import json
from pathlib import Path

import pytest

from tddfa.errors import InputError
from tddfa.train.config import load_config
from tddfa.train.recipe import read_recipe, recipe_stages

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_each_shipped_model_has_one_recipe():
    models = [json.loads(p.read_text())["model"] for p in sorted(CONFIGS.glob("*.json"))]
    assert sorted(models) == ["faceboxes", "tddfa_mb05", "tddfa_mb1"]


@pytest.mark.parametrize("name", ["regressor-mb05", "regressor-mb1"])
def test_every_regressor_stage_is_a_valid_config_that_starts_from_the_one_before(name):
    path = CONFIGS / f"{name}.json"
    stages = recipe_stages(path)
    assert len(stages) >= 2
    cfgs = [load_config(path, stage=s) for s in stages]  # unknown keys would raise
    for before, after in zip(cfgs, cfgs[1:]):
        assert after["init_from"] == f"cache/recipes/{before['name']}/last.pth"
    assert cfgs[-1]["name"] == name


def test_every_detector_stage_loads_and_chains():
    pytest.importorskip("torch", reason="the detector trainer needs PyTorch (pip install 'tddfa[train]')")
    from tddfa.train.detector.trainer import load_config as load_detector_config

    path = CONFIGS / "detector-faceboxes.json"
    stages = recipe_stages(path)
    cfgs = [load_detector_config(path, s) for s in stages]
    for before, after in zip(cfgs, cfgs[1:]):
        assert Path(after["init_from"]).parent == Path(before["out"])
    assert load_detector_config(path, default_last=True)["out"] == cfgs[-1]["out"]


def test_a_staged_recipe_needs_a_stage(tmp_path):
    path = CONFIGS / "regressor-mb05.json"
    with pytest.raises(InputError, match="stages cpu, gpu, final"):
        read_recipe(path)
    with pytest.raises(InputError, match="no stage 'nope'; its stages are cpu, gpu, final"):
        read_recipe(path, "nope")
    single = tmp_path / "one.json"
    single.write_text('{"epochs": 3}')
    assert read_recipe(single) == {"epochs": 3}
    with pytest.raises(InputError, match="has no stages"):
        read_recipe(single, "cpu")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="must be a JSON object"):
        read_recipe(bad)
