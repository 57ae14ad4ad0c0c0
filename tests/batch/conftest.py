"""tests/batch: skipped without pyarrow (the [batch] extra); ``media`` is a fresh folder of small inputs."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pyarrow", reason="tddfa batch needs pyarrow (pip install 'tddfa[batch]')")


@pytest.fixture
def media(tmp_path: Path) -> Path:
    from batch_media import make_media

    return make_media(tmp_path)
