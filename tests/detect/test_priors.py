import numpy as np
import pytest

from tddfa.detect.priors import num_priors, prior_boxes, priors_for


def _loop_priors(h, w, fine=False):
    """Independent, literal implementation of the FaceBoxes anchor layout (``fine``: plus the stride-16 source)."""
    out = []
    layout = [(32, ((32, 4), (64, 2), (128, 1))), (64, ((256, 1),)), (128, ((512, 1),))]
    for step, sizes in layout + ([(16, ((16, 2), (32, 1)))] if fine else []):
        fh, fw = int(np.ceil(h / step)), int(np.ceil(w / step))
        for i in range(fh):
            for j in range(fw):
                for s, d in sizes:
                    offs = [k / d for k in range(d)] if d > 1 else [0.5]
                    for oy in offs:
                        for ox in offs:
                            out.append([(j + ox) * step / w, (i + oy) * step / h, s / w, s / h])
    return np.array(out, np.float32)


@pytest.mark.parametrize("hw", [(32, 32), (100, 37), (37, 100), (720, 1080), (1, 1), (257, 129)])
@pytest.mark.parametrize("fine", [False, True])
def test_priors_match_literal_layout(hw, fine):
    p = prior_boxes(*hw, fine=fine)
    ref = _loop_priors(*hw, fine=fine)
    assert p.shape == ref.shape == (num_priors(*hw, fine=fine), 4)
    np.testing.assert_allclose(p, ref, rtol=1e-6, atol=1e-7)


def test_fine_layout_appends_and_priors_for_picks_it_by_count():
    plain, fine = prior_boxes(96, 160), prior_boxes(96, 160, fine=True)
    assert len(fine) == len(plain) + 5 * 6 * 10 and np.array_equal(fine[: len(plain)], plain)
    assert priors_for(96, 160, len(plain)) is plain and priors_for(96, 160, len(fine)) is fine
    with pytest.raises(ValueError, match="no FaceBoxes layout"):
        priors_for(96, 160, len(plain) + 1)


def test_priors_cached_and_read_only():
    a = prior_boxes(480, 640)
    assert prior_boxes(480, 640) is a
    with pytest.raises(ValueError):
        a[0, 0] = 1.0


def test_priors_reject_bad_size():
    with pytest.raises(ValueError):
        prior_boxes(0, 10)
