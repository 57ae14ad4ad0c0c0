"""``tddfa serve``: a local web page and REST service around one shared :class:`tddfa.FaceAligner`
(``pip install "tddfa[web]"``). See docs/serve.md."""
from .limits import Limits, RequestError, probe_image

__all__ = ["Limits", "RequestError", "create_app", "probe_image"]


def __getattr__(name: str):
    if name == "create_app":  # FastAPI is imported only when the app is built
        from .app import create_app

        return create_app
    raise AttributeError(name)
