"""PyTorch networks (training, export and .pth loading only; inference runs on ONNX Runtime)."""
from . import ensemble, faceboxes, mobilenet_v1, mobilenet_v3, resnet  # noqa: F401  (each registers its models)
from .registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
