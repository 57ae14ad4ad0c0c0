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

from functools import partial
import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .registry import register_model

# anchors per feature-map cell for the three detection sources (16 + 4 + 1 densified anchors)
ANCHORS_PER_CELL = (21, 1, 1)
FINE_ANCHORS = 5  # the stride-16 source of ``fine=True``: 2x2 anchors of 16 px + one of 32 px


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

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``max_pool2d(self(x), 3, 2, 1)``, the same numbers computed at a quarter of the memory traffic: max
        pooling commutes with ReLU and with the channel concat, so ``x`` and ``-x`` are pooled before either (on a
        720p frame this removed 2.5 ms of full-size Concat and Relu from a 21.7 ms network)."""
        x = self.bn(self.conv(x))
        pool = partial(F.max_pool2d, kernel_size=3, stride=2, padding=1)
        return F.relu(torch.cat([pool(x), pool(-x)], 1))


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
        self.pool_folded = False

    def fold_pool(self) -> "Inception":
        """Make the pooling branch one 3x3 convolution: a zero-padded 3x3 mean (padding counted, as here) followed
        by a bias-free 1x1 convolution is a 3x3 convolution of the 1x1 filters / 9 at every tap. Same numbers up to
        rounding; for INT8, where ONNX Runtime runs the average pooling as a slow QLinearAveragePool (4.4 of 17 ms at
        720p) while a 3x3 integer convolution is cheap."""
        c = self.branch1x1_2.conv
        if not self.pool_folded:
            conv = nn.Conv2d(c.in_channels, c.out_channels, 3, padding=1, bias=False)
            conv.weight.data.copy_((c.weight.data / 9).repeat(1, 1, 3, 3))
            self.branch1x1_2.conv, self.pool_folded = conv, True
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch1x1_2(x if self.pool_folded else F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
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
    ``P = 21*ceil(H/32)*ceil(W/32) + ceil(H/64)*ceil(W/64) + ceil(H/128)*ceil(W/128)``
    (``fine=True`` appends ``5*ceil(H/16)*ceil(W/16)``: see ``fine_source`` and ``tddfa.detect.priors``).

    ``stem="rdcl"`` is FaceBoxes' own trunk (7x7/4 and 5x5/2 CReLU convolutions: 58 % of the network's
    multiply-adds at 1080x607). ``stem="lite"`` replaces them by a 4x4/4 convolution to 48 channels and a
    depthwise-separable 5x5/2 stage to 128 channels (the same shapes at stride 8 and 32, a third of the
    stem's multiply-adds), so everything after the stem can start from a trained ``rdcl`` network (``tddfa.train.detector``
    distils the stem's output first).
    """

    def __init__(self, num_classes: int = 2, stem: str = "rdcl", fine: bool = False):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem {stem!r}: expected one of {STEMS}")
        self.num_classes, self.stem, self.fine = num_classes, stem, bool(fine)
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
        if self.fine:
            # stride-16 source: the stem's stride-16 map plus the upsampled first Inception output (its context),
            # then a depthwise 3x3 and 1x1 heads, so the extra cost stays ~2 % at 1080x607
            self.fine_lateral = BasicConv2d(128, 128, kernel_size=1)
            self.fine_dw = nn.Conv2d(128, 128, 3, padding=1, groups=128, bias=False)
            self.fine_bn = nn.BatchNorm2d(128, eps=1e-5)
            self.fine_loc = nn.Conv2d(128, FINE_ANCHORS * 4, kernel_size=1)
            self.fine_conf = nn.Conv2d(128, FINE_ANCHORS * num_classes, kernel_size=1)

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
        for c in list(self.conf) + ([self.fine_conf] if self.fine else []):
            c.bias.data.view(-1, self.num_classes)[:, 1] = -4.6
        return self

    def stem16(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> the stem's stride-16 map ``(N, 128, ceil(H/16), ceil(W/16))``."""
        return self.conv2(self.stem8(x))

    def stem8(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> the first conv's pooled map ``(N, 48, ceil(H/8), ceil(W/8))``."""
        if self.stem == "lite":  # 4x4/4 without padding: pad to a multiple of 4 so the grid is ceil(H/4) as in rdcl
            h, w = x.shape[-2:]
            x = F.pad(x, (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4))
            return F.max_pool2d(self.conv1(x), kernel_size=3, stride=2, padding=1)
        return self.conv1.pooled(x)

    def stem_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` -> ``(N, 128, ceil(H/32), ceil(W/32))``: the input of the Inception blocks."""
        if self.stem == "lite":
            return F.max_pool2d(self.stem16(x), kernel_size=3, stride=2, padding=1)
        return self.conv2.pooled(self.stem8(x))

    def trunk(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stem features -> the three detection sources (strides 32, 64, 128)."""
        s1 = self.inception3(self.inception2(self.inception1(x)))
        s2 = self.conv3_2(self.conv3_1(s1))
        s3 = self.conv4_2(self.conv4_1(s2))
        return [s1, s2, s3]

    def fine_source(self, f16: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """Stride-16 stem map ``(N, 128, h, w)`` + first detection source ``(N, 128, ceil(h/2), ceil(w/2))`` ->
        the stride-16 detection source ``(N, 128, h, w)``."""
        up = F.interpolate(self.fine_lateral(s1), scale_factor=2.0, mode="nearest")
        x = f16 + up[..., : f16.shape[-2], : f16.shape[-1]]
        return F.relu(self.fine_bn(self.fine_dw(x)))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not self.fine:
            return self.trunk(self.stem_features(x))
        f16 = self.stem16(x)
        src = self.trunk(F.max_pool2d(f16, kernel_size=3, stride=2, padding=1))
        return src + [self.fine_source(f16, src[0])]

    def head_pairs(self) -> list[tuple[nn.Conv2d, nn.Conv2d]]:
        """(box regression, classification) convolutions, one pair per detection source, in source order."""
        return list(zip(self.loc, self.conf)) + ([(self.fine_loc, self.fine_conf)] if self.fine else [])

    def heads(self, sources: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = sources[0].shape[0]
        locs, confs = [], []
        for src, (lh, ch) in zip(sources, self.head_pairs()):
            # NHWC flattening: anchors of one cell are contiguous, cells in row-major order
            locs.append(lh(src).permute(0, 2, 3, 1).reshape(n, -1, 4))
            confs.append(ch(src).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes))
        return torch.cat(locs, 1), torch.cat(confs, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))


def merge_heads(loc: nn.Conv2d, conf: nn.Conv2d) -> nn.Conv2d:
    """One convolution computing both heads of a source: per anchor its 4 box channels then its class channels, so
    ``(N, A * (4 + C), H, W)`` reshapes to ``(N, H * W * A, 4 + C)`` in the prior order of :meth:`FaceBoxesNet.heads`.
    Each output channel keeps its own filter, so the numbers are the same."""
    a = loc.out_channels // 4
    c = conf.out_channels // a
    merged = nn.Conv2d(loc.in_channels, a * (4 + c), loc.kernel_size, loc.stride, loc.padding)
    w = torch.cat([loc.weight.view(a, 4, *loc.weight.shape[1:]), conf.weight.view(a, c, *conf.weight.shape[1:])], 1)
    b = torch.cat([loc.bias.view(a, 4), conf.bias.view(a, c)], 1)
    merged.weight.data.copy_(w.reshape(merged.weight.shape))
    merged.bias.data.copy_(b.reshape(-1))
    return merged


class FaceBoxesInference(nn.Module):
    """Export wrapper: ``(loc (N,P,4), face probability (N,P))``.

    Each source's two heads run as one convolution (:func:`merge_heads`): one convolution and one layout reorder
    fewer per source, same outputs; with :meth:`CRelu.pooled` the 720p network went from 17.9 to 15.0 ms on 1 thread
    (80 interleaved calls).
    """

    def __init__(self, net: FaceBoxesNet):
        super().__init__()
        self.net = net
        self.merged = nn.ModuleList(merge_heads(lh, ch) for lh, ch in net.head_pairs())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, k = x.shape[0], 4 + self.net.num_classes
        out = torch.cat([h(s).permute(0, 2, 3, 1).reshape(n, -1, k)
                         for s, h in zip(self.net.features(x), self.merged)], 1)
        return out[..., :4], torch.softmax(out[..., 4:], dim=-1)[..., 1]


@register_model("faceboxes")
def faceboxes(num_classes: int = 2) -> FaceBoxesNet:
    return FaceBoxesNet(num_classes)


@register_model("faceboxes_lite")
def faceboxes_lite(num_classes: int = 2) -> FaceBoxesNet:
    return FaceBoxesNet(num_classes, stem="lite")


@register_model("faceboxes_s16")
def faceboxes_s16(num_classes: int = 2) -> FaceBoxesNet:
    return FaceBoxesNet(num_classes, fine=True)


def stem_of(state_dict: dict) -> str:
    """Which stem a FaceBoxes state dict was trained with (``"lite"`` has a depthwise ``conv2.dw``)."""
    return "lite" if "conv2.dw.weight" in state_dict else "rdcl"


def fine_of(state_dict: dict) -> bool:
    """Whether a FaceBoxes state dict has the stride-16 source (``faceboxes_s16``)."""
    return "fine_loc.weight" in state_dict


def arch_of(state_dict: dict) -> str:
    """The registered name of a FaceBoxes state dict's architecture."""
    if stem_of(state_dict) == "lite":
        return "faceboxes_lite"
    return "faceboxes_s16" if fine_of(state_dict) else "faceboxes"


def faceboxes_for(state_dict: dict) -> FaceBoxesNet:
    """An untrained FaceBoxesNet of the architecture ``state_dict`` was saved from."""
    return FaceBoxesNet(stem=stem_of(state_dict), fine=fine_of(state_dict))


def load_faceboxes(path: str | Path, strict: bool = True) -> FaceBoxesNet:
    """A FaceBoxesNet (eval mode) from 3DDFA_V2's ``FaceBoxesProd.pth`` or one of our checkpoints (a training
    ``last.pth`` gives its EMA weights, as the trainer's validation and export use)."""
    from .checkpoint import load_state_dict

    sd = load_state_dict(path, prefer_ema=True)
    net = faceboxes_for(sd)
    net.load_state_dict(sd, strict=strict)
    return net.eval()


def fold_pools(net: FaceBoxesNet) -> FaceBoxesNet:
    """A copy of ``net`` (eval mode) whose Inception pooling branches are 3x3 convolutions
    (:meth:`Inception.fold_pool`): the graph to quantize to INT8. In float it is slower (more multiply-adds)."""
    import copy

    out = copy.deepcopy(net).eval()
    for m in out.modules():
        if isinstance(m, Inception):
            m.fold_pool()
    return out


def export_faceboxes_onnx(net: FaceBoxesNet, path: str | Path, opset: int = 17, for_int8: bool = False) -> Path:
    """ONNX with dynamic batch, height and width; inputs ``input``, outputs ``loc``, ``score``. ``for_int8``: with
    the pooling branches folded (:func:`fold_pools`), for ``tddfa quantize --detector``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    model = FaceBoxesInference(fold_pools(net) if for_int8 else net.eval()).eval()
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
