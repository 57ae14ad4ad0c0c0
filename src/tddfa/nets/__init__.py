"""PyTorch networks (training, export and .pth loading only; inference runs on ONNX Runtime)."""
from . import mobilenet_v1  # noqa: F401  (registers mb1, mb05)
from . import ensemble  # noqa: F401  (registers mb1+mb05)
from .registry import create_model, list_models, register_model

for _optional in ("mobilenet_v3", "resnet", "faceboxes"):
    try:
        __import__(f"{__name__}.{_optional}")
    except ImportError:  # module not written yet
        pass

__all__ = ["create_model", "list_models", "register_model"]
