"""tddfa: fast, accurate and stable 3D dense face alignment on the CPU."""
from .api import Face, FaceAligner
from .errors import InputError, ModelNotAvailableError, NoFaceError, TddfaError
from .facemodel import FaceModel, load_bfm
from .runtime.registry import list_models

__version__ = "0.1.0"

__all__ = ["FaceAligner", "Face", "FaceModel", "list_models", "load_bfm", "TddfaError", "InputError", "ModelNotAvailableError",
           "NoFaceError", "__version__"]
