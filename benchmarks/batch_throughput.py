"""``tddfa batch`` throughput and memory (a benchmark, not a test).

On N images (default 2,000) it runs ``tddfa batch`` as a user does (a subprocess, fresh ``--out``, default models,
one ONNX Runtime thread per worker) with 1 and 2 local workers and on a local 2-CPU Ray cluster, and reports
items/s for each, the ratios 2w/1w and ray/2w, and the peak RSS of the whole process tree (driver, workers, and
Ray's own processes), sampled every 0.2 s. Then it runs 1 local worker on a 1,000- and a 10,000-line manifest
(the images repeated) and compares their peak RSS: memory must not grow with the number of items.

Two rates per run: ``items_s`` is the summary line's (items over the run's time, worker start-up and model
loading included: what a user sees), ``steady_items_s`` is shards committed per second between the first and
the last one (start-up excluded), read from the ledger while the job runs.

Images: ``--images shared`` uses ../shared/data/300w/images (never copied into the repository), ``examples``
resized, cropped and mirrored copies of examples/ (9 in 10 the astronaut, 1 in 10 a face-free negative);
``auto`` (default) takes shared when present. Everything is written into a temporary folder and removed.

    OMP_NUM_THREADS=1 python benchmarks/batch_throughput.py [--n 2000] [--rss-items 1000 10000] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TDDFA_SHARED", ROOT.parent / "shared" / "data")) / "300w" / "images"
SUMMARY = re.compile(r"(\d+) ok, (\d+) failed, (\d+) skipped, (\d+) faces, ([0-9.]+) items/s")


def build_images(folder: Path, n: int, source: str) -> str:
    """``n`` images in ``folder`` (sub-folders of 500); returns the source used."""
    if source == "auto":
        source = "shared" if SHARED.is_dir() else "examples"
    if source == "shared":
        files = sorted(p for p in SHARED.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    else:
        face = cv2.imread(str(ROOT / "examples" / "astronaut.jpg"))
        negatives = [cv2.imread(str(p)) for p in sorted((ROOT / "examples" / "negatives").glob("*.jpg"))]
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / f"{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        if source == "shared":  # copies, cycling when N is larger than the set
            src = files[i % len(files)]
            shutil.copyfile(src, sub / f"{i:06d}{src.suffix.lower()}")
            continue
        # 9 in 10 the face, 1 in 10 a face-free photo; sizes, crops and mirroring vary so that all differ
        img = negatives[(i // 10) % len(negatives)] if i % 10 == 9 else face
        side = int(rng.integers(224, 416))
        h, w = img.shape[:2]
        x0, y0 = int(rng.integers(0, w // 10 + 1)), int(rng.integers(0, h // 10 + 1))
        img = cv2.resize(img[y0:, x0:], (side, side), interpolation=cv2.INTER_AREA)
        if i % 2:
            img = cv2.flip(img, 1)
        cv2.imwrite(str(sub / f"{i:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return source


def _tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` and all its descendants, RSS of ``pid``) in bytes; psutil if installed, else /proc."""
    try:
        import psutil

        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        total = 0
        for q in procs:
            try:
                total += q.memory_info().rss
            except psutil.Error:
                pass
        return total, p.memory_info().rss
    except ImportError:
        pass
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            rss[int(d)] = int(Path(f"/proc/{d}/statm").read_text().split()[1]) * page
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        total += rss.get(q, 0)
        todo += children.get(q, [])
    return total, rss.get(pid, 0)


def _shards(out: Path) -> int:
    items = out / ".tddfa-batch" / "items"
    try:
        return sum(len(os.listdir(items / d)) for d in os.listdir(items))
    except OSError:
        return 0


def run_batch(inputs: list[str], out: Path, extra: list[str]) -> dict:
    """One ``tddfa batch`` run: rates, wall time and peak RSS (tree and driver)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "tddfa", "batch", *inputs, "--out", str(out), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0, 0]
    marks: list[tuple[float, int]] = []

    def sample() -> None:
        while proc.poll() is None:
            tree, driver = _tree_rss(proc.pid)
            peak[0], peak[1] = max(peak[0], tree), max(peak[1], driver)
            n = _shards(out)
            if n and (not marks or n != marks[-1][1]):
                marks.append((time.perf_counter(), n))
            time.sleep(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    err = proc.communicate()[1]
    wall = time.perf_counter() - t0
    th.join()
    m = SUMMARY.search(err or "")
    if not m:
        raise RuntimeError(f"tddfa batch {' '.join(extra)} failed ({proc.returncode}): {err.strip()[-500:]}")
    ok, failed, _, faces, rate = m.groups()
    steady = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0]) if len(marks) > 1 else float("nan")
    return {"items": int(ok) + int(failed), "failed": int(failed), "faces": int(faces), "items_s": float(rate),
            "steady_items_s": round(steady, 2), "wall_s": round(wall, 2), "peak_rss_mb": round(peak[0] / 2**20, 1),
            "driver_peak_rss_mb": round(peak[1] / 2**20, 1), "args": extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="images (default 2000)")
    ap.add_argument("--images", choices=("auto", "shared", "examples"), default="auto")
    ap.add_argument("--rss-items", type=int, nargs=2, default=(1000, 10000), metavar=("SMALL", "LARGE"),
                    help="manifest sizes for the RSS comparison (default 1000 10000; 0 0 skips it)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tddfa-batch-bench-"))
    try:
        images = tmp / "images"
        source = build_images(images, args.n, args.images)
        res: dict = {"n": args.n, "images": source, "cpus": os.cpu_count(), "runs": {}}
        configs = {"local_1w": ["--workers", "1"], "local_2w": ["--workers", "2"]}
        if not args.no_ray:
            configs["ray_2cpu"] = ["--ray", "--workers", "2"]
        for name, extra in configs.items():
            r = run_batch([str(images)], tmp / f"out_{name}", extra)
            res["runs"][name] = r
            print(f"{name:9s} {r['items_s']:7.1f} items/s (steady {r['steady_items_s']:6.1f}), "
                  f"wall {r['wall_s']:6.1f} s, peak RSS {r['peak_rss_mb']:7.1f} MiB "
                  f"(driver {r['driver_peak_rss_mb']:.1f})", flush=True)
            shutil.rmtree(tmp / f"out_{name}")
        runs = res["runs"]
        res["ratios"] = {k: {"2w/1w": round(runs["local_2w"][k] / runs["local_1w"][k], 3)}
                         for k in ("items_s", "steady_items_s")}
        if "ray_2cpu" in runs:
            for k in ("items_s", "steady_items_s"):
                res["ratios"][k]["ray/2w"] = round(runs["ray_2cpu"][k] / runs["local_2w"][k], 3)
        print("ratios", json.dumps(res["ratios"]))
        files = sorted(str(p) for p in images.rglob("*.jpg"))
        if args.rss_items[0] > 0:
            res["rss"] = {}
            for n in args.rss_items:
                manifest = tmp / f"manifest_{n}.txt"
                manifest.write_text("".join(files[i % len(files)] + "\n" for i in range(n)))
                r = run_batch([str(manifest)], tmp / f"out_rss_{n}", ["--workers", "1"])
                res["rss"][str(n)] = r
                print(f"manifest {n:6d} items: peak RSS {r['peak_rss_mb']:.1f} MiB "
                      f"(driver {r['driver_peak_rss_mb']:.1f}), {r['items_s']:.1f} items/s", flush=True)
                shutil.rmtree(tmp / f"out_rss_{n}")
            small, large = (res["rss"][str(n)]["peak_rss_mb"] for n in args.rss_items)
            res["rss"]["large/small"] = round(large / small, 3)
            print(f"peak RSS {args.rss_items[1]} / {args.rss_items[0]} items: {large / small:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
