"""The image CLI contract: file names per kind, default outputs and folder, one line per image, bad inputs.

Uses the reference regressor (skips without ../shared) and a stub detector in place of FaceBoxes.
"""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tddfa.cli import main
from tddfa.errors import InputError, NoFaceError, UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
FACE_BOX = [172, 70, 272, 185, 0.99]  # the astronaut's face in examples/astronaut.jpg


def stub_detector(img):
    if img.shape[:2] != (512, 512) or img.std() < 5:  # anything but the example has no face
        return np.zeros((0, 5), np.float32)
    return np.array([FACE_BOX], np.float32)


@pytest.fixture
def ref(reference_dir, monkeypatch):
    from tddfa.runtime import registry
    from tddfa.errors import ModelNotAvailableError
    from tddfa.runtime.registry import resolve_regressor

    try:
        resolve_regressor(f"reference:{reference_dir}")
    except ModelNotAvailableError as exc:
        pytest.skip(f"reference regressor unavailable: {exc}")
    monkeypatch.setattr(registry, "load_detector", lambda spec, threads=1, **kw: stub_detector)
    return str(reference_dir)


@pytest.fixture
def example(tmp_path):
    p = tmp_path / "in" / "astro.jpg"
    p.parent.mkdir()
    shutil.copy(EXAMPLE, p)
    return p


def test_writes_stem_kind_ext_and_stem_json(ref, example, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main([str(example), "-o", "2d_sparse", "pose", "json", "--out", str(out), "--reference", ref])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["astro.json", "astro_2d_sparse.jpg", "astro_pose.jpg"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "astro.jpg" in lines[0] and "1 face" in lines[0]
    data = json.loads((out / "astro.json").read_text())
    face = data["faces"][0]
    assert len(face["params"]) == 62 and np.shape(face["landmarks_2d"]) == (68, 2)
    assert np.shape(face["landmarks_3d"]) == (68, 3) and set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert face["box"] == pytest.approx(FACE_BOX[:4]) and face["score"] == pytest.approx(0.99)
    # the landmarks are on the face
    lm = np.array(face["landmarks_2d"])
    assert (lm[:, 0].mean() - 222) ** 2 + (lm[:, 1].mean() - 128) ** 2 < 30 ** 2


def test_dense_kinds_with_the_bfm(ref, bfm, example, tmp_path):
    out = tmp_path / "out"
    kinds = ["3d", "depth", "pncc", "uv_tex", "obj", "ply", "depth16"]
    rc = main([str(example), "-o", *kinds, "--out", str(out), "--reference", ref, "--face-model", "bfm"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["astro_3d.jpg", "astro_depth.png", "astro_pncc.jpg", "astro_uv_tex.png", "astro_obj.obj",
         "astro_obj.mtl", "astro_obj.png", "astro_ply.ply", "astro_depth16.png"])


def test_default_outputs_and_folder(ref, example, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc = main([str(example), "--reference", ref])  # plain `tddfa IMAGE` is the image command
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "tddfa_out").iterdir()) == ["astro.json", "astro_composite.jpg"]


def test_bad_inputs_are_reported_and_skipped(ref, example, tmp_path, capsys):
    folder = example.parent
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("not an image")
    import cv2

    cv2.imwrite(str(folder / "blank.png"), np.full((40, 60, 3), 128, np.uint8))
    out = tmp_path / "out"
    rc = main([str(folder), str(tmp_path / "missing.jpg"), "-o", "json", "--out", str(out), "--reference", ref])
    # the run goes on past bad inputs, ends with a summary and exits with the first failure's code (blank.png)
    assert rc == NoFaceError.exit_code
    assert [p.name for p in out.iterdir()] == ["astro.json"]
    err = capsys.readouterr().err
    # the summary line of `tddfa batch`: ok, failed, skipped (none here), faces written, rate
    assert re.fullmatch(r"1 ok, 4 failed, 0 skipped, 1 faces, [0-9.]+ items/s", err.strip().splitlines()[-1]), err
    for name, why in [("missing.jpg", "no such file"), ("empty.jpg", "empty"), ("notes.png", "not a readable image"),
                      ("blank.png", "no face")]:
        line = next((ln for ln in err.splitlines() if name in ln), "")
        assert why in line, err
    assert "Traceback" not in err
    # nothing succeeds: non-zero exit
    rc = main([str(folder / "blank.png"), str(tmp_path / "missing.jpg"), "-o", "json", "--out", str(out),
               "--reference", ref])
    assert rc != 0


def test_unknown_kind_is_a_clear_error(ref, example, tmp_path, capsys):
    rc = main([str(example), "-o", "hologram", "--out", str(tmp_path), "--reference", ref])
    assert rc != 0 and "hologram" in capsys.readouterr().err


def test_det_size_and_flip_reach_the_detector(bfm, monkeypatch, tmp_path):
    from tddfa.runtime import registry

    seen = {}

    def fake_load(spec, threads=1, **kw):
        seen.update(spec=spec, **kw)
        return stub_detector

    monkeypatch.setattr(registry, "load_detector", fake_load)
    assert main([str(EXAMPLE), "-o", "json", "--out", str(tmp_path), "--det-size", "640x360", "--det-flip"]) == 0
    assert seen == {"spec": "default", "size": (640, 360), "flip": True}


def test_det_size_rejects_bad_values(capsys):
    with pytest.raises(SystemExit) as e:
        main([str(EXAMPLE), "--det-size", "640"])
    assert e.value.code == 2 and "WIDTHxHEIGHT" in capsys.readouterr().err
