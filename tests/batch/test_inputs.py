"""Inputs: folders, globs and every manifest kind stream the same items; output paths never collide."""
from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tddfa.batch.inputs import iter_items, iter_paths, mirror_path
from tddfa.errors import InputError


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel in ("in/b/x.jpg", "in/a/x.png", "in/a/deep/y.JPG", "in/clip.mp4", "in/notes.md", "in/out/z.jpg"):
        os.makedirs(os.path.dirname(rel), exist_ok=True)
        open(rel, "wb").close()
    return tmp_path


def test_a_folder_is_walked_recursively_in_sorted_order_without_the_output_folder(tree):
    assert list(iter_paths(["in"], out_dir="in/out")) == ["in/a/deep/y.JPG", "in/a/x.png", "in/b/x.jpg",
                                                          "in/clip.mp4"]
    assert "in/out/z.jpg" in iter_paths(["in"], out_dir="elsewhere")


def test_globs_and_plain_paths(tree):
    assert list(iter_paths(["in/*/x.*"])) == ["in/a/x.png", "in/b/x.jpg"]
    assert list(iter_paths(["in/**/*.jpg"])) == ["in/b/x.jpg", "in/out/z.jpg"]
    # a missing or unsupported path stays an item: it fails with its reason when processed
    assert list(iter_paths(["gone.jpg", "in/notes.md"])) == ["gone.jpg", "in/notes.md"]


def test_every_manifest_kind_gives_the_same_items_relative_to_its_folder(tree):
    names = ["b/x.jpg", "a/x.png", "a/x.png", str(tree / "in" / "clip.mp4")]  # repeats stay: one item each
    (tree / "in" / "m.txt").write_text("# a comment\n\n" + "\n".join(names) + "\n")
    (tree / "in" / "m.csv").write_text("id,path\n" + "".join(f"{i},{n}\n" for i, n in enumerate(names)))
    (tree / "in" / "m.jsonl").write_text("".join(json.dumps({"path": n, "k": 1}) + "\n" for n in names))
    pq.write_table(pa.table({"path": names, "k": list(range(4))}), tree / "in" / "m.parquet")
    want = ["in/b/x.jpg", "in/a/x.png", "in/a/x.png", str(tree / "in" / "clip.mp4")]
    for kind in ("txt", "csv", "jsonl", "parquet"):
        items = list(iter_items([f"in/m.{kind}"]))
        assert [i.item for i in items] == want, kind
        assert [i.index for i in items] == [0, 1, 2, 3]
    assert [i.index for i in iter_items(["in/m.txt", "in/m.csv"])] == list(range(8))


def test_a_manifest_without_a_path_column_is_refused(tree):
    (tree / "bad.csv").write_text("file\nx.jpg\n")
    (tree / "bad.jsonl").write_text('{"file": "x.jpg"}\n')
    pq.write_table(pa.table({"file": ["x.jpg"]}), tree / "bad.parquet")
    for kind in ("csv", "jsonl", "parquet"):
        with pytest.raises(InputError, match="path"):
            list(iter_paths([f"bad.{kind}"]))


def test_mirror_paths_are_one_to_one():
    items = ["a/x.jpg", "b/x.jpg", "/a/x.jpg", "_abs/a/x.jpg", "../x.jpg", "_up/x.jpg", "../../x.jpg",
             "../_up/x.jpg", "./a/x.jpg"]
    mirrors = [str(mirror_path(i)) for i in items]
    assert mirrors[0] == "a/x.jpg" and mirrors[2] == "_abs/a/x.jpg" and mirrors[4] == "_up/x.jpg"
    assert mirrors[-1] == mirrors[0]  # the same file spelled twice: one place
    assert len(set(mirrors[:-1])) == len(items) - 1
    assert all(not m.startswith(("/", "..")) for m in mirrors)
