"""MobileNet V1 regressing the 62 3DMM parameters; module names match 3DDFA_V2 checkpoints.

Input ``(N, 3, 120, 120)`` float32 (BGR, ``(x - 127.5) / 128``); output ``(N, 62)`` whitened parameters.
``fc_lm`` is the training-only landmark branch (68 x 2 from the pooled features), kept so that
reference checkpoints (which store it) load with ``strict=True``.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


class DepthWiseBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv_dw = nn.Conv2d(inplanes, inplanes, 3, stride=stride, padding=1, groups=inplanes, bias=False)
        self.bn_dw = nn.BatchNorm2d(inplanes)
        self.conv_sep = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn_sep = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn_dw(self.conv_dw(x)))
        return self.relu(self.bn_sep(self.conv_sep(x)))


class MobileNetV1(nn.Module):
    # (name, in, out, stride) in units of the width at widen_factor 1.0
    _LAYOUT = [("dw2_1", 32, 64, 1), ("dw2_2", 64, 128, 2), ("dw3_1", 128, 128, 1), ("dw3_2", 128, 256, 2),
               ("dw4_1", 256, 256, 1), ("dw4_2", 256, 512, 2)] + \
              [(f"dw5_{i}", 512, 512, 1) for i in range(1, 6)] + [("dw5_6", 512, 1024, 2), ("dw6", 1024, 1024, 1)]

    def __init__(self, widen_factor: float = 1.0, num_params: int = 62, num_landmarks: int = 68):
        super().__init__()
        w = lambda c: int(c * widen_factor)  # noqa: E731
        self.widen_factor = widen_factor
        self.conv1 = nn.Conv2d(3, w(32), 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w(32))
        self.relu = nn.ReLU(inplace=True)
        for name, cin, cout, stride in self._LAYOUT:
            setattr(self, name, DepthWiseBlock(w(cin), w(cout), stride))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc_param = nn.Linear(w(1024), num_params)
        self.fc_lm = nn.Linear(w(1024), num_landmarks * 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for name, *_ in self._LAYOUT:
            x = getattr(self, name)(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_param(self.features(x))

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters ``(N, 62)`` and the auxiliary landmarks ``(N, 136)`` (crop-normalised x, y)."""
        f = self.features(x)
        return self.fc_param(f), self.fc_lm(f)


@register_model("mb1")
def mobilenet_v1_x1(**kw) -> MobileNetV1:
    return MobileNetV1(widen_factor=1.0, **kw)


@register_model("mb05")
def mobilenet_v1_x05(**kw) -> MobileNetV1:
    return MobileNetV1(widen_factor=0.5, **kw)
