"""Video input/output: clear errors for bad input, valid partial outputs, JSON lines (CLI runs need the reference)."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tddfa.cli import main
from tddfa.errors import InputError, UsageError
from tddfa.video.reader import open_frames
from tddfa.video.writer import JsonlWriter, VideoWriter
from video_files import write_video

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def count_frames(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def face_frames(n, size=(360, 480)):
    patch = cv2.imread(str(EXAMPLE))[10:250, 105:345]
    out = []
    for k in range(n):
        img = np.full(size + (3,), 40, np.uint8)
        x, y = 60 + 5 * k, 50 + 2 * k
        img[y:y + 240, x:x + 240] = patch
        out.append(img)
    return out


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "zero_frames", "folder_without_images"])
def test_bad_inputs_one_line_error(tmp_path, capsys, kind):
    p = tmp_path / "in.mp4"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "garbage":
        p.write_bytes(b"not a video" * 100)
    elif kind == "zero_frames":
        write_video(p, [])
    elif kind == "folder_without_images":
        p = tmp_path / "frames"
        p.mkdir()
        (p / "notes.txt").write_text("x")
    with pytest.raises(InputError):
        open_frames(p)
    out = tmp_path / "out.mp4"
    rc = main(["video", str(p), "-o", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == InputError.exit_code
    assert "Traceback" not in err and err.strip().count("\n") == 0 and err.startswith(f"tddfa: {p}: ")
    assert not out.exists()


def test_truncated_stream_keeps_the_readable_frames(tmp_path):
    full = write_video(tmp_path / "full.avi", face_frames(20), fourcc="MJPG")
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    src = open_frames(cut)
    n = sum(1 for _ in src)
    src.close()
    assert 0 < n < 20 and src.truncated


def test_image_sequence_skips_unreadable(tmp_path):
    d = tmp_path / "seq"
    d.mkdir()
    for k, f in enumerate(face_frames(3)):
        cv2.imwrite(str(d / f"{k:03d}.png"), f)
    (d / "001b.png").write_bytes(b"broken")
    src = open_frames(d, fps=10)
    frames = list(src)
    assert len(frames) == 3 and src.skipped == 1 and src.fps == 10 and src.size == (480, 360)
    assert len(list(open_frames(str(d / "*.png")))) == 3


def test_writers_close_cleanly(tmp_path):
    out = tmp_path / "v.mp4"
    with VideoWriter(out, 25) as w:
        for f in face_frames(3):
            w.write(f)
    assert count_frames(out) == 3
    with JsonlWriter(tmp_path / "a.jsonl") as j:
        j.write(0, 0.0, [])
        j.write(1, 0.04, [{"track_id": 0}])
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == [0, 1] and lines[1]["faces"][0]["track_id"] == 0
    with pytest.raises(UsageError):
        VideoWriter(tmp_path / "v.xyz", 25)


@pytest.mark.parametrize("smooth", ["one_euro", "window", "none"])
def test_cli_video_jsonl_valid(tmp_path, reference_dir, smooth):
    src = write_video(tmp_path / "in.mp4", face_frames(12))
    out, js = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    rc = main(["video", str(src), "-o", str(out), "--jsonl", str(js), "--reference", str(reference_dir),
               "--detector", "haar", "--smooth", smooth, "--n-next", "2", "--quiet"])
    assert rc == 0
    lines = [json.loads(x) for x in js.read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(12))
    for rec in lines:
        assert len(rec["faces"]) == 1
        f = rec["faces"][0]
        assert f["track_id"] == 0 and len(f["params"]) == 62 and len(f["box"]) == 4
        assert np.asarray(f["landmarks_2d"]).shape == (68, 2) and set(f["pose"]) == {"yaw", "pitch", "roll"}
    # the face moves 5 px right per frame: so do the landmarks
    xs = [np.mean(np.asarray(r["faces"][0]["landmarks_2d"])[:, 0]) for r in lines]
    assert 30 < xs[-1] - xs[0] < 80
    assert count_frames(out) == 12


def test_cli_no_face_keeps_valid_outputs(tmp_path, reference_dir, capsys):
    src = write_video(tmp_path / "blank.mp4", [np.full((120, 160, 3), 30 * k, np.uint8) for k in range(8)])
    out, js = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    rc = main(["video", str(src), "-o", str(out), "--jsonl", str(js), "--reference", str(reference_dir),
               "--detector", "haar", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 4 and "no face" in err and "Traceback" not in err
    lines = [json.loads(x) for x in js.read_text().splitlines()]
    assert len(lines) == 8 and all(x["faces"] == [] for x in lines)
    assert count_frames(out) == 8


def test_cli_webcam_without_camera(capsys):
    rc = main(["webcam", "--device", "57"])
    err = capsys.readouterr().err
    assert rc == InputError.exit_code and "no camera" in err and "Traceback" not in err


class _StopAt:
    """Stand-in tracker: no faces, and Ctrl-C at frame ``k``."""

    def __init__(self, k):
        self.k, self.n = k, 0

    def update(self, frame):
        self.n += 1
        if self.n > self.k:
            raise KeyboardInterrupt
        return []


@pytest.mark.parametrize("smooth", ["none", "window"])
def test_interrupted_run_leaves_valid_outputs(tmp_path, smooth):
    from tddfa.video.pipeline import run
    from tddfa.video.smooth import make_smoother

    src = write_video(tmp_path / "in.mp4", face_frames(15))
    out, js = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    stats = run(open_frames(src), _StopAt(6), make_smoother(smooth, n_next=2), output=out, jsonl=js,
                progress=False, keep_audio=False)
    assert stats.interrupted and stats.frames == 6
    lines = [json.loads(x) for x in js.read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(6))
    assert count_frames(out) == 6
