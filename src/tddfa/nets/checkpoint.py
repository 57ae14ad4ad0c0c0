"""Load 3DDFA_V2-style ``.pth`` checkpoints (``{'state_dict': ...}`` with a ``module.`` prefix) and ours."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelNotAvailableError


def load_state_dict(path: str | Path, prefer_ema: bool = False) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint, with DataParallel prefixes removed; ``prefer_ema``: a training checkpoint's
    ``ema`` weights when it has them."""
    p = Path(path)
    if not p.exists():
        raise ModelNotAvailableError(f"checkpoint not found: {p}")
    ck = torch.load(p, map_location="cpu", weights_only=False)
    if prefer_ema and isinstance(ck, dict) and "ema" in ck:
        ck = ck["ema"]
    sd = ck.get("state_dict", ck.get("model", ck)) if isinstance(ck, dict) else ck
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_checkpoint(model: torch.nn.Module, path: str | Path, strict: bool = True) -> torch.nn.Module:
    sd = load_state_dict(path)
    if "fc.weight" in sd and "fc_param.weight" not in sd:  # alternative naming of the 62-d head
        sd["fc_param.weight"], sd["fc_param.bias"] = sd.pop("fc.weight"), sd.pop("fc.bias")
    model.load_state_dict(sd, strict=strict)
    return model.eval()
