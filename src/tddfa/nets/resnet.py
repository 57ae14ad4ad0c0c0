"""ResNet-22 regressing the 62 3DMM parameters (3DDFA_V2's ``models/resnet.py`` layout, "caffe-resnet25" style).

A 5x5 stride-2 stem (32 channels), a 3x3 conv to 64, then three stages of basic blocks (3, 4, 3 blocks;
128, 256, 512 channels; each stage starts with stride 2) -- 22 weighted layers. The head is a 1x1 conv
to 62 channels followed by global average pooling (``conv_param``), as in the reference; ``conv_lm`` is the
training-only landmark branch (136 channels), which the reference left commented out.

Input ``(N, 3, 120, 120)`` -> feature map ``(N, 512, 8, 8)`` -> output ``(N, 62)``.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_model


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual; ``downsample`` (1x1 conv + BN) matches shapes when they change."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + skip)


class ResNet(nn.Module):
    def __init__(self, layers: tuple[int, ...] = (3, 4, 3), num_params: int = 62, num_landmarks: int = 68,
                 input_channel: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channel, 32, 5, stride=2, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU(inplace=True)
        cin = 64
        for i, (blocks, width) in enumerate(zip(layers, (128, 256, 512)), start=1):
            stage = [BasicBlock(cin, width, stride=2)] + [BasicBlock(width, width) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*stage))
            cin = width
        self.num_stages = len(layers)
        self.conv_param = nn.Conv2d(cin, num_params, 1)
        self.conv_lm = nn.Conv2d(cin, num_landmarks * 2, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map ``(N, 512, H/16, W/16)``."""
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        for i in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{i}")(x)
        return x

    def _head(self, conv: nn.Conv2d, f: torch.Tensor) -> torch.Tensor:
        # 1x1 conv then pooling (the reference's order; equal to pooling first, but keeps its weights' meaning)
        return torch.flatten(self.avgpool(conv(f)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._head(self.conv_param, self.features(x))

    def forward_train(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters ``(N, 62)`` and the auxiliary landmarks ``(N, 136)``."""
        f = self.features(x)
        return self._head(self.conv_param, f), self._head(self.conv_lm, f)


@register_model("resnet22")
def resnet22(**kw) -> ResNet:
    return ResNet(layers=(3, 4, 3), **kw)
