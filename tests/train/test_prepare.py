"""Cached training data: format, label consistency, flips, profiles, clips (synthetic and 300W)."""
from __future__ import annotations

import numpy as np
import pytest

from tddfa.geometry import angles_to_rotation, camera_to_image, pose_from_camera
from tddfa.train import data_format as fmt
from tddfa.train.fitting import FitConfig, contour_candidates, project_landmarks
from tddfa.train.prepare import load_300w, real_samples
from tddfa.train.profiling import profile_dataset, video_dataset

ROI120 = np.array([[0, 0, 120, 120]])


def synthetic_faces(model, n, rng, size=256):
    """Noise images with model-projected landmarks of random faces (~120 px wide) in a 256 frame."""
    p = np.zeros((n, 62))
    for i in range(n):
        R = angles_to_rotation(rng.uniform(-30, 30), rng.uniform(-10, 10), rng.uniform(-10, 10))
        cam = np.concatenate([120 / 146000 * R, [[size / 2 + 1], [size / 2], [0.0]]], axis=1)
        p[i] = np.concatenate([cam.ravel(), model.param_mean[12:] + 0.5 * model.param_std[12:] * rng.standard_normal(50)])
    cam_pts = project_landmarks(model, p)
    pts = np.stack([cam_pts[..., 0] - 1, size - cam_pts[..., 1]], axis=-1)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return images, pts


def reprojection_nme(model, d, points=np.arange(17, 68)):
    proj = camera_to_image(model.reconstruct(d["params"], sparse=True), np.repeat(ROI120, len(d["params"]), 0))
    wh = np.ptp(d["landmarks"], axis=1)
    err = np.linalg.norm(proj[:, points, :2] - d["landmarks"][:, points], axis=2).mean(axis=1)
    return err / np.sqrt(wh[:, 0] * wh[:, 1])


@pytest.fixture(scope="module")
def synthetic(bfm):
    rng = np.random.default_rng(1)
    images, pts = synthetic_faces(bfm, 3, rng)
    d = real_samples(bfm, images, pts, np.arange(3), FitConfig(), contour_candidates(bfm))
    return images, pts, d


def test_real_samples_format_and_labels(bfm, synthetic):
    images, pts, d = synthetic
    assert fmt.validate(d) == 6
    assert set(d) == set(fmt.KEYS)
    assert list(d["kind"]) == ["real"] * 3 + ["flip"] * 3
    np.testing.assert_array_equal(d["source"], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(d["images"][3:], d["images"][:3, :, ::-1])  # flips mirror the crops
    assert np.all(d["params"][:, 11] == bfm.param_mean[11])
    # labels are consistent: params reproject onto the landmarks, and the fit residual is small
    assert reprojection_nme(bfm, d).max() < 0.02
    assert d["fit_nme"].max() < 0.02
    # flipped faces have the opposite yaw
    yaw = pose_from_camera(d["params"][:, :12])[:, 0]
    np.testing.assert_allclose(yaw[3:], -yaw[:3], atol=3.0)


def test_save_load_roundtrip(tmp_path, synthetic):
    d = synthetic[2]
    path = fmt.save_npz(tmp_path / "train.npz", d)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.npz"]  # no temp file left
    back = fmt.load_npz(path)
    assert fmt.validate(back) == len(d["images"])
    for k in fmt.KEYS:
        np.testing.assert_array_equal(back[k], d[k])


def test_validate_rejects_bad_arrays(synthetic):
    d = dict(synthetic[2])
    with pytest.raises(ValueError):
        fmt.validate({**d, "extra": d["source"]})
    with pytest.raises(ValueError):
        fmt.validate({**d, "params": d["params"].astype(np.float64)})


def test_profiles_and_clips(bfm, synthetic):
    images, pts, d = synthetic
    prof = profile_dataset(bfm, images, pts, d, 4)
    assert fmt.validate(prof) == 12
    assert set(prof["kind"]) <= {"profile", "profile_flip"}
    assert (prof["kind"] == "profile").sum() == 6
    assert reprojection_nme(bfm, prof).max() < 1e-3  # synthesised: landmarks are the model's projections
    yaw = np.abs(pose_from_camera(prof["params"][:, :12])[:, 0])
    assert yaw.max() > 60
    vid = video_dataset(bfm, images, pts, d, 1, 3)
    assert fmt.validate_video(vid) == (3, 3)
    pose = pose_from_camera(vid["params"][..., :12])
    step = np.abs(np.diff(pose, axis=1))
    assert step.max() < 15.0  # small motions between consecutive frames
    assert np.abs(np.diff(vid["images"].astype(np.int16), axis=1)).mean() > 1  # but they do move


def test_300w_subset(bfm, shared_data):
    data = load_300w(shared_data, indices=np.array([0, 1000, 2500]))
    assert data["images"].shape == (3, 256, 256, 3)
    d = real_samples(bfm, data["images"], data["pts"], np.array([0, 1000, 2500]), FitConfig(),
                     contour_candidates(bfm))
    assert fmt.validate(d) == 6
    assert np.median(d["fit_nme"]) < 0.04
    assert reprojection_nme(bfm, d).max() < 0.06


def test_cli_registers_prepare_data(monkeypatch):
    from tddfa.cli import build_parser

    monkeypatch.delenv("TDDFA_DATA", raising=False)
    args = build_parser().parse_args(["prepare-data", "--data", "d", "--out", "x", "--profiles", "0"])
    assert args.profiles == 0 and args.out == "x" and args.data == "d" and callable(args.func)
    with pytest.raises(SystemExit):  # no built-in data folder: --data or TDDFA_DATA
        build_parser().parse_args(["prepare-data"])
    monkeypatch.setenv("TDDFA_DATA", "/data")
    assert build_parser().parse_args(["prepare-data"]).data == "/data"
    assert build_parser().parse_args(["eval", "aflw2000"]).data == "/data/aflw2000-3d"


def test_more_profiles_adds_a_new_draw_of_views(bfm, shared_data, tmp_path):
    """``--more-profiles train`` re-profiles the real faces of an existing train.npz with another seed."""
    from tddfa.train.prepare import more_profiles

    idx = np.array([0, 1000])
    data = load_300w(shared_data, indices=idx)
    base = real_samples(bfm, data["images"], data["pts"], idx, FitConfig(), contour_candidates(bfm))
    fmt.save_npz(tmp_path / "train.npz", base)
    path = more_profiles(shared_data, tmp_path, profiles=2, seed=5, split="train", log=lambda m: None)
    assert path.name == "profiles_s5.npz"
    with np.load(path) as z:
        prof = {k: z[k] for k in z.files}
    assert fmt.validate(prof) == 4 and set(prof["source"]) == set(idx)
    yaw = np.abs(pose_from_camera(prof["params"][:, :12])[:, 0])
    assert yaw.max() > np.abs(pose_from_camera(base["params"][:, :12])[:, 0]).max()


def test_more_profiles_rejects_an_unknown_split(shared_data, tmp_path):
    from tddfa.errors import InputError
    from tddfa.train.prepare import more_profiles

    with pytest.raises(InputError, match="split"):
        more_profiles(shared_data, tmp_path, profiles=1, seed=0, split="val", log=lambda m: None)
