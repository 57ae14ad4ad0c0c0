import numpy as np
import pytest

from tddfa.detect.priors import num_priors, prior_boxes


def _loop_priors(h, w):
    """Independent, literal implementation of the FaceBoxes anchor layout."""
    out = []
    for step, sizes in zip((32, 64, 128), ((32, 64, 128), (256,), (512,))):
        fh, fw = int(np.ceil(h / step)), int(np.ceil(w / step))
        for i in range(fh):
            for j in range(fw):
                for s in sizes:
                    d = {32: 4, 64: 2}.get(s, 1)
                    offs = [k / d for k in range(d)] if d > 1 else [0.5]
                    for oy in offs:
                        for ox in offs:
                            out.append([(j + ox) * step / w, (i + oy) * step / h, s / w, s / h])
    return np.array(out, np.float32)


@pytest.mark.parametrize("hw", [(32, 32), (100, 37), (37, 100), (720, 1080), (1, 1), (257, 129)])
def test_priors_match_literal_layout(hw):
    p = prior_boxes(*hw)
    ref = _loop_priors(*hw)
    assert p.shape == ref.shape == (num_priors(*hw), 4)
    np.testing.assert_allclose(p, ref, rtol=1e-6, atol=1e-7)


def test_priors_cached_and_read_only():
    a = prior_boxes(480, 640)
    assert prior_boxes(480, 640) is a
    with pytest.raises(ValueError):
        a[0, 0] = 1.0


def test_priors_reject_bad_size():
    with pytest.raises(ValueError):
        prior_boxes(0, 10)
