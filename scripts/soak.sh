#!/usr/bin/env bash
# Soak the generated RTL with random GEMMs: CASES random GEMMs (default
# 100000 in all) spread over four array shapes and bit-width pairs, each
# checked value by value against the integer contract and cycle by cycle
# against the schedule (`tandem sim gemm`). Prints one line per design and a
# total; exits non-zero on any mismatch. Two designs run at a time.
#
#   scripts/soak.sh [CASES] [SEED]      (make soak)
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-100000}
seed=${2:-1}
tandem=target/release/tandem
[ -x "$tandem" ] || cargo build --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name rows cols a_bits w_bits acc_depth
designs=(
  "soak-2x3-w3a5 2 3 5 3 4"
  "soak-4x4-w8a8 4 4 8 8 16"
  "soak-3x5-w2a2-serves-w8a8 3 5 2 2 7 8 8 4"
  "soak-8x8-w4a4-serves-w8a8 8 8 4 4 64 8 8 8"
)
per_design=$(( (cases + ${#designs[@]} - 1) / ${#designs[@]} ))
start=$(date +%s)
run_one() {
  # Optional: the widest layer served (max_in_bits max_w_bits max_out_bits);
  # wider than the PEs, most GEMMs run in operand-slice passes.
  read -r name rows cols a w depth in_bits max_w out_bits <<<"$1"
  cat > "$work/$name.yaml" <<YAML
name: $name
rows: $rows
cols: $cols
dataflow: weight_stationary
a_bits: $a
w_bits: $w
acc_bits: auto
max_k: 4096
acc_depth: $depth
clock_mhz: 100
YAML
  if [ -n "${in_bits:-}" ]; then
    printf 'max_in_bits: %s\nmax_w_bits: %s\nmax_out_bits: %s\n' "$in_bits" "$max_w" "$out_bits" >> "$work/$name.yaml"
  fi
  "$tandem" sim gemm --hw "$work/$name.yaml" --random "$per_design" --seed "$seed" --json \
    2>"$work/$name.log" | tail -1 > "$work/$name.json"
}
pids=()
for design in "${designs[@]}"; do
  run_one "$design" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
seconds=$(( $(date +%s) - start ))
python3 - "$work" "$seconds" <<'PY'
import json, pathlib, sys
work, seconds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
total = {"cases": 0, "sliced_cases": 0, "values": 0, "mismatches": 0, "cycles": 0}
for path in sorted(work.glob("*.json")):
    text = path.read_text().strip()
    if not text:
        print(f"{path.stem}: no result (see its log)"); total["mismatches"] += 1; continue
    r = json.loads(text)
    hw = r["hw"]
    print(f"{hw['name']}: {r['cases']} GEMMs ({r['sliced_cases']} in passes), {r['values']} values, {r['mismatches']} mismatches, "
          f"{r['cycles']} cycles (formula {r['model_cycles']}), {r['seconds']:.0f} s")
    if r["cycles"] != r["model_cycles"]: total["mismatches"] += 1
    for k in total: total[k] += r[k]
print(f"soak: {total['cases']} GEMMs ({total['sliced_cases']} in operand-slice passes), {total['values']} values, {total['mismatches']} mismatches, "
      f"{total['cycles']} cycles, {seconds} s wall")
sys.exit(1 if total["mismatches"] else 0)
PY
exit $status
