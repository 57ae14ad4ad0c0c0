"""What the benchmarks share: the JSON they write."""
from __future__ import annotations

import json
from pathlib import Path


def write_results(path: str | Path, results: dict[str, dict]) -> None:
    """The first model's results at the top level (the contract keys), all of them under ``models``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    first = next(iter(results.values()))
    payload = {**first, "models": results} if len(results) > 1 else first
    p.write_text(json.dumps(payload, indent=2))
