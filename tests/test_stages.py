"""The stage functions the aligner, the tracker and the benchmarks share."""
from pathlib import Path

import numpy as np
import pytest

from tddfa.geometry.camera import camera_to_image
from tddfa.io.images import read_image

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg"
ROI = np.array([[150.0, 40.0, 320.0, 210.0]])


@pytest.fixture(scope="module")
def aligner():
    from tddfa import FaceAligner

    return FaceAligner(detector=lambda im: np.zeros((0, 5)))


def test_reconstruct_is_the_model_then_the_crop_to_image_mapping(bfm):
    from tddfa.reconstruct import reconstruct

    rng = np.random.default_rng(0)
    params = (bfm.param_mean + rng.normal(0, 1, (2, 62)) * bfm.param_std * 0.3).astype(np.float32)
    rois = np.array([[10.0, 20.0, 130.0, 140.0], [0.0, 0.0, 60.0, 60.0]])
    sparse = reconstruct(bfm, params, rois)
    assert sparse.shape == (2, 68, 3)
    np.testing.assert_allclose(sparse, camera_to_image(bfm.reconstruct(params, sparse=True), rois), rtol=1e-6)
    dense = reconstruct(bfm, params, rois, sparse=False)
    assert dense.shape == (2, bfm.n_vertices, 3)
    np.testing.assert_allclose(dense[:, bfm.keypoints], sparse, rtol=1e-5, atol=1e-3)


def test_aligner_faces_are_the_stage_functions(bfm, aligner):
    from tddfa.face import faces_from_params
    from tddfa.stages import regress_mirrored

    img = read_image(EXAMPLE)
    face = aligner.align(img, rois=ROI)[0]
    assert aligner.flip  # the default with one crop
    params = regress_mirrored(aligner.regressor, aligner.face_model, img, ROI)
    np.testing.assert_allclose(face.params, params[0], rtol=1e-6)
    again = faces_from_params(aligner.face_model, params, ROI)[0]
    np.testing.assert_allclose(face.landmarks_3d, again.landmarks_3d, rtol=1e-6)
    np.testing.assert_allclose(face.vertices, again.vertices, rtol=1e-6)


def test_regress_with_recrop_agrees_on_a_face_and_not_on_noise(aligner):
    from tddfa.geometry.consistency import tracking_signals
    from tddfa.stages import regress_with_recrop

    img = read_image(EXAMPLE)
    _, lm, lm2 = regress_with_recrop(aligner.regressor, aligner.face_model, img, ROI)
    face = tracking_signals(lm[..., :2], ROI, lm2[..., :2])["disagreement"][0]
    noise = np.random.default_rng(0).integers(0, 255, img.shape, dtype=np.uint8)
    _, lm, lm2 = regress_with_recrop(aligner.regressor, aligner.face_model, noise, ROI)
    assert face < tracking_signals(lm[..., :2], ROI, lm2[..., :2])["disagreement"][0]


def test_keep_detections_drops_degenerate_boxes_and_keeps_the_largest():
    from tddfa.stages import keep_detections

    dets = np.array([[0, 0, 10, 10, 0.9], [5, 5, 5, 9, 0.9], [0, 0, 50, 50, 0.8], [0, 0, 30, 30, 0.7]], np.float32)
    kept = keep_detections(dets, (100, 100, 3), max_faces=2)
    np.testing.assert_array_equal(kept[:, 2], [50, 30])
