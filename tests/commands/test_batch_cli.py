"""``tddfa batch``'s command-line contract: the summary line, exit codes, one-line refusals."""
from __future__ import annotations

import re

import pytest

pytest.importorskip("pyarrow", reason="tddfa batch needs pyarrow (pip install 'tddfa[batch]')")

from batch_media import BAD, make_media  # noqa: E402

from tddfa.cli import main  # noqa: E402
from tddfa.errors import UsageError  # noqa: E402


def test_exit_codes_summary_and_refusals(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_media(tmp_path)
    assert main(["batch", "photos/a", "photos/b", "--out", "ok"]) == 0  # the face-free photo is no failure
    assert re.fullmatch(r"3 ok, 0 failed, 0 skipped, 2 faces, [0-9.]+ items/s",
                        capsys.readouterr().err.strip().splitlines()[-1])
    assert main(["batch", "-o", "json", "photos", "--out", "all", "--quiet"]) == 1  # `-o KIND... INPUT` works too
    err = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(rf"4 ok, {len(BAD)} failed, 0 skipped, 8 faces, [0-9.]+ items/s", err[-1])
    assert sorted(ln.split(": ")[1] for ln in err[:-1]) == sorted(f"photos/{k}" for k in BAD)
    # the same command again: everything skipped, still failed
    assert main(["batch", "photos", "--out", "all", "-o", "json"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"4 ok, {len(BAD)} failed, 7 skipped, 8 faces")
    # other options into the same folder: one line, usage code
    assert main(["batch", "photos", "--out", "all", "-o", "json", "--every", "2"]) == UsageError.exit_code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every" in err[0] and err[0].startswith("tddfa: all: ")
