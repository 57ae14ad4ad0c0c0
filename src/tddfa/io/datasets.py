"""Where the data packs live: ``$TDDFA_DATA/<pack>`` (``300w``, ``aflw2000-3d``, ``afw-scenes``, ``videos``, ...).

No default path is built in: without the variable, the commands that need a pack ask for it (``--data``)."""
from __future__ import annotations

import os

DATA_ENV = "TDDFA_DATA"


def data_root() -> str | None:
    """``$TDDFA_DATA``, or None when it is not set."""
    return os.environ.get(DATA_ENV) or None


def data_pack(pack: str = "") -> str | None:
    """``$TDDFA_DATA/<pack>`` (the root itself for ``""``), or None when the variable is not set."""
    root = data_root()
    return (os.path.join(root, pack) if pack else root) if root else None
