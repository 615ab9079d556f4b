#!/usr/bin/env bash
# Installs what Tandem needs on a Debian/Ubuntu machine. Idempotent: when
# everything is present it only checks and returns in well under a second.
#
# Needs: a Rust toolchain (cargo), g++, make, pkg-config, Verilator (>= 5.0),
# Icarus Verilog, yosys, libtorch (for the trainer) and the Fashion-MNIST
# dataset package. On other systems install the equivalents by hand:
#   - Verilator 5, Icarus Verilog 11+, yosys 0.23+ from your package manager
#     (macOS: brew install verilator icarus-verilog yosys)
#   - libtorch 1.13 (the `tch` 0.10 crate's version); set LIBTORCH to it
#   - Fashion-MNIST IDX files (train-images-idx3-ubyte.gz etc.) in a
#     directory you pass with --data-dir
set -euo pipefail

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_file() { [ -e "$1" ] || missing+=("$2"); }

need_cmd g++ g++
need_cmd make make
need_cmd pkg-config pkg-config
need_cmd verilator verilator
need_cmd iverilog iverilog
need_cmd yosys yosys
need_file /usr/include/torch/csrc/api/include/torch/torch.h libtorch-dev
need_file /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz dataset-fashion-mnist

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing: ${missing[*]}" >&2
    echo "setup: this script installs them with apt-get (Debian/Ubuntu); on other systems install them by hand (see the comments at the top of scripts/setup.sh)." >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: missing ${missing[*]} and not root; run: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "setup: installing ${missing[*]} with apt-get (a few minutes the first time)"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found: install Rust (https://rustup.rs, or your distribution's rustc+cargo >= 1.89)" >&2
  exit 1
fi

# Verilator 5 is required: the simulation bridge relies on its --cc output layout.
vmajor=$(verilator --version | awk '{print $2}' | cut -d. -f1)
if [ "${vmajor:-0}" -lt 5 ]; then
  echo "setup: $(verilator --version) is too old; Tandem needs Verilator 5 (Debian bookworm ships 5.006)" >&2
  exit 1
fi
