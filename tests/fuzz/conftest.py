"""Fixtures and hooks of the fuzz suite: the ``fuzz`` fixture (harness.py), the ``fuzz`` marker on every test
here, and the ``fuzz: N cases, K crashes`` line at the end of the run."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import QUICK_MAX, Fuzz, stats


@pytest.fixture(scope="session")
def fuzz(request: pytest.FixtureRequest) -> Fuzz:
    total = request.config.getoption("--fuzz-cases")
    return Fuzz(total, quick=total <= QUICK_MAX)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.fuzz)


def pytest_terminal_summary(terminalreporter) -> None:
    if stats["cases"]:
        terminalreporter.write_line(f"fuzz: {stats['cases']} cases, {stats['crashes']} crashes")
