"""One Euro filter and look-ahead window: properties that any correct implementation has."""
import numpy as np
import pytest

from tddfa.video.filters import OneEuroFilter, window_smooth


def run(f, xs, fps=30.0, **kw):
    return np.array([f(x, i / fps, **kw) for i, x in enumerate(xs)])


def test_constant_passes_through():
    x = np.full((100, 68, 3), 7.25)
    out = run(OneEuroFilter(min_cutoff=1.0, beta=0.5), x)
    np.testing.assert_allclose(out, x)


def test_reduces_noise_on_noisy_constant(rng):
    x = 5.0 + rng.normal(0, 1.0, (600, 4))
    out = run(OneEuroFilter(min_cutoff=1.0, beta=0.0), x)[100:]
    assert out.std(axis=0).max() < 0.5 * x[100:].std(axis=0).min()
    np.testing.assert_allclose(out.mean(axis=0), 5.0, atol=0.3)


def lag_on_ramp(beta, speed=3.0, fps=30.0):
    """Steady-state lag (in frames) of the filter on x = speed * t."""
    t = np.arange(300) / fps
    out = run(OneEuroFilter(min_cutoff=1.0, beta=beta), speed * t, fps)
    return (speed * t[-1] - out[-1]) / (speed / fps)


def test_ramp_lag_bounded_and_shrinks_with_beta():
    # exponential filter at cutoff fc lags a ramp by tau = 1 / (2 pi fc) s: at 1 Hz and 30 fps about 4.8 frames
    lag0 = lag_on_ramp(beta=0.0)
    assert 3.5 < lag0 < 6.0
    lag1 = lag_on_ramp(beta=2.0)
    assert 0 < lag1 < 1.0  # fast motion opens the cutoff: under a frame of lag
    assert lag1 < lag0


def test_speed_override_is_used():
    t = np.arange(100) / 30
    slow = run(OneEuroFilter(1.0, beta=10.0), t * 3, speed=0.0)
    fast = run(OneEuroFilter(1.0, beta=10.0), t * 3, speed=lambda d: np.abs(d))
    assert abs(fast[-1] - t[-1] * 3) < abs(slow[-1] - t[-1] * 3)


def test_restart_on_shape_change_and_repeated_time():
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    np.testing.assert_allclose(f(np.ones(3), 0.0), 0.0)  # same timestamp: state kept
    np.testing.assert_allclose(f(np.ones(4), 0.1), 1.0)  # new shape: restarts


def test_window_smooth_symmetric_no_lag_on_ramp():
    seq = np.arange(20, dtype=float)[:, None] * 2.0
    out = window_smooth(seq, 2, 2)
    np.testing.assert_allclose(out[2:-2], seq[2:-2])  # mean of a symmetric window of a line is the line


def test_window_smooth_skips_invalid(rng):
    seq = rng.normal(size=(10, 3))
    valid = np.ones(10, bool)
    valid[4] = False
    seq_bad = seq.copy()
    seq_bad[4] = 1e6
    out = window_smooth(seq_bad, 1, 1, valid)
    np.testing.assert_allclose(out[3], seq[2:4].mean(0))
    np.testing.assert_allclose(out[4], seq[[3, 5]].mean(0))  # an invalid row takes its valid neighbours' mean


@pytest.mark.parametrize("n_pre,n_next", [(0, 0), (1, 0), (0, 2)])
def test_window_smooth_identity_and_causal(rng, n_pre, n_next):
    seq = rng.normal(size=(12, 2))
    out = window_smooth(seq, n_pre, n_next)
    if n_pre == n_next == 0:
        np.testing.assert_allclose(out, seq)
    t = 6
    np.testing.assert_allclose(out[t], seq[t - n_pre:t + n_next + 1].mean(0))
