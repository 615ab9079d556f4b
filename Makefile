# Tandem: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing first (scripts/setup.sh, apt-get on Debian/Ubuntu).

CARGO ?= cargo
TANDEM := target/release/tandem
DEMO_DIR ?= out/demo

.PHONY: all setup build demo test lint unit bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release

# The main job. For now: a random W4A4 1/4-width AlexNet for 32x32 inputs,
# inspected and evaluated with the golden reference on Fashion-MNIST, its
# 16x16 array generated, real images run through the RTL in Verilator, and
# a throughput / energy / area report written.
demo: build
	$(TANDEM) model random --topology alexnet-cifar --width 0.25 --in-channels 1 \
		--wbits 4 --abits 4 --seed 1 --out $(DEMO_DIR)/random-w4a4
	$(TANDEM) model inspect $(DEMO_DIR)/random-w4a4
	$(TANDEM) eval --model $(DEMO_DIR)/random-w4a4 --limit 1000 --json
	$(TANDEM) hwgen --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)/random-w4a4 \
		--out $(DEMO_DIR)/hw-16x16-w4a4
	$(TANDEM) sim network --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)/random-w4a4 \
		--images 4 --json
	$(TANDEM) report --hw configs/hw-16x16-w4a4.yaml --model $(DEMO_DIR)/random-w4a4 \
		--out $(DEMO_DIR)/report-16x16-w4a4
	@echo "demo: read $(DEMO_DIR)/report-16x16-w4a4/report.md"

# The whole test suite: formatting, lints, then every crate's tests.
test: setup lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

# Benchmarks (criterion); figures land in target/criterion.
bench: setup
	$(CARGO) bench --workspace

clean:
	$(CARGO) clean
	rm -rf out
