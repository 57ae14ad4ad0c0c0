"""MobileNet V3 (Howard et al. 2019, "Searching for MobileNetV3") regressing the 62 3DMM parameters.

Laid out like 3DDFA_V2's ``models/mobilenet_v3.py``: one ``features`` ``nn.Sequential`` (stem, inverted
residual bottlenecks with optional squeeze-excite, a 1x1 conv, global pooling and a 1x1 "last channel"
conv with h-swish), then a linear head. The head is named ``fc_param`` (``tddfa.nets.checkpoint`` renames
3DDFA_V2's ``fc``), and ``fc_lm`` is the training-only landmark branch, as in our MobileNet V1.

Input ``(N, 3, 120, 120)`` float32 (BGR, ``(x - 127.5) / 128``); output ``(N, 62)`` whitened parameters.
Any input size works (global pooling), so there is no ``input_size % 32`` check.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .registry import register_model

# (kernel, expansion channels, output channels, squeeze-excite, non-linearity, stride); Tables 1 and 2 of the paper
_SMALL = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
          (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
          (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
          (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]
_LARGE = [(3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
          (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
          (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
          (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
          (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1)]
_LAST_CONV = {"small": 576, "large": 960}


def _round8(x: float) -> int:
    """Channels rounded up to a multiple of 8 (SIMD-friendly widths)."""
    return int(math.ceil(x / 8) * 8)


class Hswish(nn.Module):
    """x * relu6(x + 3) / 6: a piecewise-linear swish (exports to ONNX HardSwish)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardswish(x)


class Hsigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardsigmoid(x)


class SEModule(nn.Module):
    """Squeeze-excite: channel weights from the pooled features (two bias-free linear layers)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, channels // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channels // reduction, channels, bias=False), Hsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(torch.flatten(self.avg_pool(x), 1))
        return x * w[:, :, None, None]


def _conv_bn_act(cin: int, cout: int, kernel: int, stride: int, act: type[nn.Module]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False),
                         nn.BatchNorm2d(cout), act())


class MobileBottleneck(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise (-> SE) -> 1x1 project; identity skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, exp: int, se: bool, nl: str):
        super().__init__()
        if stride not in (1, 2) or kernel not in (3, 5) or nl not in ("RE", "HS"):
            raise ValueError(f"unsupported bottleneck: kernel {kernel}, stride {stride}, non-linearity {nl}")
        act = nn.ReLU if nl == "RE" else Hswish
        self.use_res_connect = stride == 1 and cin == cout
        # indices match the reference's Sequential so its state-dict keys line up
        self.conv = nn.Sequential(
            nn.Conv2d(cin, exp, 1, bias=False), nn.BatchNorm2d(exp), act(),
            nn.Conv2d(exp, exp, kernel, stride, (kernel - 1) // 2, groups=exp, bias=False), nn.BatchNorm2d(exp),
            SEModule(exp) if se else nn.Identity(), act(),
            nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV3(nn.Module):
    def __init__(self, widen_factor: float = 1.0, num_params: int = 62, num_landmarks: int = 68,
                 mode: str = "small", last_channel: int = 1280):
        super().__init__()
        if mode not in _LAST_CONV:
            raise ValueError(f"mode must be 'small' or 'large', not {mode!r}")
        setting = _SMALL if mode == "small" else _LARGE
        self.widen_factor, self.mode = widen_factor, mode
        cin = 16
        layers: list[nn.Module] = [_conv_bn_act(3, cin, 3, 2, Hswish)]
        for k, exp, c, se, nl, s in setting:
            cout = _round8(c * widen_factor)
            layers.append(MobileBottleneck(cin, cout, k, s, _round8(exp * widen_factor), se, nl))
            cin = cout
        last_conv = _round8(_LAST_CONV[mode] * widen_factor)
        last = _round8(last_channel * widen_factor) if widen_factor > 1.0 else last_channel
        layers += [_conv_bn_act(cin, last_conv, 1, 1, Hswish), nn.AdaptiveAvgPool2d(1),
                   nn.Conv2d(last_conv, last, 1), Hswish()]
        self.features = nn.Sequential(*layers)
        self.fc_param = nn.Linear(last, num_params)
        self.fc_lm = nn.Linear(last, num_landmarks * 2)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(N, last_channel)``."""
        return torch.flatten(self.features(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_param(self.embed(x))

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters ``(N, 62)`` and the auxiliary landmarks ``(N, 136)``."""
        f = self.embed(x)
        return self.fc_param(f), self.fc_lm(f)


@register_model("mobilenet_v3")
def mobilenet_v3(**kw) -> MobileNetV3:
    """MobileNet V3-Small, width 1.0 (3DDFA_V2's default configuration)."""
    return MobileNetV3(**{"mode": "small", **kw})
