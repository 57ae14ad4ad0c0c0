"""The CLI as subprocesses with random inputs and option values (``tddfa image`` and ``tddfa video``): each run
exits with a documented code, prints no traceback, says why in a ``tddfa:`` line when it fails, stays under the
memory bound and leaves no partial file. Subprocesses are slow (imports, model loading), so they are few: 1 %
of ``--fuzz-cases`` (at least 3)."""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tddfa
from harness import CASE_SECONDS, DOCUMENTED_CODES, MEMORY_MB, assert_no_partial_files
from corpus import encode, seed_image, video_corpus
from tddfa.io.writers import ALL_KINDS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
WEIGHT = 0.01


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    shutil.copy(EXAMPLE, d / "face.jpg")
    (d / "noface.png").write_bytes(encode(seed_image(60, 80), ".png"))
    (d / "corrupt.jpg").write_bytes(EXAMPLE.read_bytes()[:3000])
    (d / "folder").mkdir()
    shutil.copy(EXAMPLE, d / "folder" / "face.jpg")
    (d / "afile").write_text("x")
    videos = {p.name: p for p in video_corpus(d / "videos", np.random.default_rng(2))}
    return d, videos


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(Path(tddfa.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "tddfa", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=CASE_SECONDS, stdin=subprocess.DEVNULL)


def check_run(fuzz, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    with fuzz.case():
        r = run_cli(args, cwd)
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
        assert r.returncode in DOCUMENTED_CODES | {0}, (args, r.returncode, r.stderr[-2000:])
        if r.returncode:
            assert any(ln.startswith("tddfa: ") for ln in r.stderr.splitlines()), r.stderr[-2000:]
        grown = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        assert grown < MEMORY_MB + 1000, f"a run peaked at {grown:.0f} MB"
        assert_no_partial_files(cwd, skip=("afile",))
    return r


num = st.sampled_from(["-1", "0", "1", "2", "3", "x", "1e9", "nan", "0.5"])


@st.composite
def image_command(draw, names):
    inputs = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
    kinds = draw(st.lists(st.sampled_from(list(ALL_KINDS) + ["hologram"]), min_size=0, max_size=3))
    out = draw(st.sampled_from(["out", "out/nested", "afile", "afile/sub"]))
    opts: list[str] = ["--out", out]
    for flag in draw(st.lists(st.sampled_from(["--threads", "--refine", "--max-faces", "--crops", "--det-size"]),
                              max_size=2, unique=True)):
        opts += [flag, draw(st.sampled_from(["320x240", "0x0", "abc"]) if flag == "--det-size" else num)]
    if kinds and draw(st.booleans()):
        return ["-o", *kinds, *inputs, *opts]  # the flag first
    return ["image", *inputs, *(["-o", *kinds] if kinds else []), *opts]


@st.composite
def video_command(draw, names):
    args = ["video", draw(st.sampled_from(names)), "--max-frames", draw(st.sampled_from(["2", "3", "-3", "0"]))]
    out = draw(st.sampled_from(["out.mp4", "out.avi", "out.xyz", "afile/out.mp4", None]))
    if out:
        args += ["-o", out]
    if out is None or draw(st.booleans()):
        args += ["--jsonl", draw(st.sampled_from(["out.jsonl", "afile/x.jsonl"]))]
    for flag in draw(st.lists(st.sampled_from(["--threads", "--fps", "--min-cutoff", "--beta", "--detect-every",
                                               "--n-pre"]), max_size=2, unique=True)):
        args += [flag, draw(num)]
    if draw(st.booleans()):
        args.append("--quiet")
    return args


def test_cli(fuzz, pool, tmp_path_factory):
    folder, videos = pool
    images = ["face.jpg", "noface.png", "corrupt.jpg", "missing.jpg", "folder"]
    clips = ["valid.avi", "one-frame.mp4", "truncated-0.6.avi", "bitflip-16.mp4", "zero-frames.avi", "random.mp4"]
    command = st.one_of(image_command(images), video_command(clips))

    @fuzz.settings(WEIGHT, least=3)
    @given(command)
    def run(args):
        cwd = tmp_path_factory.mktemp("run")
        for name in images[:3] + ["folder"]:
            (cwd / name).symlink_to(folder / name)
        for name in clips:
            (cwd / name).symlink_to(videos[name])
        (cwd / "afile").write_text("x")
        check_run(fuzz, args, cwd)

    run()
