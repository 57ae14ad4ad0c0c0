"""Recipe files: one file per shipped model under ``configs/``.

A recipe holds either one config, or ``{"model": NAME, "stages": {STAGE: config, ...}}``: the configs that run
one after another (each stage starts from the previous one's checkpoint through its ``init_from``), in file order;
the last stage makes the shipped model. :func:`read_recipe` returns the raw config of one stage.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError


def recipe_stages(path: str | Path) -> list[str]:
    """The stage names of the recipe at ``path`` in run order (``[]``: a single config)."""
    stages = _load(Path(path)).get("stages")
    return list(stages) if isinstance(stages, dict) else []


def read_recipe(path: str | Path, stage: str | None = None, *, default_last: bool = False) -> dict:
    """The raw config of ``stage`` in the recipe at ``path`` (a single-config file: the file itself). Without
    ``stage``, a staged recipe is an :class:`InputError` naming its stages, unless ``default_last`` (exports:
    the last stage is the one that makes the model)."""
    p = Path(path)
    raw = _load(p)
    stages = raw.get("stages")
    if not isinstance(stages, dict):
        if stage is not None:
            raise InputError(f"{p}: has no stages (it is one config); drop --stage {stage}")
        return raw
    names = list(stages)
    if stage is None and default_last:
        stage = names[-1]
    if stage is None:
        raise InputError(f"{p}: a recipe of stages {', '.join(names)} (run in this order): choose one with --stage")
    if stage not in stages:
        raise InputError(f"{p}: no stage {stage!r}; its stages are {', '.join(names)}")
    return dict(stages[stage])


def _load(p: Path) -> dict:
    if not p.exists():
        raise InputError(f"config not found: {p}")
    text = p.read_text()
    try:
        if p.suffix == ".toml":
            import tomllib  # Python >= 3.11

            raw = tomllib.loads(text)
        else:
            raw = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise InputError(f"{p}: cannot parse config ({exc})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{p}: a config must be a JSON object")
    return raw
