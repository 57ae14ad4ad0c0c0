"""Training losses for the 62-parameter regressor (PyTorch).

All losses take *raw* (un-whitened) parameters ``(N, 62)`` in the camera frame of the 120x120 crop and
measure errors in crop pixels, averaged over a vertex subset (``V`` points: the 68 keypoints plus a
regular sample of the dense face), so that their scales are comparable:

* **VDC** (vertex distance cost, 3DDFA): ``mean_v |X_v(p) - X_v(p_gt)|^2``.
* **WPDC** (weighted parameter distance cost, 3DDFA v1): ``sum_i w_i (o_i - o_gt_i)^2`` on the whitened
  outputs ``o``, with ``w_i = |X(p_gt with p_i := p_pred_i) - X(p_gt)|`` (the vertex error that parameter
  alone would cause), normalised by the largest weight of the sample and detached.
* **fWPDC** (3DDFA_V2, Sec. 3.1): the vertex error that each parameter alone would cause, squared and summed,
  ``sum_i (g_i * (p_i - p_gt_i))^2 / V`` with ``g_i = |dX/dp_i|`` at the ground truth. ``X`` is affine in each
  single parameter, so ``g_i`` is exact, and it has a closed form from 3x3 Gram matrices of the basis that
  is precomputed once: no per-parameter reconstruction (the slow part of WPDC). When only one parameter
  is wrong fWPDC equals VDC; it ignores the cross terms, which is what makes it easy to optimise early.
* **meta-joint** (3DDFA_V2, Sec. 3.1): every ``k`` steps, take a one-step SGD look-ahead with each of
  fWPDC and VDC on half the batch, score both on the other half with VDC, and train with the winner.
* **landmark branch**: the auxiliary ``fc_lm`` head (68 x 2, crop coordinates scaled to [-1, 1]) against the
  crop landmarks; returned in pixels^2 like the others.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..facemodel import FaceModel

N_POSE, N_ALPHA = 12, 50


def vertex_subset(fm: FaceModel, step: int = 10) -> np.ndarray:
    """Indices of the loss vertices: the 68 keypoints first, then every ``step``-th dense vertex."""
    dense = np.arange(0, fm.n_vertices, max(int(step), 1))
    return np.concatenate([fm.keypoints, np.setdiff1d(dense, fm.keypoints)]).astype(np.int64)


class VertexModel(nn.Module):
    """The 3DMM on a vertex subset as torch buffers, plus the Gram terms that fWPDC needs.

    ``mean`` ``(V, 3)``, ``basis`` ``(V, 3, 50)``; ``reconstruct(p (N, 62)) -> (N, V, 3)`` camera frame.
    The first 68 vertices are the keypoints when built by :meth:`from_face_model` with the default subset.
    """

    def __init__(self, mean: np.ndarray, basis: np.ndarray):
        super().__init__()
        mean = np.asarray(mean, np.float64)
        basis = np.asarray(basis, np.float64).reshape(mean.shape[0], 3, N_ALPHA)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("basis", torch.as_tensor(basis, dtype=torch.float32))
        # closed forms of |dX/dp| (float64 while summing over vertices, then float32):
        #   |B_k M^T|_F^2 = sum(M * (M @ G_k)) with G_k = B_k^T B_k  (B_k the (V,3) column of alpha_k)
        #   |S_c|^2 = mm_c + 2 alpha . cross_c + alpha^T H_c alpha  with S = mean + B alpha
        self.register_buffer("gram", torch.as_tensor(np.einsum("vik,vjk->kij", basis, basis), dtype=torch.float32))
        self.register_buffer("mm", torch.as_tensor((mean ** 2).sum(0), dtype=torch.float32))
        self.register_buffer("cross", torch.as_tensor(np.einsum("vc,vck->ck", mean, basis), dtype=torch.float32))
        self.register_buffer("hess", torch.as_tensor(np.einsum("vck,vcl->ckl", basis, basis), dtype=torch.float32))

    @classmethod
    def from_face_model(cls, fm: FaceModel, indices: np.ndarray | None = None) -> "VertexModel":
        idx = vertex_subset(fm) if indices is None else np.asarray(indices, np.int64)
        basis = fm.basis.reshape(fm.n_vertices, 3, N_ALPHA)[idx]
        return cls(fm.mean[idx], basis)

    def save(self, path) -> None:
        """Write ``mean`` and ``basis`` (a few MB) so a machine without the BFM can train (``vertex_model``)."""
        np.savez_compressed(path, mean=self.mean.cpu().numpy(), basis=self.basis.cpu().numpy())

    @classmethod
    def load(cls, path) -> "VertexModel":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["basis"])

    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    def reconstruct(self, p: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """``(N, 62)`` -> ``(N, V, 3)`` (only the first ``n`` vertices if given)."""
        mean, basis = (self.mean, self.basis) if n is None else (self.mean[:n], self.basis[:n])
        cam = p[:, :N_POSE].reshape(-1, 3, 4)
        shape = mean + torch.einsum("vck,nk->nvc", basis, p[:, N_POSE:])
        return shape @ cam[:, :, :3].transpose(1, 2) + cam[:, None, :, 3]

    def sensitivity(self, p: torch.Tensor) -> torch.Tensor:
        """``|dX/dp_i|`` (Frobenius norm over the V x 3 vertex coordinates) at ``p`` ``(N, 62)`` -> ``(N, 62)``."""
        n = p.shape[0]
        m = p[:, :N_POSE].reshape(n, 3, 4)[:, :, :3]
        alpha = p[:, N_POSE:]
        s2 = self.mm + 2 * alpha @ self.cross.T + torch.einsum("nk,ckl,nl->nc", alpha, self.hess, alpha)  # (N, 3)
        g_rot = s2.clamp_min(0).sqrt()  # column c of P touches every vertex's coordinate r by S_c
        g_t = torch.full((n, 1), float(self.n_vertices) ** 0.5, dtype=p.dtype, device=p.device)
        g_pose = torch.cat([g_rot, g_t], 1).repeat(1, 3)  # row-major 3x4 -> same for each row
        mg = torch.einsum("nij,kjl->nkil", m, self.gram)  # (N, 50, 3, 3) = M @ G_k
        g_alpha = (mg * m[:, None]).sum((2, 3)).clamp_min(0).sqrt()
        return torch.cat([g_pose, g_alpha], 1)


def vdc(pred: torch.Tensor, gt: torch.Tensor, vm: VertexModel) -> torch.Tensor:
    """Vertex distance cost: mean over batch and vertices of the squared 3D distance (crop pixels^2)."""
    return (vm.reconstruct(pred) - vm.reconstruct(gt)).pow(2).sum(-1).mean()


def fwpdc(pred: torch.Tensor, gt: torch.Tensor, vm: VertexModel) -> torch.Tensor:
    """Fast WPDC: ``sum_i (|dX/dp_i| (p_i - p_gt_i))^2 / V``, weights at the ground truth (no gradient)."""
    with torch.no_grad():
        g = vm.sensitivity(gt)
    return ((g * (pred - gt)).pow(2).sum(1) / vm.n_vertices).mean()


def wpdc(pred: torch.Tensor, gt: torch.Tensor, vm: VertexModel, param_std: torch.Tensor) -> torch.Tensor:
    """3DDFA v1's WPDC on whitened differences; weights = vertex error of each parameter alone / max."""
    with torch.no_grad():
        w = vm.sensitivity(gt) * (pred - gt).abs()
        w = w / w.amax(1, keepdim=True).clamp_min(1e-8)
    return (w * ((pred - gt) / param_std).pow(2)).sum(1).mean()


def landmark_loss(lm: torch.Tensor, target: torch.Tensor, size: int = 120) -> torch.Tensor:
    """``fc_lm`` output ``(N, 136)`` (x, y pairs scaled by ``p / (size/2) - 1``) vs crop pixels ``(N, 68, 2)``.

    Mean squared point distance in crop pixels^2.
    """
    half = size / 2
    return ((lm.reshape(-1, 68, 2) + 1) * half - target).pow(2).sum(-1).mean()


def landmarks_to_branch(target: torch.Tensor, size: int = 120) -> torch.Tensor:
    """Inverse of the scaling used by :func:`landmark_loss`: crop pixels ``(N, 68, 2)`` -> ``(N, 136)``."""
    return (target / (size / 2) - 1).reshape(target.shape[0], -1)


def nme_68(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-face NME (%) of ``(N, 68, 2)`` points, normalised by ``sqrt(w*h)`` of the ground-truth box."""
    wh = gt.max(1) - gt.min(1)
    norm = np.sqrt(np.maximum(wh[:, 0] * wh[:, 1], 1e-6))
    return 100 * np.linalg.norm(pred - gt, axis=-1).mean(-1) / norm


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class MetaJoint:
    """Chooses between fWPDC and VDC with a one-step look-ahead (3DDFA_V2's meta-joint optimisation).

    ``choose(model, unwhiten, x, y)`` splits the batch into meta-train / meta-test halves, applies one
    look-ahead step (SGD, or sign-SGD to mimic Adam) of each candidate loss to the weights, scores the
    meta-test half with VDC, restores the weights and buffers, and returns the name of the winner. Called
    every ``every`` steps (a look-ahead costs about 1.3 training steps); the choice holds in between.
    """

    def __init__(self, losses: dict[str, LossFn], judge: LossFn, lr: float, every: int = 10,
                 lookahead: str = "sgd"):
        if lookahead not in ("sgd", "sign"):
            raise ValueError(f"lookahead must be 'sgd' or 'sign', not {lookahead!r}")
        self.losses, self.judge, self.lr, self.every = losses, judge, float(lr), max(int(every), 1)
        self.lookahead = lookahead
        self.current = next(iter(losses))
        self.history: dict[str, int] = {k: 0 for k in losses}

    def step(self, it: int, model: nn.Module, unwhiten: Callable[[torch.Tensor], torch.Tensor],
             x: torch.Tensor, y: torch.Tensor) -> str:
        if it % self.every == 0 and x.shape[0] >= 4:
            self.current = self.choose(model, unwhiten, x, y)
        self.history[self.current] += 1
        return self.current

    def choose(self, model: nn.Module, unwhiten: Callable[[torch.Tensor], torch.Tensor],
               x: torch.Tensor, y: torch.Tensor) -> str:
        h = x.shape[0] // 2
        params = [p for p in model.parameters() if p.requires_grad]
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        scores = {}
        try:
            for name, fn in self.losses.items():
                loss = fn(unwhiten(model(x[:h])), y[:h])
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        if g is not None:
                            # "sign" mimics an Adam step (each weight moves ~lr), so the losses' scales don't matter
                            p.sub_(self.lr * (g.sign() if self.lookahead == "sign" else g))
                    scores[name] = float(self.judge(unwhiten(model(x[h:])), y[h:]))
                model.load_state_dict(saved)
        finally:
            model.load_state_dict(saved)
        return min(scores, key=scores.get)
