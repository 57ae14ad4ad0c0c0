"""Progress without a terminal: a periodic one-line report; the summary line's format."""
from __future__ import annotations

import io

from tddfa.batch.progress import Progress, summary_line


def test_without_a_terminal_progress_is_a_periodic_line():
    out = io.StringIO()  # not a TTY: no bar
    p = Progress(4, interval=0.0, stream=out)
    for failed in (False, True, False):
        p.update(failed)
    p.write("tddfa: x.jpg: no such file [missing]")
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("tddfa batch: 1/4 items, 0 failed, ") and "items/s" in lines[0]
    assert lines[2].startswith("tddfa batch: 3/4 items, 1 failed, ") and "ETA" in lines[2]
    assert lines[-1] == "tddfa: x.jpg: no such file [missing]"
    quiet = io.StringIO()
    p = Progress(4, interval=3600.0, stream=quiet)
    p.update(False)
    assert quiet.getvalue() == ""  # at most one line per interval


def test_summary_line():
    assert summary_line(295, 5, 120, 301, 41.04) == "295 ok, 5 failed, 120 skipped, 301 faces, 41.0 items/s"
