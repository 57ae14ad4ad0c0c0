"""The CLI's error contract (docs/errors.md): each bad option, input or filesystem state ends in a result or in
one ``tddfa:`` line on stderr with the documented exit code, and nothing is half-written. Runs the default
models in-process (skips without the BFM face model)."""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.cli import main
from tddfa.errors import INTERNAL_EXIT_CODE, InputError, NoFaceError, OutputError, UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [ln for ln in err.strip().splitlines() if ln]


@pytest.fixture
def work(tmp_path, monkeypatch, bfm):
    """A working folder holding the example as face.jpg."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE, tmp_path / "face.jpg")
    return tmp_path


def test_flag_first_keeps_the_image(work, capsys):
    assert main(["-o", "json", "face.jpg", "--out", "o"]) == 0
    assert [p.name for p in (work / "o").iterdir()] == ["face.json"]
    assert main(["-o", "json", "hologram", "face.jpg", "--out", "o"]) == UsageError.exit_code
    assert "hologram" in error_lines(capsys.readouterr().err)[-1]


@pytest.mark.parametrize("out", ["afile", "afile/sub"])
def test_out_that_cannot_be_a_folder(work, capsys, out):
    (work / "afile").write_text("x")
    assert main(["face.jpg", "-o", "json", "ply", "--out", out]) == OutputError.exit_code
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"tddfa: {out}: ")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_folder_is_one_error_before_any_work(work, capsys):
    ro = work / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["face.jpg", "face.jpg", "-o", "json", "ply", "--out", str(ro)]) == OutputError.exit_code
    finally:
        ro.chmod(0o755)
    assert len(error_lines(capsys.readouterr().err)) == 1 and not any(ro.iterdir())


def test_option_ranges_are_usage_errors(work, capsys):
    for opts in (["--refine", "-1"], ["--threads", "0"], ["--max-faces", "0"], ["--threads", "x"]):
        with pytest.raises(SystemExit) as e:
            main(["face.jpg", *opts])
        assert e.value.code == UsageError.exit_code
        lines = error_lines(capsys.readouterr().err)
        assert len(lines) == 1 and lines[0].startswith(f"tddfa: argument {opts[0]}:")


def test_a_run_goes_on_past_bad_inputs_and_ends_with_a_summary(work, capsys):
    (work / "bad.jpg").write_bytes(EXAMPLE.read_bytes()[:2000])
    cv2.imwrite(str(work / "blank.png"), np.full((50, 60, 3), 90, np.uint8))
    rc = main(["bad.jpg", "face.jpg", "blank.png", "missing.jpg", "-o", "json", "--out", "o"])
    assert rc == InputError.exit_code  # the first failure's (bad.jpg)
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert re.fullmatch(r"1 ok, 3 failed, 0 skipped, 1 faces, [0-9.]+ items/s", lines[-1]), lines
    assert [ln.split(":")[1].strip() for ln in lines[:-1]] == ["bad.jpg", "blank.png", "missing.jpg"]
    assert "face.jpg: " in captured.out and [p.name for p in (work / "o").iterdir()] == ["face.json"]


def test_two_inputs_with_one_stem_are_refused_before_writing(work, capsys):
    for d in ("a", "b"):
        (work / d).mkdir()
        shutil.copy(EXAMPLE, work / d / "x.jpg")
    assert main(["a/x.jpg", "b/x.jpg", "--out", "o"]) == UsageError.exit_code
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "a/x.jpg" in lines[0] and "b/x.jpg" in lines[0]
    assert not (work / "o").exists()
    assert main(["a/x.jpg", "a/x.jpg", "-o", "json", "--out", "o"]) == 0  # one file given twice is one input


def test_glb_without_the_mesh_extra_is_refused_up_front(work, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "trimesh", None)  # import trimesh -> ImportError
    assert main(["face.jpg", "face.jpg", "-o", "json", "glb", "--out", "o"]) == OutputError.exit_code
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "tddfa[mesh]" in lines[0]
    assert not (work / "o").exists()


def test_an_unexpected_exception_is_one_line_and_debug_shows_it(work, capsys, monkeypatch):
    def boom(path):
        raise RuntimeError("boom")

    monkeypatch.setattr("tddfa.commands.image.read_image", boom)
    assert main(["face.jpg", "-o", "json", "--out", "o"]) == INTERNAL_EXIT_CODE
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "internal error: RuntimeError: boom" in lines[0] and "--debug" in lines[0]
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "face.jpg", "-o", "json", "--out", "o"])


def test_no_face_exit_code(work, capsys):
    cv2.imwrite(str(work / "blank.png"), np.full((50, 60, 3), 90, np.uint8))
    assert main(["blank.png", "--out", "o"]) == NoFaceError.exit_code
    assert error_lines(capsys.readouterr().err) == ["tddfa: blank.png: no face found"]


@pytest.mark.parametrize("opts", [["--threads", "-1"], ["--fps", "0"], ["--min-cutoff", "-1"], ["--beta", "-5"],
                                  ["--max-frames", "-3"], ["--fps", "nan"], ["--detect-every", "-1"]])
def test_video_option_ranges(work, capsys, opts):
    with pytest.raises(SystemExit) as e:
        main(["video", "in.mp4", "-o", "out.mp4", *opts])
    assert e.value.code == UsageError.exit_code
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"tddfa: argument {opts[0]}:")


def test_video_outputs_are_checked_before_decoding(work, capsys):
    (work / "afile").write_text("x")
    from video_files import write_video

    write_video(work / "in.avi", [cv2.imread(str(EXAMPLE))] * 2, fourcc="MJPG")
    assert main(["video", "in.avi", "-o", "afile/out.mp4"]) == OutputError.exit_code
    assert main(["video", "in.avi", "-o", "out.xyz"]) == UsageError.exit_code
    assert main(["video", "in.avi", "-o", "in.avi"]) == UsageError.exit_code
    assert len(error_lines(capsys.readouterr().err)) == 3


def test_video_without_audio_says_nothing_about_audio(work, capsys, monkeypatch):
    from video_files import write_video

    monkeypatch.setattr("tddfa.video.pipeline.find_ffmpeg", lambda: None)
    write_video(work / "in.avi", [cv2.imread(str(EXAMPLE))] * 3, fourcc="MJPG")
    assert main(["video", "in.avi", "-o", "out.mp4", "--max-frames", "2", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "audio" not in err and "ffmpeg" not in err and err.startswith("2 frames")
