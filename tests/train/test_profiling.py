"""Face profiling: frame changes, flips, and landmark/image consistency of synthesised views."""
from __future__ import annotations

import numpy as np

from tddfa.geometry import angles_to_rotation, camera_to_image, pose_from_camera
from tddfa.train.fitting import contour_candidates
from tddfa.train.profiling import (build_scene, crop_similarity, flip_landmarks, flip_roi, inverse_similarity,
                                   profile_targets, reframe_params, render_view, square_roi, to_crop_pixels)


def frontal_params(model, size=256, yaw=0.0):
    """A face ~120 px wide in the middle of a ``size`` image, prior-mean coefficients."""
    s = 120 / 146000
    cam = np.concatenate([s * angles_to_rotation(yaw, 0, 0), [[size / 2 + 1], [size / 2], [0.0]]], axis=1)
    return np.concatenate([cam.ravel(), model.param_mean[12:]]).astype(np.float64)


def coded_face(model, params, size=256, rng=None):
    """Render the face with colours that encode each vertex's model (x, y); noise elsewhere."""
    from tddfa.render.rasterize import rasterize

    v = model.reconstruct(params[None].astype(np.float32))[0]
    pix = np.stack([v[:, 0] - 1, size - v[:, 1], v[:, 2] - 1], axis=1)
    shape = model.shape_model(params[None, 12:])[0]
    lo, hi = shape[:, :2].min(0), shape[:, :2].max(0)
    col = np.concatenate([(shape[:, :2] - lo) / (hi - lo) * 255, np.full((len(v), 1), 128.0)], axis=1)
    buf, depth = rasterize(pix, model.triangles, col, size, size)
    rng = rng or np.random.default_rng(0)
    img = rng.integers(0, 256, (size, size, 3)).astype(np.float32)
    face = np.isfinite(depth)
    img[face] = buf[face]
    decode = lambda c: c[..., :2] / 255 * (hi - lo) + lo  # noqa: E731
    return img.round().astype(np.uint8), shape, decode, float((hi - lo)[0])


def bilinear(img, pts):
    import cv2

    m = pts.astype(np.float32)
    return cv2.remap(img.astype(np.float32), m[:, 0:1], m[:, 1:2], cv2.INTER_LINEAR)[:, 0]


def test_square_roi_is_integer_and_square(rng):
    pts = rng.uniform(50, 200, (5, 68, 2))
    sq = square_roi(pts)
    assert np.all(sq == np.round(sq)) and np.all(sq[:, 2] > 0)


def test_reframe_matches_the_pixel_crop(bfm, rng):
    p = frontal_params(bfm, yaw=20.0)[None]
    pix256 = camera_to_image(bfm.reconstruct(p.astype(np.float32), sparse=True), np.array([[0, 0, 256, 256]]), 256)
    sq = square_roi(pix256[..., :2])
    a, b = crop_similarity(sq, 256)
    pc = reframe_params(p, a, b)
    pix120 = camera_to_image(bfm.reconstruct(pc.astype(np.float32), sparse=True), np.array([[0, 0, 120, 120]]))
    np.testing.assert_allclose(pix120[..., :2], to_crop_pixels(pix256[..., :2], sq), atol=1e-3)
    ai, bi = inverse_similarity(a, b)
    np.testing.assert_allclose(reframe_params(pc, ai, bi), p, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pose_from_camera(pc[:, :12]), pose_from_camera(p[:, :12]), atol=1e-6)


def test_flip_twice_is_identity_and_mirrors_points(rng):
    pts = rng.uniform(0, 119, (4, 68, 2))
    np.testing.assert_allclose(flip_landmarks(flip_landmarks(pts)), pts)
    f = flip_landmarks(pts)
    np.testing.assert_allclose(f[:, 45, 0], 119 - pts[:, 36, 0])  # right eye corner <- left eye corner
    # flipping the source image and its ROI gives the flipped crop coordinates
    sq = np.array([[30.0, 40.0, 181.0]])
    img_pts = rng.uniform(40, 200, (1, 68, 2))
    mirrored = np.stack([255 - img_pts[..., 0], img_pts[..., 1]], axis=-1)
    crop = to_crop_pixels(img_pts, sq)
    np.testing.assert_allclose(to_crop_pixels(mirrored, flip_roi(sq, 256))[..., 0], 119 - crop[..., 0], atol=1e-9)


def test_profile_targets_cover_larger_yaw(rng):
    t = profile_targets(20.0, 5.0, 10, rng)
    assert t.shape == (10, 2)
    assert t[:, 0].min() >= 20.0 and t[:, 0].max() <= 90.0 and t[:, 0].max() > 70.0
    assert np.all(np.abs(t[:, 1] - 5.0) <= 20.0) and np.all(np.abs(t[:, 1]) <= 30.0)


def test_profiled_view_keeps_landmarks_on_their_texture(bfm):
    """Rotate a colour-coded synthetic face by 30 degrees: at each inner landmark of the new view the
    rendered colour must decode to that landmark's own model position."""
    p = frontal_params(bfm)
    img, shape, decode, width = coded_face(bfm, p)
    scene = build_scene(bfm, img, p)
    lines = contour_candidates(bfm)
    R_delta = angles_to_rotation(30.0, 10.0, 0.0)
    crop, params, lm = render_view(bfm, scene, R_delta, lines)
    assert crop.shape == (120, 120, 3) and crop.dtype == np.uint8
    # the params reproject onto the stored landmarks (inner points: no contour sliding)
    inner = np.arange(17, 68)
    proj = camera_to_image(bfm.reconstruct(params[None].astype(np.float32), sparse=True), np.array([[0, 0, 120, 120]]))
    np.testing.assert_allclose(proj[0, inner, :2], lm[inner], atol=1e-3)
    np.testing.assert_allclose(pose_from_camera(params[:12])[:2], [30.0, 10.0], atol=1e-6)
    # texture under the landmarks = the landmarks' own model positions
    got = decode(bilinear(crop, lm[inner]))
    err = np.linalg.norm(got - shape[bfm.keypoints[inner], :2], axis=1) / width
    assert np.median(err) < 0.01, np.median(err)  # measured 0.3 %
    # the un-rotated landmarks sit on the wrong texture: the check can fail
    _, _, lm0 = render_view(bfm, scene, np.eye(3), lines)
    err0 = np.linalg.norm(decode(bilinear(crop, lm0[inner])) - shape[bfm.keypoints[inner], :2], axis=1) / width
    assert np.median(err0) > 3 * np.median(err), (np.median(err0), np.median(err))
