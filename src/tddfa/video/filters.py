"""Temporal smoothers for per-frame arrays (landmarks, parameters, ROIs).

* :class:`OneEuroFilter` (Casiez et al., CHI 2012): causal, an exponential low-pass whose cutoff rises with the
  signal's speed, so slow jitter is removed while fast motion passes with little lag. Live use (webcam) and default.
* :func:`window_smooth`: the offline look-ahead mean over ``[t - n_pre, t + n_next]`` (3DDFA_V2's ``n_pre``/``n_next``);
  symmetric windows add no lag but need ``n_next`` future frames.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray:
    """Smoothing factor of an exponential filter with ``cutoff`` Hz at sample interval ``dt`` s."""
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over arrays of any fixed shape.

    Args:
        min_cutoff: cutoff (Hz) at zero speed: lower removes more jitter from still faces.
        beta: how fast the cutoff rises with speed (Hz per unit of speed): higher follows fast motion more closely.
        d_cutoff: cutoff (Hz) of the low-pass on the derivative.

    ``__call__(x, t, speed=None)``: ``x`` an array, ``t`` the time in seconds. The speed that opens the cutoff is
    ``|dx/dt|`` per element unless ``speed`` is given (an array broadcastable to ``x``, or a function of the filtered
    derivative returning one): a speed in scale-free units (e.g. face sizes per second) lets one ``beta`` suit faces
    of every size and every channel.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def reset(self) -> None:
        self.x = self.dx = self.t = None

    def __call__(self, x: np.ndarray, t: float, speed=None) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.x is None or self.t is None or x.shape != self.x.shape:
            self.x, self.dx, self.t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self.t
        if dt <= 0:  # repeated or out-of-order timestamp: keep the state
            return self.x.copy()
        dx = (x - self.x) / dt
        self.dx = self.dx + _alpha(self.d_cutoff, dt) * (dx - self.dx)
        if speed is None:
            v = np.abs(self.dx)
        else:
            v = np.asarray(speed(self.dx) if callable(speed) else speed, np.float64)
        a = _alpha(self.min_cutoff + self.beta * v, dt)
        self.x = self.x + a * (x - self.x)
        self.t = float(t)
        return self.x.copy()

    def derivative(self) -> np.ndarray | None:
        """The filtered derivative (units of ``x`` per second), or None before the second sample."""
        return None if self.dx is None else self.dx.copy()


def window_smooth(seq: np.ndarray, n_pre: int, n_next: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Mean over the window ``[t - n_pre, t + n_next]`` of ``seq`` ``(T, ...)``, ignoring rows where ``valid`` is False.

    Rows with no valid neighbour keep their own value. Shapes: ``seq (T, ...)``, ``valid (T,)`` bool.
    """
    seq = np.asarray(seq, np.float64)
    t_len = seq.shape[0]
    ok = np.ones(t_len, bool) if valid is None else np.asarray(valid, bool)
    flat = seq.reshape(t_len, -1) * ok[:, None]
    csum = np.concatenate([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
    ccount = np.concatenate([[0], np.cumsum(ok)])
    lo = np.clip(np.arange(t_len) - n_pre, 0, t_len)
    hi = np.clip(np.arange(t_len) + n_next + 1, 0, t_len)
    count = (ccount[hi] - ccount[lo])[:, None]
    out = np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), seq.reshape(t_len, -1))
    return out.reshape(seq.shape)
