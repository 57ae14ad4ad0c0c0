"""The API with random arguments: boxes, rois, landmarks and scores of random shapes and values, constructor
options (threads, refine, max_faces, crops, verify), whole images through the detector, and output kinds."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness import assert_no_partial_files
from corpus import seed_image
from tddfa.errors import ModelNotAvailableError, TddfaError, UsageError
from tddfa.io.writers import ALL_KINDS, write_outputs

H, W = 120, 160
IMG = seed_image(H, W)


def no_faces(img):
    return np.zeros((0, 5), np.float32)


@pytest.fixture(scope="module")
def aligner():
    from tddfa import FaceAligner

    try:
        return FaceAligner(detector=no_faces)
    except ModelNotAvailableError as exc:
        pytest.skip(f"default model not available: {exc}")


@pytest.fixture(scope="module")
def detecting(aligner):
    from tddfa import FaceAligner

    return FaceAligner(threads=1, max_faces=3)


coords = st.one_of(st.floats(-2 * W, 3 * W), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, 1.0, -1.0, float(W), float(H), 1e30, -1e30]))


def arrays_of(last: list[int]):
    """Arrays whose shape mostly fits (N, ..., last) and sometimes anything, with random coordinates."""
    fitting = st.integers(0, 3).flatmap(lambda n: st.sampled_from(last).flatmap(
        lambda k: hnp.arrays(np.float64, (n, k), elements=coords)))
    anything = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
                          elements=coords)
    return st.one_of(fitting, anything, st.none(), st.just([]), st.lists(coords, max_size=6))


@st.composite
def good_boxes(draw):
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        x1 = draw(st.floats(-W, W - 2))
        y1 = draw(st.floats(-H, H - 2))
        out.append([x1, y1, draw(st.floats(max(x1 + 1, 1), 2 * W)), draw(st.floats(max(y1 + 1, 1), 2 * H))])
    return np.array(out)


landmarks = st.one_of(
    st.integers(0, 2).flatmap(lambda n: hnp.arrays(np.float64, (n, 68, 2), elements=st.floats(-W, 2 * W))),
    hnp.arrays(np.float64, st.sampled_from([(68, 2), (68, 3), (5, 2), (1, 68, 2), (2, 5, 2), (68,)]),
               elements=coords),
    st.none())


def check_faces(out, n_expected=None):
    if isinstance(out, TddfaError):
        return
    assert isinstance(out, list)
    if n_expected is not None:
        assert len(out) == n_expected
    for f in out:
        assert f.landmarks_3d.shape == (68, 3) and np.isfinite(f.landmarks_3d).all()
        assert np.isfinite(f.params).all() and np.isfinite(f.pose).all()


def test_align_arguments(fuzz, aligner):
    @fuzz.settings(0.25)
    @given(boxes=st.one_of(good_boxes(), arrays_of([4, 3, 5])), rois=st.one_of(st.none(), arrays_of([4])),
           lms=landmarks, scores=st.one_of(st.none(), arrays_of([1])))
    def run(boxes, rois, lms, scores):
        out = fuzz.expect(aligner.align, IMG, boxes=boxes, rois=rois, landmarks=lms, scores=scores)
        if boxes is None and rois is None and lms is None:
            assert isinstance(out, UsageError)
        check_faces(out)

    run()


def test_valid_boxes_give_one_face_each(fuzz, aligner):
    @fuzz.settings(0.05)
    @given(good_boxes())
    def run(boxes):
        check_faces(fuzz.expect(aligner.align, IMG, boxes=boxes), n_expected=len(boxes))

    run()


options = st.one_of(st.integers(-3, 4), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3),
                    st.sampled_from(["auto", 0.05, 1.5]))


def test_constructor_arguments(fuzz):
    from tddfa import FaceAligner

    @fuzz.settings(0.04)
    @given(threads=options, refine=options, max_faces=options, crops=options, verify=options)
    def run(threads, refine, max_faces, crops, verify):
        out = fuzz.expect(FaceAligner, detector=no_faces, threads=threads, refine=refine, max_faces=max_faces,
                          crops=crops, verify=verify)
        assert isinstance(out, (FaceAligner, UsageError, ModelNotAvailableError))

    run()


def test_whole_images(fuzz, detecting):
    @fuzz.settings(0.05)
    @given(h=st.integers(1, 300), w=st.integers(1, 300), channels=st.sampled_from([None, 1, 3, 4]),
           dtype=st.sampled_from([np.uint8, np.uint16, np.float32]), seed=st.integers(0, 3))
    def run(h, w, channels, dtype, seed):
        img = seed_image(h, w, seed=seed)
        img = img[..., 0] if channels is None else np.resize(img, (h, w, channels))
        img = img.astype(np.float32) / 255 if dtype == np.float32 else img.astype(dtype) * (257 if dtype == np.uint16 else 1)
        check_faces(fuzz.expect(detecting, img))

    run()


def test_output_kinds(fuzz, aligner, tmp_path_factory):
    faces = aligner.align(IMG, boxes=[[30, 20, 110, 100]])

    @fuzz.settings(0.03)
    @given(kinds=st.lists(st.sampled_from(list(ALL_KINDS) + ["hologram", "", "JSON"]), max_size=4),
           n_faces=st.integers(0, 1))
    def run(kinds, n_faces):
        out = tmp_path_factory.mktemp("kinds")
        res = fuzz.expect(write_outputs, kinds, IMG, faces[:n_faces], aligner.face_model, out, "img",
                          image_name="img.jpg", input_size=aligner.spec.input_size)
        if any(k not in ALL_KINDS for k in kinds):
            assert isinstance(res, UsageError) and not any(out.iterdir())  # refused before writing
        assert_no_partial_files(out)

    run()
