"""Head pose (yaw, pitch, roll in degrees) from the 3x4 camera, in the AFLW2000-3D convention.

Convention (one function pair owns it): the camera's rotation, scale removed, is
``R = Rx(pitch)^T @ Ry(yaw)^T @ Rz(roll)^T`` with the standard right-handed rotation matrices, i.e.
``R^T = Rz(roll) Ry(yaw) Rx(pitch)``. This is AFLW2000-3D's ground truth (checked against ``Pose_Para``,
see docs/FRAMES.md). In the crop's camera frame (x right, y up, z towards the viewer) the angles read:
positive yaw = the face turns towards the image's left, positive pitch = the face looks down,
positive roll = the face tilts clockwise in the image... (signs as AFLW2000-3D's; tested on its images).
"""
from __future__ import annotations

import numpy as np


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def angles_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``(3, 3)`` rotation from angles in degrees: ``Rx(pitch)^T Ry(yaw)^T Rz(roll)^T``."""
    y, p, r = np.radians([yaw, pitch, roll])
    return (_rz(r) @ _ry(y) @ _rx(p)).T


def rotation_to_angles(R: np.ndarray) -> np.ndarray:
    """Angles ``(..., 3)`` = (yaw, pitch, roll) in degrees from rotations ``(..., 3, 3)``.

    Yaw is in [-90, 90]; at |yaw| = 90 (gimbal lock) roll is set to 0 and pitch absorbs the rest.
    """
    R = np.asarray(R, np.float64)
    # R^T = Rz(roll) Ry(yaw) Rx(pitch): R[0,2] = -sin(yaw), R[1,2] = cos(yaw) sin(pitch), R[0,1] = sin(roll) cos(yaw)
    yaw = np.arcsin(np.clip(-R[..., 0, 2], -1.0, 1.0))
    locked = np.abs(R[..., 0, 2]) > 1 - 1e-9
    pitch = np.where(locked, np.arctan2(-R[..., 0, 2] * R[..., 1, 0], R[..., 1, 1]), np.arctan2(R[..., 1, 2], R[..., 2, 2]))
    roll = np.where(locked, 0.0, np.arctan2(R[..., 0, 1], R[..., 0, 0]))
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))


def camera_rotation(cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split cameras ``(..., 3, 4)`` into the nearest rotations ``(..., 3, 3)`` and scales ``(...)``.

    The 3x3 block of a regressed camera is only roughly a scaled rotation; the nearest rotation
    (polar decomposition via SVD) is the least-biased choice.
    """
    M = np.asarray(cam, np.float64)[..., :3, :3]
    U, S, Vt = np.linalg.svd(M)
    d = np.sign(np.linalg.det(U @ Vt))
    U[..., :, 2] *= d[..., None]
    return U @ Vt, S.mean(axis=-1)


def pose_from_camera(cam: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in degrees, ``(..., 3)``, from cameras ``(..., 3, 4)`` or ``(..., 12)``."""
    cam = np.asarray(cam)
    if cam.shape[-1] == 12:
        cam = cam.reshape(cam.shape[:-1] + (3, 4))
    R, _ = camera_rotation(cam)
    return rotation_to_angles(R)
