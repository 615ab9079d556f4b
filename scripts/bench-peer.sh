#!/usr/bin/env bash
# Golden against onnxruntime, in one run, on one network, the same test
# images and the same thread count (issue 13; docs/golden.md, "Against
# onnxruntime").
#
#   scripts/bench-peer.sh [--threads N] [--images N] [--batch B] [--seconds S]
#                         [--model DIR] [--data-dir DIR]
#
#   --threads N   worker threads for golden and intra-op threads for
#                 onnxruntime (default: all cores, nproc)
#   --images N    first N Fashion-MNIST test images (default 10000, all)
#   --batch B     onnxruntime batch size (default 256)
#   --seconds S   least timed seconds per onnxruntime model (default 5)
#   --model DIR   any Tandem model directory (default: a seeded random W8A8
#                 alexnet-cifar of width 0.25, made under target/bench-peer/)
#   --data-dir D  directory with the IDX test files
#                 (default /usr/share/datasets/fashion-mnist)
#
# It measures `tandem eval` (golden fast path), then bench/peer/onnx_peer.py
# runs the float twin of the model in onnxruntime (fp32) and its static int8
# quantization (QOperator, per channel), and checks both against the exact
# integer network. Progress goes to stderr; stdout ends with ONE JSON line:
# golden_images_per_s, onnxruntime_images_per_s (fp32),
# onnxruntime_int8_images_per_s, ratio (golden / fp32), ratio_int8
# (golden / int8), threads, and extras (accuracies, agreement, versions,
# load average before and after the run).
#
# The Python packages live in a virtual environment under target/peer-venv,
# created on first use from PyPI with the pinned versions below.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions that work here (Python 3.11, x86-64 Linux). Bump together.
PINS=(onnxruntime==1.32.0 onnx==1.23.2 numpy==2.4.6 pyyaml==6.0.4)
VENV=${BENCH_PEER_VENV:-target/peer-venv}  # override only to test a fresh install
TANDEM=target/release/tandem

threads=$(nproc)
images=10000
batch=256
seconds=5
model=
data_dir=/usr/share/datasets/fashion-mnist

usage() {
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
}
positive() { [[ $2 =~ ^[1-9][0-9]*$ ]] || { echo "bench-peer: $1 must be a positive integer, got '$2'" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
  case $1 in -h|--help) usage ;; esac
  [ $# -ge 2 ] || { echo "bench-peer: $1 needs a value" >&2; exit 2; }
  case $1 in
    --threads) positive "$1" "$2"; threads=$2 ;;
    --images) positive "$1" "$2"; images=$2 ;;
    --batch) positive "$1" "$2"; batch=$2 ;;
    --seconds) [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench-peer: --seconds must be a number, got '$2'" >&2; exit 2; }; seconds=$2 ;;
    --model) model=$2 ;;
    --data-dir) data_dir=$2 ;;
    *) echo "bench-peer: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift 2
done

log() { echo "bench-peer: $*" >&2; }
die() { echo "bench-peer: error: $*" >&2; exit 1; }

# --- the dataset ----------------------------------------------------------
if ! ls "$data_dir"/t10k-images?idx3-ubyte* >/dev/null 2>&1; then
  if [ "$data_dir" = /usr/share/datasets/fashion-mnist ]; then
    die "no Fashion-MNIST test images in $data_dir; install them with: apt-get install dataset-fashion-mnist (or make setup), or pass --data-dir DIR"
  fi
  die "no t10k-images-idx3-ubyte[.gz] in $data_dir; put the Fashion-MNIST (or MNIST) IDX test files there"
fi

# --- the Python environment -----------------------------------------------
python=$VENV/bin/python
if ! { [ -x "$python" ] && "$python" - "${PINS[@]}" <<'PY' 2>/dev/null; }
import sys
from importlib.metadata import version
# every pin installed at exactly its version?
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
then
  command -v python3 >/dev/null || die "python3 not found; install Python 3.11 (apt-get install python3 python3-venv)"
  log "creating $VENV with ${PINS[*]} (once; about 220 MB)"
  python3 -m venv "$VENV" ||
    die "cannot create a virtual environment in $VENV; install venv support (apt-get install python3-venv) and retry"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 ||
    die "pip could not install ${PINS[*]} from PyPI into $VENV; check the network/proxy, or delete $VENV and retry"
fi

# --- golden ---------------------------------------------------------------
if [ ! -x "$TANDEM" ]; then
  log "building $TANDEM"
  cargo build --release >&2
fi
if [ -z "$model" ]; then
  model=target/bench-peer/random-w8a8-w0.25-seed1
  if [ ! -f "$model/model.safetensors" ]; then
    "$TANDEM" model random --topology alexnet-cifar --width 0.25 --in-channels 1 \
      --wbits 8 --abits 8 --seed 1 --out "$model" >&2
  fi
fi
macs=$("$TANDEM" model inspect --model "$model" --json | tail -n 1 |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["total_macs"])')

# Load average before measuring: a busy machine invalidates the figures.
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before the run: $loadavg"

log "golden: tandem eval --model $model --threads $threads --images $images"
golden=$("$TANDEM" eval --model "$model" --dataset fashion-mnist --data-dir "$data_dir" \
  --threads "$threads" --images "$images" --json | tail -n 1)
log "golden: $golden"

# --- onnxruntime ----------------------------------------------------------
log "onnxruntime: bench/peer/onnx_peer.py (fp32 twin, int8)"
# The two .onnx files are kept in target/bench-peer/onnx for inspection.
peer=$("$python" bench/peer/onnx_peer.py --model "$model" --data-dir "$data_dir" \
  --save-dir target/bench-peer/onnx \
  --threads "$threads" --images "$images" --batch "$batch" --seconds "$seconds" | tail -n 1)

# --- the one JSON line ----------------------------------------------------
loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)
"$python" - "$golden" "$peer" "$model" "$macs" "$loadavg" "$loadavg_after" <<'PY'
import json, sys
golden, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
model, macs, loadavg, loadavg_after = sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
g, f, q = golden["images_per_s"], peer["onnxruntime_images_per_s"], peer["onnxruntime_int8_images_per_s"]
if golden["images"] != peer["images"]:
    sys.exit(f"bench-peer: error: golden ran {golden['images']} images, onnxruntime {peer['images']}")
result = {
    "golden_images_per_s": round(g, 1),
    "onnxruntime_images_per_s": round(f, 1),
    "onnxruntime_int8_images_per_s": round(q, 1),
    "ratio": round(g / f, 3),
    "ratio_int8": round(g / q, 3),
    "threads": peer["threads"],
    "batch": peer["batch"],
    "images": peer["images"],
    "model": model,
    "macs_per_image": macs,
    "golden_accuracy": golden["accuracy"],
    "golden_correct": golden["correct"],
    "onnxruntime_accuracy": peer["onnxruntime_accuracy"],
    "onnxruntime_int8_accuracy": peer["onnxruntime_int8_accuracy"],
    # The twins' top-1 against the exact integer network (numpy, in
    # onnx_peer.py); exact_correct must equal golden_correct.
    "exact_matches_golden": peer.get("exact_correct") == golden["correct"] if "exact_correct" in peer else None,
    "fp32_agreement": peer.get("fp32_agreement"),
    "int8_agreement": peer.get("int8_agreement"),
    "onnxruntime_version": peer["onnxruntime_version"],
    "quantization": peer["quantization"],
    "loadavg_before": loadavg,
    # The run itself adds about `threads` to the 1-minute figure.
    "loadavg_after": loadavg_after,
}
print(json.dumps(result))
if result["exact_matches_golden"] is False:
    sys.exit("bench-peer: error: the numpy integer network disagrees with golden's accuracy; the model was misread")
PY
