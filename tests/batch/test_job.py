"""The local engine: bad items become error rows while the job goes on, outputs mirror the inputs, a re-run
resumes, and 2 worker processes give the rows of 1."""
from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from batch_media import BAD, errors, face_image, rows, run, spec

from tddfa.batch.job import run_job
from tddfa.batch.local import LocalEngine
from tddfa.batch.table import FACE_SCHEMA
from tddfa.errors import UsageError


def test_bad_items_are_error_rows_and_the_job_goes_on(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.gif").write_bytes(b"GIF89a")
    out = tmp_path / "out"
    s = run(["photos", "missing.jpg", "notes.gif"], out, kinds=["json"])
    want = {f"photos/{k}": v for k, v in BAD.items()} | {"missing.jpg": "missing", "notes.gif": "unsupported"}
    got = {e["item"]: e["reason"] for e in errors(out)}
    assert got == want
    assert all(e["message"] and "\n" not in e["message"] for e in errors(out))
    # the job went on: both faces, the face-free photo (ok, no rows) and the video's frames
    assert (s.ok, s.failed, s.skipped) == (4, 5, 0)
    items = [r["item"] for r in rows(out)]
    assert items.count("photos/a/face.jpg") == 1 and items.count("photos/b/face.jpg") == 1
    assert "photos/b/brick.jpg" not in items and items.count("photos/clip.avi") == 6
    assert s.faces == len(items) == 8
    assert pq.read_schema(out / "faces.parquet").equals(FACE_SCHEMA, check_metadata=False)
    assert json.loads((out / "photos" / "b" / "brick.jpg.json").read_text())["faces"] == []


def test_rows_follow_input_order_and_hold_the_face(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    run(["photos/clip.avi", "photos/a/face.jpg"], out, every=2)
    r = rows(out)
    assert [(x["item"], x["frame"], x["face"]) for x in r] == [
        ("photos/clip.avi", 0, 0), ("photos/clip.avi", 2, 0), ("photos/clip.avi", 4, 0), ("photos/a/face.jpg", 0, 0)]
    face = r[-1]
    x1, y1, x2, y2 = face["box"]
    lm = np.array(face["landmarks_2d"])
    assert lm.shape == (68, 2) and np.array(face["landmarks_3d"]).shape == (68, 3) and len(face["params"]) == 62
    assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 160 and face["score"] > 0.5
    assert (lm.min(0) > [x1 - 20, y1 - 20]).all() and (lm.max(0) < [x2 + 20, y2 + 20]).all()


def test_one_stem_in_two_folders_keeps_both_outputs(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    run(["photos/a", "photos/b"], out, kinds=["json", "composite"])
    a, b = (json.loads((out / "photos" / d / "face.jpg.json").read_text()) for d in "ab")
    assert (out / "photos" / "a" / "face.jpg_composite.jpg").exists()
    assert (out / "photos" / "b" / "face.jpg_composite.jpg").exists()
    assert a["faces"][0]["landmarks_2d"] != b["faces"][0]["landmarks_2d"]  # b's copy is mirrored


def test_a_manifest_job_and_video_frame_outputs(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.jsonl").write_text("".join(json.dumps({"path": p}) + "\n"
                                                 for p in ["photos/b/face.jpg", "photos/clip.avi"]))
    out = tmp_path / "out"
    s = run(["list.jsonl"], out, kinds=["json"], every=3)
    assert (s.ok, s.failed, s.faces) == (2, 0, 3)
    assert sorted(p.name for p in (out / "photos" / "clip.avi").iterdir()) == ["000000.json", "000003.json"]


def test_vertices_side_table(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    run(["photos/a/face.jpg", "photos/b/brick.jpg"], out, vertices=True)
    v = pq.read_table(out / "vertices.parquet").to_pylist()
    assert [(x["item"], x["frame"], x["face"]) for x in v] == [("photos/a/face.jpg", 0, 0)]
    verts = np.array(v[0]["vertices"])
    assert verts.ndim == 2 and verts.shape[1] == 3 and verts.shape[0] > 1000


def test_a_rerun_skips_done_items_and_retry_failed_redoes_the_errors(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    first = run(["photos"], out)
    before = rows(out)
    seen = []
    again = run(["photos"], out, on_result=seen.append)
    assert seen == [] and (again.ok, again.failed, again.skipped) == (first.ok, first.failed, first.ok + first.failed)
    assert rows(out) == before
    cv2_img = face_image(7)
    import cv2

    cv2.imwrite(str(media / "corrupt.jpg"), cv2_img)  # the corrupt file is fixed
    fixed = run(["photos"], out, retry_failed=True, on_result=seen.append)
    assert sorted(r.item.item for r in seen) == sorted(f"photos/{k}" for k in BAD)
    assert fixed.failed == first.failed - 1 and fixed.faces == first.faces + 1
    assert "photos/corrupt.jpg" not in {e["item"] for e in errors(out)}


def test_resuming_with_other_options_is_refused(media, tmp_path):
    out = tmp_path / "out"
    run([media / "a"], out, settings={"inputs": ["a"], "every": 1})
    with pytest.raises(UsageError, match="every"):
        run([media / "a"], out, settings={"inputs": ["a"], "every": 2})


def test_two_worker_processes_give_the_rows_of_one(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run(["photos"], tmp_path / "one")
    s = run_job(["photos"], tmp_path / "two", LocalEngine(spec(tmp_path / "two"), workers=2), {}, quiet=True)
    assert rows(tmp_path / "two") == rows(tmp_path / "one")
    assert errors(tmp_path / "two") == errors(tmp_path / "one") and s.failed == len(BAD)
    assert not any(f.startswith(".tddfa-tmp-") for _, _, fs in os.walk(tmp_path / "two") for f in fs)


def test_a_killed_worker_process_loses_no_item(media, tmp_path, monkeypatch):
    import signal

    monkeypatch.chdir(tmp_path)
    run(["photos"], tmp_path / "one")
    engine = LocalEngine(spec(tmp_path / "two"), workers=2)
    killed = []

    def kill_one(result):
        if not killed and engine.worker_pids():
            killed.append(engine.worker_pids()[0])
            os.kill(killed[0], signal.SIGKILL)

    s = run_job(["photos"], tmp_path / "two", engine, {}, quiet=True, on_result=kill_one)
    assert killed and engine.deaths == 1 and engine.resubmitted >= 1 and s.notes
    assert rows(tmp_path / "two") == rows(tmp_path / "one") and errors(tmp_path / "two") == errors(tmp_path / "one")


def test_an_output_that_cannot_be_written_is_an_error_row(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    (out / "photos").mkdir(parents=True)
    (out / "photos" / "a").write_text("a file where photos/a's outputs go")
    s = run(["photos/a/face.jpg", "photos/b/face.jpg"], out, kinds=["json"])
    assert [(e["item"], e["reason"]) for e in errors(out)] == [("photos/a/face.jpg", "output_unwritable")]
    assert s.ok == 1 and [r["item"] for r in rows(out)] == ["photos/b/face.jpg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_a_file_without_read_permission_is_unreadable(media, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (media / "a" / "face.jpg").chmod(0)
    try:
        run(["photos/a/face.jpg"], tmp_path / "out")
    finally:
        (media / "a" / "face.jpg").chmod(0o644)
    assert [e["reason"] for e in errors(tmp_path / "out")] == ["unreadable"]


def test_a_pool_that_broke_before_a_submit_takes_the_item_again(monkeypatch, tmp_path):
    # a worker can die between two results: the next submit then raises instead of returning a future
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from tddfa.batch import local
    from tddfa.batch.inputs import Item

    pools = []

    class Pool:
        def __init__(self, broken: bool):
            self.broken = broken

        def submit(self, fn, item):
            if self.broken:
                raise BrokenProcessPool("a child process terminated abruptly")
            f = Future()
            f.set_result(("done", item.index))
            return f

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    def new_pool(self):
        pools.append(Pool(broken=not pools))  # the first pool is broken from the start
        return pools[-1]

    monkeypatch.setattr(local.LocalEngine, "_new_pool", new_pool)
    engine = LocalEngine(spec(tmp_path / "out"), workers=2)
    out = list(engine._pool(iter([Item(index=i, item=f"x{i}.jpg") for i in range(5)])))
    assert sorted(out) == [("done", i) for i in range(5)]
    assert engine.deaths == 1 and engine.resubmitted == 1 and len(pools) == 2
