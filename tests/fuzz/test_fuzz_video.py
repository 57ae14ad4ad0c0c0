"""Videos: truncated, bit-flipped, zero-frame, one-frame and huge-header files, and random mutations of valid
AVI and MP4 files, open and decode into frames or fail with a documented one-line error."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus import image_corpus, video_corpus
from tddfa.errors import TddfaError
from tddfa.video.reader import open_frames

MAX_FRAMES = 50


def decode(path) -> int:
    """Frames decoded from ``path`` (at most MAX_FRAMES), each a BGR uint8 frame of the announced size."""
    src = open_frames(path)
    try:
        n = 0
        for frame in src:
            assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            n += 1
            if n >= MAX_FRAMES:
                break
        return n
    finally:
        src.close()


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    return video_corpus(tmp_path_factory.mktemp("videos"), np.random.default_rng(0))


def test_video_corpus(fuzz, videos):
    for path in videos:
        n = fuzz.expect(decode, path)
        if path.name.startswith(("valid", "one-frame")):
            assert n == (1 if path.name.startswith("one-frame") else 6), path.name
        if path.name.startswith(("zero-frames", "empty", "random")):
            assert isinstance(n, TddfaError), path.name


def test_image_sequence_of_the_image_corpus(fuzz, tmp_path):
    for name, data in image_corpus(np.random.default_rng(1)):
        if not name.startswith(("random", "wide", "tall")):
            (tmp_path / name).write_bytes(data)
    n = fuzz.expect(decode, tmp_path)
    assert isinstance(n, int) and n > 0  # the readable images, the others skipped


def test_mutated_videos(fuzz, videos, tmp_path):
    seeds = {p.suffix: p.read_bytes() for p in videos if p.name.startswith("valid")}

    @fuzz.settings(0.06)
    @given(ext=st.sampled_from(sorted(seeds)), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)),
                                                              max_size=32), cut=st.floats(0.01, 1))
    def run(ext, flips, cut):
        b = bytearray(seeds[ext])
        for pos, bit in flips:
            b[pos % len(b)] ^= 1 << bit
        path = tmp_path / f"case{ext}"
        path.write_bytes(bytes(b[: max(1, int(len(b) * cut))]))
        fuzz.expect(decode, path)

    run()
