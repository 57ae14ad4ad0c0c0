"""The linear 3DMM: its type, reconstruction, provisioning from the registry, and region/UV derivation."""
from .model import N_EXP, N_PARAMS, N_POSE, N_SHAPE, FaceModel, split_params
from .provision import LICENCE_NOTICE, bfm_path, fetch_bfm, load_bfm, load_reference_keypoint_model

__all__ = ["FaceModel", "split_params", "N_PARAMS", "N_POSE", "N_SHAPE", "N_EXP", "load_bfm", "fetch_bfm",
           "bfm_path", "load_reference_keypoint_model", "LICENCE_NOTICE"]
