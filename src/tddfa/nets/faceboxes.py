"""FaceBoxes (Zhang et al. 2017, "FaceBoxes: A CPU Real-time Face Detector with High Accuracy").

Layout (module names and shapes) follows 3DDFA_V2's ``FaceBoxesProd.pth`` so that checkpoint loads with
``strict=True``: a rapidly digested trunk (two CReLU convs, strides 4 and 2, each followed by a stride-2
max pool), three Inception blocks, two extra stride-2 stages, and three SSD-style heads on the stride
32 / 64 / 128 feature maps with 21 / 1 / 1 anchors per cell (anchor densification of the 32 and 64 px
anchors; see ``tddfa.detect.priors``).

``FaceBoxesNet.forward`` returns raw ``(loc (N,P,4), logits (N,P,2))`` for training; ``FaceBoxesInference``
wraps it for export and returns ``(loc, face_score (N,P))``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_model

# anchors per feature-map cell for the three detection sources (16 + 4 + 1 densified anchors)
ANCHORS_PER_CELL = (21, 1, 1)


class BasicConv2d(nn.Module):
    """conv (no bias) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class CRelu(nn.Module):
    """conv -> BN -> concat(x, -x) -> ReLU: doubles the channels at half the conv cost."""

    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(torch.cat([x, -x], 1))


class Inception(nn.Module):
    """128 -> 4 x 32 channels: 1x1 | avgpool+1x1 | 1x1+3x3 | 1x1+3x3+3x3."""

    def __init__(self):
        super().__init__()
        self.branch1x1 = BasicConv2d(128, 32, kernel_size=1)
        self.branch1x1_2 = BasicConv2d(128, 32, kernel_size=1)
        self.branch3x3_reduce = BasicConv2d(128, 24, kernel_size=1)
        self.branch3x3 = BasicConv2d(24, 32, kernel_size=3, padding=1)
        self.branch3x3_reduce_2 = BasicConv2d(128, 24, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(24, 32, kernel_size=3, padding=1)
        self.branch3x3_3 = BasicConv2d(32, 32, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch1x1_2(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        c = self.branch3x3(self.branch3x3_reduce(x))
        d = self.branch3x3_3(self.branch3x3_2(self.branch3x3_reduce_2(x)))
        return torch.cat([a, b, c, d], 1)


class SeparableConv2d(nn.Module):
    """depthwise conv -> BN -> 1x1 conv -> BN -> ReLU (the lite stem's second stage)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, kernel_size, stride, kernel_size // 2, groups=cin, bias=False)
        self.bn = nn.BatchNorm2d(cin, eps=1e-5)
        self.pw = BasicConv2d(cin, cout, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.bn(self.dw(x)))


STEMS = ("rdcl", "lite")


class FaceBoxesNet(nn.Module):
    """Input ``(N, 3, H, W)`` float32 BGR minus (104, 117, 123), any H, W.

    Output ``loc (N, P, 4)`` (SSD offsets) and ``logits (N, P, num_classes)``, with
    ``P = 21*ceil(H/32)*ceil(W/32) + ceil(H/64)*ceil(W/64) + ceil(H/128)*ceil(W/128)``.

    ``stem="rdcl"`` is FaceBoxes' own trunk (7x7/4 and 5x5/2 CReLU convolutions: 58 % of the network's
    multiply-adds at 1080x607). ``stem="lite"`` replaces them by a 4x4/4 convolution to 48 channels and a
    depthwise-separable 5x5/2 stage to 128 channels (the same shapes at stride 8 and 32, a third of the
    stem's multiply-adds), so everything after the stem can start from a trained ``rdcl`` network (``tddfa.train.detector``
    distils the stem's output first).
    """

    def __init__(self, num_classes: int = 2, stem: str = "rdcl"):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem {stem!r}: expected one of {STEMS}")
        self.num_classes, self.stem = num_classes, stem
        if stem == "rdcl":
            self.conv1 = CRelu(3, 24, kernel_size=7, stride=4, padding=3)
            self.conv2 = CRelu(48, 64, kernel_size=5, stride=2, padding=2)
        else:
            self.conv1 = BasicConv2d(3, 48, kernel_size=4, stride=4)
            self.conv2 = SeparableConv2d(48, 128, kernel_size=5, stride=2)
        self.inception1 = Inception()
        self.inception2 = Inception()
        self.inception3 = Inception()
        self.conv3_1 = BasicConv2d(128, 128, kernel_size=1)
        self.conv3_2 = BasicConv2d(128, 256, kernel_size=3, stride=2, padding=1)
        self.conv4_1 = BasicConv2d(256, 128, kernel_size=1)
        self.conv4_2 = BasicConv2d(128, 256, kernel_size=3, stride=2, padding=1)
        chans = (128, 256, 256)
        self.loc = nn.Sequential(*[nn.Conv2d(c, a * 4, kernel_size=3, padding=1)
                                   for c, a in zip(chans, ANCHORS_PER_CELL)])
        self.conf = nn.Sequential(*[nn.Conv2d(c, a * num_classes, kernel_size=3, padding=1)
                                    for c, a in zip(chans, ANCHORS_PER_CELL)])

    def init_weights(self) -> "FaceBoxesNet":
        """Fresh initialisation for training from scratch (He init; heads start near the prior)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m.bias is None:
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:
                    nn.init.normal_(m.weight, std=0.01)
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # background prior ~0.99 so that the first steps are not dominated by easy negatives
        for c in self.conf:
            c.bias.data.view(-1, self.num_classes)[:, 1] = -4.6
        return self

    def stem_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 128, ceil(H/32), ceil(W/32))``: the input of the Inception blocks."""
        if self.stem == "lite":  # 4x4/4 without padding: pad to a multiple of 4 so the grid is ceil(H/4) as in rdcl
            h, w = x.shape[-2:]
            x = F.pad(x, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4))
        x = self.conv1(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        x = self.conv2(x)
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)

    def trunk(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stem features -> the three detection sources (strides 32, 64, 128)."""
        s1 = self.inception3(self.inception2(self.inception1(x)))
        s2 = self.conv3_2(self.conv3_1(s1))
        s3 = self.conv4_2(self.conv4_1(s2))
        return [s1, s2, s3]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.trunk(self.stem_features(x))

    def heads(self, sources: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = sources[0].shape[0]
        locs, confs = [], []
        for src, lh, ch in zip(sources, self.loc, self.conf):
            # NHWC flattening: anchors of one cell are contiguous, cells in row-major order
            locs.append(lh(src).permute(0, 2, 3, 1).reshape(n, -1, 4))
            confs.append(ch(src).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes))
        return torch.cat(locs, 1), torch.cat(confs, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))


class FaceBoxesInference(nn.Module):
    """Export wrapper: ``(loc (N,P,4), face probability (N,P))``."""

    def __init__(self, net: FaceBoxesNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, logits = self.net(x)
        return loc, torch.softmax(logits, dim=-1)[..., 1]


@register_model("faceboxes")
def faceboxes(num_classes: int = 2) -> FaceBoxesNet:
    return FaceBoxesNet(num_classes)


@register_model("faceboxes_lite")
def faceboxes_lite(num_classes: int = 2) -> FaceBoxesNet:
    return FaceBoxesNet(num_classes, stem="lite")


def stem_of(state_dict: dict) -> str:
    """Which stem a FaceBoxes state dict was trained with (``"lite"`` has a depthwise ``conv2.dw``)."""
    return "lite" if "conv2.dw.weight" in state_dict else "rdcl"


def load_faceboxes(path: str | Path, strict: bool = True) -> FaceBoxesNet:
    """A FaceBoxesNet (eval mode) from 3DDFA_V2's ``FaceBoxesProd.pth`` or one of our checkpoints (a training
    ``last.pth`` gives its EMA weights, as the trainer's validation and export use)."""
    from .checkpoint import load_state_dict

    sd = load_state_dict(path, prefer_ema=True)
    net = FaceBoxesNet(stem=stem_of(sd))
    net.load_state_dict(sd, strict=strict)
    return net.eval()


def export_faceboxes_onnx(net: FaceBoxesNet, path: str | Path, opset: int = 17) -> Path:
    """ONNX with dynamic batch, height and width; inputs ``input``, outputs ``loc``, ``score``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    model = FaceBoxesInference(net.eval()).eval()
    dummy = torch.zeros(1, 3, 256, 320)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "loc": {0: "batch", 1: "priors"},
            "score": {0: "batch", 1: "priors"}}
    tmp = p.with_suffix(".tmp.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is what we want here
        torch.onnx.export(model, dummy, str(tmp), input_names=["input"], output_names=["loc", "score"],
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    tmp.replace(p)  # atomic: a half-written file never looks like a model
    return p
