import numpy as np
import pytest

from tddfa.geometry import angles_to_rotation, camera_rotation, pose_from_camera, rotation_to_angles


@pytest.mark.parametrize("seed", range(5))
def test_round_trip(seed):
    rng = np.random.default_rng(seed)
    ang = np.column_stack([rng.uniform(-89, 89, 50), rng.uniform(-179, 179, 50), rng.uniform(-179, 179, 50)])
    R = np.stack([angles_to_rotation(*a) for a in ang])
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(rotation_to_angles(R), ang, atol=1e-8)


def test_gimbal_lock_keeps_the_rotation():
    for yaw in (90.0, -90.0):
        R = angles_to_rotation(yaw, 25.0, 0.0)
        np.testing.assert_allclose(angles_to_rotation(*rotation_to_angles(R)), R, atol=1e-9)


def test_pose_ignores_scale_and_translation():
    R = angles_to_rotation(30, -10, 5)
    cam = np.concatenate([1e-3 * R, np.array([[60.0], [50.0], [3.0]])], axis=1)
    np.testing.assert_allclose(pose_from_camera(cam.reshape(12)), [30, -10, 5], atol=1e-6)
    Rn, s = camera_rotation(cam)
    np.testing.assert_allclose(Rn, R, atol=1e-9)
    assert abs(s - 1e-3) < 1e-12


def test_convention_matches_aflw2000_ground_truth(shared_data, bfm):
    """Projecting the BFM mean landmarks with s * R(Pose_Para) X + t, R in our convention, lands on the
    ground-truth 68 points (the residual is identity and expression, which the mean shape lacks)."""
    z = np.load(shared_data / "aflw2000-3d" / "annotations.npz")
    X = bfm.mean[bfm.keypoints].astype(np.float64)  # (68, 3)
    dists = []
    for i in range(0, 2000, 10):
        pitch, yaw, roll, tx, ty, _, s = z["pose_para"][i]
        R = angles_to_rotation(*np.degrees([yaw, pitch, roll]))
        p = s * X @ R.T + [tx, ty, 0]
        proj = np.stack([p[:, 0], 451 - p[:, 1]], 1)  # ty is measured upwards from the bottom
        dists.append(np.median(np.linalg.norm(proj - z["pts68"][i, :2].T, axis=1)))
    assert np.median(dists) < 8  # a transposed (wrong) convention gives ~110 px
