"""SSD / FaceBoxes training targets and loss (torch): IoU matching of priors to face boxes and
softmax cross-entropy with online hard negative mining."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...detect.priors import VARIANCE


def point_form(priors: torch.Tensor) -> torch.Tensor:
    """(P, 4) cx, cy, w, h -> x1, y1, x2, y2."""
    return torch.cat([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], 1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(A, 4) x (B, 4) corner boxes -> (A, B) IoU."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).prod(1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def encode(matched: torch.Tensor, priors: torch.Tensor, variance=VARIANCE) -> torch.Tensor:
    c = (matched[:, :2] + matched[:, 2:]) / 2
    wh = (matched[:, 2:] - matched[:, :2]).clamp(min=1e-6)
    return torch.cat([(c - priors[:, :2]) / (variance[0] * priors[:, 2:]),
                      torch.log(wh / priors[:, 2:]) / variance[1]], 1)


def match(truths: torch.Tensor, priors: torch.Tensor, threshold: float = 0.35,
          min_best: float = 0.2, ignore: torch.Tensor | None = None,
          ignore_threshold: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for one image. ``truths (G, 4)`` normalised corners, ``priors (P, 4)`` cx, cy, w, h.

    Returns ``loc_t (P, 4)`` encoded offsets and ``labels (P,)`` (1 face, 0 background, -1 ignored: a
    non-positive prior overlapping an ``ignore`` box by IoU >= ``ignore_threshold``). A prior is a
    face when its IoU with a box is >= ``threshold``; each box also claims its best prior (if that IoU
    is >= ``min_best``, so that faces far below the smallest anchor do not force a bad match).
    """
    P = priors.shape[0]
    if truths.numel() == 0:
        loc_t, labels = torch.zeros(P, 4), torch.zeros(P, dtype=torch.long)
    else:
        loc_t, labels = _match_faces(truths, priors, threshold, min_best)
    if ignore is not None and ignore.numel():
        near = box_iou(ignore, point_form(priors)).max(0).values >= ignore_threshold
        labels[near & (labels == 0)] = -1
    return loc_t, labels


def _match_faces(truths, priors, threshold, min_best):
    iou = box_iou(truths, point_form(priors))  # (G, P)
    best_prior_iou, best_prior = iou.max(1)
    best_truth_iou, best_truth = iou.max(0)
    ok = best_prior_iou >= min_best
    best_truth_iou[best_prior[ok]] = 2.0
    best_truth[best_prior[ok]] = torch.arange(truths.shape[0])[ok]
    labels = (best_truth_iou >= threshold).long()
    return encode(truths[best_truth], priors), labels


class MultiBoxLoss(torch.nn.Module):
    """``loc_weight * SmoothL1(positives) + CE(positives + hardest negatives)``, both / #positives.

    Hard negative mining keeps, per image, the ``neg_pos_ratio`` x #positives background priors with the
    highest face loss (at least ``min_neg``, so face-free images still teach the background)."""

    def __init__(self, threshold: float = 0.35, neg_pos_ratio: int = 7, loc_weight: float = 2.0, min_neg: int = 16):
        super().__init__()
        self.threshold, self.neg_pos_ratio = threshold, neg_pos_ratio
        self.loc_weight, self.min_neg = loc_weight, min_neg

    def forward(self, loc: torch.Tensor, logits: torch.Tensor, targets: list[torch.Tensor],
                priors: torch.Tensor, ignores: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, dict]:
        ignores = ignores or [None] * len(targets)
        with torch.no_grad():
            lt, lab = zip(*[match(t, priors, self.threshold, ignore=ig) for t, ig in zip(targets, ignores)])
            loc_t, labels = torch.stack(lt), torch.stack(lab)
        pos = labels > 0
        valid = labels >= 0
        n_pos = int(pos.sum())
        loss_l = F.smooth_l1_loss(loc[pos], loc_t[pos], reduction="sum") if n_pos else loc.sum() * 0
        ce = F.cross_entropy(logits.reshape(-1, 2), labels.clamp(min=0).reshape(-1),
                             reduction="none").view_as(labels)
        with torch.no_grad():
            mine = ce.clone()
            mine[pos | ~valid] = -1  # hard negatives come from true background only
            rank = mine.argsort(1, descending=True).argsort(1)
            n_neg = (pos.sum(1, keepdim=True) * self.neg_pos_ratio).clamp(min=self.min_neg, max=labels.shape[1] - 1)
            neg = (rank < n_neg) & ~pos & valid
        denom = max(n_pos, 1)
        loss_c = ce[pos | neg].sum() / denom
        loss_l = loss_l / denom
        total = self.loc_weight * loss_l + loss_c
        return total, {"loc": float(loss_l.detach()), "conf": float(loss_c.detach()), "pos": n_pos / len(targets)}
