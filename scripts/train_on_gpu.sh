#!/usr/bin/env bash
# Train several regressor configs side by side on one lent GPU machine, then bring back weights and logs.
#
#   bash scripts/train_on_gpu.sh configs/gpu/A.json configs/gpu/B.json ...
#
# Needs cache/gpu/{train,val}.pack.npz and vertex_model.npz (`tddfa train-pack`, about 47 MB, so they travel
# with the working tree; the shipped models alone are ~75 MB, so `bash scripts/gpu_tree.sh slim KEEP...` first).
# Each run is killed after LIMIT seconds (its config's time_budget_minutes should end it first); a smoke run on
# the device goes first so that a broken environment costs seconds, not the lease.
# Results: $OUT/<config>.pth (weights and whitening, no optimizer) and $OUT/<config>.log.
set -u
OUT=${OUT:-/tmp/gpu_out}
RUNS=${RUNS:-/tmp/gpu_runs}
LIMIT=${LIMIT:-560}
mkdir -p "$OUT" "$RUNS"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
nproc
python3 -c "import torch, cv2, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'cv2', cv2.__version__, 'numpy', numpy.__version__)"
rm -rf "$RUNS/smoke"
if ! python3 -m tddfa.cli train --config "$1" --smoke --out "$RUNS/smoke" > "$OUT/smoke.log" 2>&1; then
    tail -n 40 "$OUT/smoke.log"
    echo "SMOKE RUN FAILED"
    exit 1
fi
tail -n 2 "$OUT/smoke.log"
for c in "$@"; do
    n=$(basename "$c" .json)
    rm -rf "${RUNS:?}/$n"
    timeout "$LIMIT" python3 -m tddfa.cli train --config "$c" --out "$RUNS/$n" > "$RUNS/$n.out" 2>&1 &
done
wait
python3 - "$RUNS" "$OUT" "$@" <<'EOF'
import sys
from pathlib import Path

import torch

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
for c in sys.argv[3:]:
    n = Path(c).stem
    d = runs / n
    log = (d / "train.log").read_text() if (d / "train.log").exists() else ""
    hist = (d / "history.jsonl").read_text() if (d / "history.jsonl").exists() else ""
    tail = "\n".join((runs / f"{n}.out").read_text().splitlines()[-30:]) if (runs / f"{n}.out").exists() else ""
    (out / f"{n}.log").write_text(log + "\n# history.jsonl\n" + hist + "\n# console tail\n" + tail + "\n")
    if (d / "last.pth").exists():
        ck = torch.load(d / "last.pth", map_location="cpu", weights_only=False)
        keep = {k: ck[k] for k in ("config", "model", "epoch", "global_step", "best_nme", "best_epoch", "elapsed")}
        torch.save(keep, out / f"{n}.pth")
        print(f"{n}: step {ck['global_step']} epoch {ck['epoch']} best val {ck['best_nme']:.3f} "
              f"@ {ck['best_epoch']}, {ck['elapsed']:.0f} s")
    else:
        print(f"{n}: no checkpoint")
    print("\n".join(log.splitlines()[-3:]))
EOF
