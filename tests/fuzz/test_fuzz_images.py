"""Images: every file (the corpus, then random mutations of valid seeds) and every array reads as an
``(H, W, 3)`` uint8 BGR image or fails with a documented one-line error."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from corpus import IMAGE_FORMATS, array_corpus, encode, image_corpus, seed_image
from tddfa.errors import InputError
from tddfa.io.images import read_image, to_bgr

SEEDS = {ext: encode(seed_image(37, 53), ext) for ext in IMAGE_FORMATS}


def check_image(img) -> None:
    if isinstance(img, InputError):
        return
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.flags["C_CONTIGUOUS"]


def test_image_corpus(fuzz, tmp_path):
    for name, data in image_corpus(np.random.default_rng(0)):
        path = tmp_path / name
        path.write_bytes(data)
        img = fuzz.expect(read_image, path)
        check_image(img)
        if "valid" in name or name.startswith("odd-"):
            assert isinstance(img, np.ndarray), f"{name}: {img}"
        if "huge-header" in name:
            assert isinstance(img, InputError) and "pixel limit" in str(img), name


mutation = st.tuples(
    st.sampled_from(IMAGE_FORMATS),
    st.one_of(
        st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1,
                                           max_size=64)),
        st.tuples(st.just("cut"), st.floats(0, 1)),
        st.tuples(st.just("splice"), st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=64))),
        st.tuples(st.just("random"), st.binary(max_size=4096)),
    ))


def mutate(ext: str, how: tuple) -> bytes:
    b = bytearray(SEEDS[ext])
    kind, arg = how
    if kind == "flip":
        for pos, bit in arg:
            b[pos % len(b)] ^= 1 << bit
    elif kind == "cut":
        b = b[: int(len(b) * arg)]
    elif kind == "splice":
        pos, blob = arg
        pos %= len(b)
        b[pos:pos + len(blob)] = blob
    else:
        b = bytearray(SEEDS[ext][:8]) + arg  # a valid signature, then noise
    return bytes(b)


def test_mutated_images(fuzz, tmp_path):
    @fuzz.settings(0.25)
    @given(mutation)
    def run(case):
        ext, how = case
        path = tmp_path / f"case{ext}"
        path.write_bytes(mutate(ext, how))
        check_image(fuzz.expect(read_image, path))

    run()


def test_array_corpus(fuzz):
    for name, value in array_corpus():
        img = fuzz.expect(to_bgr, value)
        check_image(img)
        if name == "float01":  # [0, 1] floats are scaled, never silently black
            assert isinstance(img, np.ndarray) and img.max() > 200
        if name in ("chw",):
            assert isinstance(img, InputError) and "transpose(1, 2, 0)" in str(img)
        if name in ("float-nan", "float-inf", "None", "int", "bytes", "bool-c3"):
            assert isinstance(img, InputError), name


DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.int64, np.float16, np.float32,
          np.float64, np.bool_, np.complex64]


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12))
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


def test_random_arrays(fuzz):
    @fuzz.settings(0.15)
    @given(arrays())
    def run(a):
        img = fuzz.expect(to_bgr, a)
        check_image(img)
        if isinstance(img, np.ndarray):
            assert img.shape[:2] == a.shape[:2]

    run()
