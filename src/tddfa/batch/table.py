"""The face table: one Arrow row per face, the schema of ``faces.parquet`` and of every ledger shard.

Columns: ``item`` (string), ``frame`` (int32, 0 for images), ``face`` (int32: index within the image, the
tracker's face id in a video), ``box`` (4 float32: x1, y1, x2, y2 pixels), ``score`` (float32), ``pose``
(3 float32: yaw, pitch, roll degrees), ``landmarks_2d`` (68 x 2 float32), ``landmarks_3d`` (68 x 3 float32,
image frame), ``params`` (62 float32: camera 12, shape 40, expression 10). The side table ``vertices.parquet``
(``--vertices``) holds ``item``, ``frame``, ``face`` and ``vertices`` (V x 3 float32, image frame).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

KEY_FIELDS = [pa.field("item", pa.string()), pa.field("frame", pa.int32()), pa.field("face", pa.int32())]
FACE_SCHEMA = pa.schema(KEY_FIELDS + [
    pa.field("box", pa.list_(pa.float32(), 4)),
    pa.field("score", pa.float32()),
    pa.field("pose", pa.list_(pa.float32(), 3)),
    pa.field("landmarks_2d", pa.list_(pa.list_(pa.float32(), 2), 68)),
    pa.field("landmarks_3d", pa.list_(pa.list_(pa.float32(), 3), 68)),
    pa.field("params", pa.list_(pa.float32(), 62)),
])
VERTEX_SCHEMA = pa.schema(KEY_FIELDS + [pa.field("vertices", pa.list_(pa.list_(pa.float32(), 3)))])


def _fixed(a: np.ndarray, type_: pa.DataType) -> pa.Array:
    """``(N, *shape)`` float32 -> an ``(N,)`` (nested) fixed-size list array of ``type_``."""
    flat = pa.array(np.ascontiguousarray(a, np.float32).reshape(-1))
    for size in reversed(_sizes(type_)):
        flat = pa.FixedSizeListArray.from_arrays(flat, size)
    return flat


def _sizes(type_: pa.DataType) -> list[int]:
    out = []
    while pa.types.is_fixed_size_list(type_):
        out.append(type_.list_size)
        type_ = type_.value_type
    return out


def face_tables(item: str, faces: Sequence[tuple[int, int, object]], vertices: bool = False
                ) -> tuple[pa.Table, pa.Table | None]:
    """Rows for ``faces``: ``(frame, face index, tddfa.Face)`` triples -> the face table (and, with
    ``vertices``, the vertex table)."""
    n = len(faces)
    cols: dict[str, pa.Array] = {
        "item": pa.array([item] * n, pa.string()),
        "frame": pa.array([f[0] for f in faces], pa.int32()),
        "face": pa.array([f[1] for f in faces], pa.int32()),
    }
    fs = [f[2] for f in faces]

    def stack(attr: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.stack([np.asarray(getattr(f, attr), np.float32) for f in fs]) if n else np.zeros((0, *shape))

    for name, attr, shape in (("box", "box", (4,)), ("pose", "pose", (3,)), ("landmarks_2d", "landmarks_2d", (68, 2)),
                              ("landmarks_3d", "landmarks_3d", (68, 3)), ("params", "params", (62,))):
        cols[name] = _fixed(stack(attr, shape), FACE_SCHEMA.field(name).type)
    cols["score"] = pa.array([float(f.score) for f in fs], pa.float32())
    table = pa.table({f.name: cols[f.name] for f in FACE_SCHEMA}, schema=FACE_SCHEMA)
    if not vertices:
        return table, None
    verts = [np.asarray(f.vertices, np.float32) for f in fs]
    offsets = np.cumsum([0] + [len(v) for v in verts]).astype(np.int32)
    points = _fixed(np.concatenate(verts) if verts else np.zeros((0, 3)), pa.list_(pa.float32(), 3))
    vcol = pa.ListArray.from_arrays(pa.array(offsets), points)
    vtable = pa.table({"item": cols["item"], "frame": cols["frame"], "face": cols["face"], "vertices": vcol},
                      schema=VERTEX_SCHEMA)
    return table, vtable


def to_ipc(tables: dict[str, pa.Table]) -> bytes:
    """Named tables -> one Arrow IPC stream per table, concatenated with a small length header."""
    parts = []
    for name, t in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        buf = sink.getvalue().to_pybytes()
        head = name.encode()
        parts += [len(head).to_bytes(2, "little"), head, len(buf).to_bytes(8, "little"), buf]
    return b"".join(parts)


def from_ipc(data: bytes) -> dict[str, pa.Table]:
    """The inverse of :func:`to_ipc`."""
    out, i = {}, 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 2], "little")
        name = data[i + 2:i + 2 + n].decode()
        i += 2 + n
        m = int.from_bytes(data[i:i + 8], "little")
        out[name] = pa.ipc.open_stream(pa.py_buffer(data[i + 8:i + 8 + m])).read_all()
        i += 8 + m
    return out
