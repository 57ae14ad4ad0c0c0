"""Several regressors as one network: the mean of their 62 unwhitened parameters, whitened again.

Averaging the parameters of two independently trained models lowers both the error and the frame-to-frame
noise (they err differently); exporting the average as one graph keeps the runtime unchanged (one ONNX
session, one call per batch of crops). Each member keeps its own whitening (``in_mean`` / ``in_std``, one row
per member); the output is whitened with ``out_mean`` / ``out_std``, which the checkpoint's config repeats.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import create_model, register_model

N_PARAMS = 62


class ParamAverage(nn.Module):
    def __init__(self, members: list[nn.Module]):
        super().__init__()
        k = len(members)
        self.members = nn.ModuleList(members)
        self.register_buffer("in_mean", torch.zeros(k, N_PARAMS))
        self.register_buffer("in_std", torch.ones(k, N_PARAMS))
        self.register_buffer("out_mean", torch.zeros(N_PARAMS))
        self.register_buffer("out_std", torch.ones(N_PARAMS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> whitened ``(N, 62)``."""
        raw = torch.stack([m(x) for m in self.members]) * self.in_std[:, None] + self.in_mean[:, None]
        return (raw.mean(0) - self.out_mean) / self.out_std

    def forward_train(self, x: torch.Tensor):
        raise NotImplementedError("an ensemble is assembled from trained members, not trained itself")


ENSEMBLES = {"mb1+mb05": ("mb1", "mb05")}


def _register(name: str, archs: tuple[str, ...]) -> None:
    @register_model(name)
    def build(**kw) -> ParamAverage:
        return ParamAverage([create_model(a, **kw) for a in archs])


for _name, _archs in ENSEMBLES.items():
    _register(_name, _archs)
