# Tandem: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing first (scripts/setup.sh, apt-get on Debian/Ubuntu).

CARGO ?= cargo
TANDEM := target/release/tandem
DEMO_DIR ?= out/demo

.PHONY: all setup build demo demo-random test lint unit bench bench-peer bench-sim soak fuzz results results-full clean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release

# The main job: train the quick preset (BN teacher -> progressive integer
# student on Fashion-MNIST), export the integer model, generate a 16x16 array
# for it, run real test images through the RTL in Verilator against golden,
# and write the throughput / energy / area report (configs/flow-quick.yaml).
demo: build
	$(TANDEM) flow --config configs/flow-quick.yaml --out $(DEMO_DIR)
	@echo "demo: read $(DEMO_DIR)/report/report.md"

# The hardware path alone, on a random model (no training): about a minute.
demo-random: build
	$(TANDEM) model random --topology alexnet-cifar --width 0.25 --in-channels 1 \
		--wbits 4 --abits 4 --seed 1 --out $(DEMO_DIR)-random/random-w4a4
	$(TANDEM) model inspect $(DEMO_DIR)-random/random-w4a4
	$(TANDEM) eval --model $(DEMO_DIR)-random/random-w4a4 --limit 1000 --json
	$(TANDEM) hwgen --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)-random/random-w4a4 \
		--out $(DEMO_DIR)-random/hw-16x16-w4a4
	$(TANDEM) sim network --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)-random/random-w4a4 \
		--images 4 --json
	$(TANDEM) report --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)-random/random-w4a4 \
		--out $(DEMO_DIR)-random/report-16x16-w4a4

# The whole test suite: formatting, lints, then every crate's tests.
test: setup lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

# Benchmarks: criterion (figures in target/criterion), then golden against
# onnxruntime on the same network and images at 1 thread and at all cores
# (docs/golden.md; one JSON line each), then the simulation bridge against a
# plain C++ Verilator testbench of the same design and stimulus
# (docs/simulation.md). Run on an idle machine.
bench: build
	$(CARGO) bench --workspace
	$(MAKE) --no-print-directory bench-peer bench-sim

bench-peer: build
	scripts/bench-peer.sh --threads 1
	scripts/bench-peer.sh

bench-sim: build
	scripts/bench-sim.sh

# Soak the RTL: 10^5 random GEMMs over four array shapes and bit-width
# pairs against the integer contract (scripts/soak.sh; minutes on 2 cores).
soak: build
	scripts/soak.sh 100000

# Fuzz every file loader with 10^6 mutated inputs each (model.yaml,
# model.safetensors, hardware YAML, energy table, IDX, CIFAR-10); exits 1 on
# any panic or hang and saves the inputs under target/fuzz-crashes. A short
# run of each target is part of `make test`. Figures: docs/fuzzing.md.
FUZZ_EXECUTIONS ?= 1000000
fuzz:
	$(CARGO) run --profile fuzz -p tandem-fuzz -- --target all --executions $(FUZZ_EXECUTIONS)

# Regenerate docs/results.md: every method at W8A8/W4A4/W3A3/W2A2 over 3
# seeds, one teacher per seed (48 runs; about 75 minutes on 2 cores). The
# page is rewritten after every run; rerunning resumes an interrupted run.
results: build
	$(TANDEM) train --preset quick --results docs/results.md --seeds 3 --out out/results

# The full preset's table: every method, 3 seeds at W2A2 and one at W3A3
# and W4A4 (3 teachers and 20 runs; on the 2-core VM about an hour per run,
# so many sittings: the page is rewritten after every run and rerunning
# resumes from the last finished run).
results-full: build
	$(TANDEM) train --preset full --results docs/results-full.md --rows w2a2:3,w3a3,w4a4 --out out/results-full

clean:
	$(CARGO) clean
	rm -rf out
