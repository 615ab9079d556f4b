#!/usr/bin/env bash
# The Verilator bridge against a plain C++ Verilator testbench of the same
# generated design and the same stimulus, on one core (issue 13;
# docs/simulation.md, "Bridge versus a plain Verilator testbench").
#
#   scripts/bench-sim.sh [--workload image|gemm] [--rounds N] [--repeat N]
#                        [--placements N] [--verilator-threads N]
#                        [--plain-objects bridge|rebuilt|both] [--out DIR]
#
#   --workload W    image (default): one image through a random W8A8
#                   alexnet-cifar of width 1/4 (sim::network::run_network,
#                   every layer checked against golden); gemm: the conv3-like
#                   GEMM M=64 K=576 N=96 (ArraySim::run_gemm)
#   --rounds N      timed rounds (default 3); figures are medians over rounds
#   --repeat N      workloads per timed sample (default 1 image, 8 GEMMs)
#   --placements N  private copies of the model library and of the testbench
#                   (default 3): where code lands in physical memory changes
#                   its speed on this VM, so each side's best copy counts
#   --verilator-threads N  also time a model built with Verilator
#                   --threads N (bridge and plain), interleaved with the
#                   single-threaded one
#   --plain-objects O  the plain testbench links the bridge's own model
#                   objects (bridge), the model compiled again without -fPIC
#                   (rebuilt), or both (default; the headline uses bridge)
#   --out DIR       recordings, testbenches, copies (default target/bench-sim)
#
# Design: configs/hw-16x16-w8a8.yaml, resolved by hwgen for the workload. The
# workload runs once on a recording model (sim::Sim::record_to: every input
# value before each cycle, every output value after it); the plain testbench
# (sim/testbench/replay_main.cpp, linked against the same verilated model)
# replays that recording cycle by cycle and checks every output against it,
# so it is provably the same stimulus and the same behaviour. The bridge
# figure is the real driver path (ArraySim) on the same workload.
#
# Progress goes to stderr; stdout ends with ONE JSON line: bridge_cycles_per_s,
# plain_cycles_per_s, ratio (bridge / plain), cycles, design, workload, and
# extras (the replay through the bridge without the driver, checked and
# rebuilt variants, per-placement figures, load average before and after).
set -euo pipefail

cd "$(dirname "$0")/.."
if ! command -v verilator >/dev/null 2>&1; then
    echo "bench-sim: verilator is not on PATH (scripts/setup.sh installs it)" >&2
    exit 1
fi
echo "bench-sim: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
exec cargo bench --quiet -p sim --bench bridge_vs_plain -- "$@"
