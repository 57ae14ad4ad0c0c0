"""A timm-style registry: a name resolves to a constructor of a network that emits 62 values."""
from __future__ import annotations

from typing import Callable

_REGISTRY: dict[str, Callable] = {}


def register_model(name: str) -> Callable[[Callable], Callable]:
    def deco(fn: Callable) -> Callable:
        _REGISTRY[name] = fn
        return fn
    return deco


def create_model(name: str, **kwargs):
    """Build a registered network (``mb1``, ``mb05``, ``mobilenet_v3``, ``resnet22``, ...)."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown network {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kwargs)


def list_models() -> list[str]:
    return sorted(_REGISTRY)
