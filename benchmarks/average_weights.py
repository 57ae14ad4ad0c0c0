"""Element-wise mean of detector state dicts (a "weight soup" of runs on one trajectory).

Usage: ``python benchmarks/average_weights.py A.pth B.pth [...] -o OUT.pth`` (plain state dicts or detector checkpoints, read
as ``train-detector`` reads them: their EMA weights; integer buffers such as BatchNorm's batch counter come from the
first file). Export ``OUT.pth`` as any checkpoint, e.g.
``tddfa train-detector --config C --export --checkpoint OUT.pth --out DIR``.
"""
from __future__ import annotations

import argparse

import torch

from tddfa.train.detector.trainer import load_weights


def average(state_dicts: list[dict]) -> dict:
    first = state_dicts[0]
    if any(sd.keys() != first.keys() for sd in state_dicts):
        raise ValueError("the state dicts have different keys")
    out = {}
    for k, v in first.items():
        if v.is_floating_point():
            out[k] = (sum(sd[k].double() for sd in state_dicts) / len(state_dicts)).to(v.dtype)
        else:
            out[k] = v
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    a = ap.parse_args()
    torch.save(average([load_weights(w) for w in a.weights]), a.out)
    print(f"wrote {a.out} (mean of {len(a.weights)})")


if __name__ == "__main__":
    main()
