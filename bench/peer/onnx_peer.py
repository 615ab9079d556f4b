#!/usr/bin/env python3
"""onnxruntime peer for the golden reference (issue 13).

Reads a Tandem integer model directory (model.yaml + model.safetensors),
builds its float twin as an ONNX graph and an int8 quantization of that twin
(onnxruntime's static quantizer), runs both on the Fashion-MNIST (or MNIST)
test images that `tandem eval` sees, and prints one JSON line:
images/s and top-1 accuracy of each, plus how often each agrees with the
exact integer network (computed here in numpy, see `exact_logits`).

Normally run by scripts/bench-peer.sh, which also measures golden.

    python bench/peer/onnx_peer.py --model DIR [--threads N] [--images N]
        [--batch B] [--seconds S] [--data-dir D] [--save-dir D] [--no-check]
        [--reduce-range auto|on|off] [--twin-rounding-offset]

Progress goes to stderr; stdout is the JSON line only.
"""

import argparse
import gzip
import json
import logging
import os
import platform
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import yaml
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

OPSET = 17
IMAGE_SIDE = 32  # every Tandem dataset is fed as 32x32 (datasets/src/lib.rs)


def log(message):
    print(f"onnx_peer: {message}", file=sys.stderr, flush=True)


def fail(message):
    print(f"onnx_peer: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --------------------------------------------------------------------------
# Model directory (format: docs/integer-semantics.md, golden/src/io.rs)
# --------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"I8": np.int8, "I16": np.int16, "I32": np.int32}


def read_safetensors(path):
    """Tensors of a .safetensors file as int64 numpy arrays.

    The format: an 8-byte little-endian header length, a JSON header mapping
    each name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
    to the end of the header), then the raw little-endian data.
    """
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            fail(f"{path}: tensor {name} has dtype {info['dtype']}; Tandem uses I8, I16, I32")
        begin, end = info["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = array.reshape(info["shape"]).astype(np.int64)
    return tensors


def load_model(model_dir):
    """(yaml dict, tensors). The model is assumed valid: `tandem eval` loads
    the same directory with every check of golden::io and would reject it."""
    model_dir = Path(model_dir)
    yaml_path = model_dir / "model.yaml"
    tensors_path = model_dir / "model.safetensors"
    for path in (yaml_path, tensors_path):
        if not path.is_file():
            fail(f"{path} does not exist; make a model with `tandem model random ... --out {model_dir}`")
    spec = yaml.safe_load(yaml_path.read_text())
    if spec.get("format_version") != 1:
        fail(f"{yaml_path}: format_version {spec.get('format_version')!r}, this script reads 1")
    return spec, read_safetensors(tensors_path)


def rounding_offsets(shifts):
    """r = 2^(s-1) for s > 0, else 0 (golden::contract::rounding_offset)."""
    shifts = np.asarray(shifts, dtype=np.int64)
    return np.where(shifts > 0, np.left_shift(1, np.maximum(shifts - 1, 0)), 0)


# --------------------------------------------------------------------------
# Images (datasets/src/idx.rs)
# --------------------------------------------------------------------------


def find_idx(data_dir, prefix, what, dims):
    """The same spellings datasets::idx::find_file accepts, plain first."""
    canonical = f"{prefix}-{what}-idx{dims}-ubyte"
    mirror = f"{prefix}-{what}.idx{dims}-ubyte"
    for name in (canonical, canonical + ".gz", mirror, mirror + ".gz"):
        path = data_dir / name
        if path.is_file():
            return path
    fail(
        f"no {canonical}[.gz] in {data_dir}; install Fashion-MNIST with "
        "`apt-get install dataset-fashion-mnist` (files go to /usr/share/datasets/fashion-mnist) "
        "or pass --data-dir DIR"
    )


def read_idx(path, magic):
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip, decided by content as datasets does
        raw = gzip.decompress(raw)
    dims = magic & 0xFF
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        fail(f"{path}: magic {found:#010x}, expected {magic:#010x}")
    shape = struct.unpack(f">{dims}I", raw[4 : 4 + 4 * dims])
    count = int(np.prod(shape))
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=4 + 4 * dims).reshape(shape)


def load_test_images(data_dir, limit):
    """First `limit` test images as uint8 (N, 1, 32, 32) and labels.

    28x28 IDX images get a centred 2-pixel zero border, exactly as
    datasets::idx::pad_to_32 does, so the twin sees golden's input bytes."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        fail(
            f"dataset directory {data_dir} does not exist; install Fashion-MNIST with "
            "`apt-get install dataset-fashion-mnist` or pass --data-dir DIR"
        )
    images = read_idx(find_idx(data_dir, "t10k", "images", 3), 0x00000803)
    labels = read_idx(find_idx(data_dir, "t10k", "labels", 1), 0x00000801)
    images, labels = images[:limit], labels[:limit]
    side = images.shape[1]
    border = (IMAGE_SIDE - side) // 2
    padded = np.zeros((len(images), 1, IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    padded[:, 0, border : border + side, border : border + side] = images
    return padded, labels.astype(np.int64)


# --------------------------------------------------------------------------
# The float twin as ONNX
# --------------------------------------------------------------------------


def build_float_twin(spec, tensors, rounding_offset=False):
    """ONNX graph computing the integer network in float, layer for layer.

    A hidden layer's integer output is
        y = clamp(floor((acc + bias + r) / 2^s), 0, 2^a - 1),   r = 2^(s-1),
    i.e. (acc + bias) / 2^s rounded half up, then clamped. Its float twin
    drops only the rounding: weights and bias are scaled by 2^-s per output
    channel (exact in fp32: a small integer times a power of two), so the
    Conv/Gemm produces (acc + bias) / 2^s, and Clip(0, 2^a - 1) is the ReLU
    plus saturation. The rounding offset r is NOT added: r plus floor is
    round-to-nearest, which is unbiased, whereas r without the floor would
    shift every activation up by half a step (measured: it lowers agreement
    with the integer network; see docs/golden.md, "Against onnxruntime";
    `rounding_offset=True`, --twin-rounding-offset, builds that variant).
    The last layer (output: logits) is acc + bias, no scale, no clip.
    Input: the raw image bytes as float, (N, C, H, W)."""
    channels, height, width = spec["input"]["shape"]
    nodes, inits = [], []
    current = "image"

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    for layer in spec["layers"]:
        name, kind = layer["name"], layer["kind"]
        if kind in ("conv2d", "linear"):
            weight = tensors[f"{name}.weight"].astype(np.float64)
            bias = tensors[f"{name}.bias"].astype(np.float64)
            if layer["output"] == "requant":
                scale = np.exp2(-np.asarray(layer["shifts"], dtype=np.float64))
                if rounding_offset:
                    bias = bias + rounding_offsets(layer["shifts"])
                weight = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
                bias = bias * scale
            out = f"{name}_out"
            if kind == "conv2d":
                kh, kw = layer["kernel"]
                pad = layer["padding"]
                nodes.append(
                    helper.make_node(
                        "Conv",
                        [current, const(f"{name}.weight", weight), const(f"{name}.bias", bias)],
                        [out],
                        name=name,
                        kernel_shape=[kh, kw],
                        strides=[layer["stride"]] * 2,
                        pads=[pad] * 4,
                    )
                )
            else:
                nodes.append(
                    helper.make_node(
                        "Gemm",
                        [current, const(f"{name}.weight", weight), const(f"{name}.bias", bias)],
                        [out],
                        name=name,
                        transB=1,
                    )
                )
            current = out
            if layer["output"] == "requant":
                top = float((1 << layer["out_bits"]) - 1)
                out = f"{name}_act"
                nodes.append(
                    helper.make_node(
                        "Clip",
                        [current, const(f"{name}.lo", 0.0), const(f"{name}.hi", top)],
                        [out],
                        name=f"{name}_clip",
                    )
                )
                current = out
        elif kind == "maxpool2d":
            out = f"{name}_out"
            kernel = layer["kernel"]
            nodes.append(
                helper.make_node(
                    "MaxPool",
                    [current],
                    [out],
                    name=name,
                    kernel_shape=list(kernel),
                    strides=[layer["stride"]] * 2,
                )
            )
            current = out
        elif kind == "flatten":
            out = f"{name}_out"
            nodes.append(helper.make_node("Flatten", [current], [out], name=name, axis=1))
            current = out
        else:
            fail(f"layer {name}: unknown kind {kind!r}")

    nodes.append(helper.make_node("Identity", [current], ["logits"], name="logits"))
    graph = helper.make_graph(
        nodes,
        spec["name"],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    onnx.checker.check_model(model)
    return model


class Calibration(CalibrationDataReader):
    """Feeds the quantizer's MinMax calibration a few batches of test images."""

    def __init__(self, images, batch=64):
        self.batches = [images[i : i + batch].astype(np.float32) for i in range(0, len(images), batch)]

    def get_next(self):
        return {"image": self.batches.pop(0)} if self.batches else None


def has_vnni():
    """Whether this x86 CPU has an 8-bit dot-product instruction (VNNI)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def quantize(float_path, int8_path, calibration_images, reduce_range):
    """Static int8 quantization, QOperator format (QLinearConv, QLinearMatMul...).

    Activations QUInt8 and weights QInt8 (per channel) is what onnxruntime's
    quantize_static documents for x86-64 CPUs ("Choosing parameters for CPU
    inference"), with reduce_range=True (7-bit weights) on CPUs without VNNI,
    whose u8 x s8 kernel (vpmaddubsw) can saturate its 16-bit pair sums.

    The quantizer warns that the model should be pre-processed
    (quant_pre_process); on this graph that yields the same quantized nodes
    and the same speed (measured), so the warning is silenced."""
    logging.getLogger().setLevel(logging.ERROR)
    quantize_static(
        str(float_path),
        str(int8_path),
        Calibration(calibration_images),
        quant_format=QuantFormat.QOperator,
        per_channel=True,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
    )


# --------------------------------------------------------------------------
# Running and timing
# --------------------------------------------------------------------------


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def predict_all(sess, images, batch):
    """Logits of every image, in batches (untimed; used for accuracy)."""
    outputs = [
        sess.run(None, {"image": images[i : i + batch].astype(np.float32)})[0]
        for i in range(0, len(images), batch)
    ]
    return np.concatenate(outputs)


def images_per_s(sess, images, batch, seconds, warmup=3):
    """Throughput on full batches, cycling through the images, for at least
    `seconds` of wall time after `warmup` untimed batches. The float
    conversion is done beforehand: only sess.run is timed, as golden times
    only its forward pass."""
    full = max(1, len(images) // batch)
    batches = [images[i * batch : (i + 1) * batch].astype(np.float32) for i in range(full)]
    for i in range(warmup):
        sess.run(None, {"image": batches[i % full]})
    done, started = 0, time.perf_counter()
    while True:
        sess.run(None, {"image": batches[done % full]})
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done * len(batches[0]) / elapsed, done * len(batches[0]), elapsed


# --------------------------------------------------------------------------
# The exact integer network, for the check
# --------------------------------------------------------------------------


def exact_logits(spec, tensors, images, chunk=250):
    """The integer contract (docs/integer-semantics.md) in numpy.

    GEMMs run in float64: every product and partial sum is an integer below
    2^31 in magnitude (the loader's accumulator bound), far inside float64's
    2^53 of exact integers, so BLAS gives the exact accumulators whatever its
    summation order. Requantization is then done in int64 exactly as
    golden::contract::requantize. Used only to check the twins."""
    out = []
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].astype(np.float64)
        for layer in spec["layers"]:
            kind = layer["kind"]
            if kind == "conv2d":
                name = layer["name"]
                kh, kw = layer["kernel"]
                s, p = layer["stride"], layer["padding"]
                x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
                # windows: (N, C, OH, OW, kh, kw) -> (N, OH, OW, C*kh*kw) in im2col order
                windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
                windows = windows[:, :, ::s, ::s]
                n, c, oh, ow = windows.shape[:4]
                cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, c * kh * kw)
                weight = tensors[f"{name}.weight"].reshape(layer["out_channels"], -1)
                acc = cols @ weight.T.astype(np.float64)  # (N, OH, OW, Cout)
                x = finish(layer, acc + tensors[f"{name}.bias"], tensors).transpose(0, 3, 1, 2)
            elif kind == "linear":
                name = layer["name"]
                acc = x @ tensors[f"{name}.weight"].T.astype(np.float64)
                x = finish(layer, acc + tensors[f"{name}.bias"], tensors)
            elif kind == "maxpool2d":
                k, s = layer["kernel"][0], layer["stride"]
                windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
                x = windows[:, :, ::s, ::s].max(axis=(4, 5))
            elif kind == "flatten":
                x = x.reshape(len(x), -1)
        out.append(x.astype(np.int64))
    return np.concatenate(out)


def finish(layer, acc_plus_bias, tensors):
    """Requantize (hidden layer) or pass through (logits); channel last."""
    acc_plus_bias = np.rint(acc_plus_bias).astype(np.int64)  # exact integers already
    if layer["output"] != "requant":
        return acc_plus_bias.astype(np.float64)
    shifts = np.asarray(layer["shifts"], dtype=np.int64)
    y = (acc_plus_bias + rounding_offsets(shifts)) >> shifts  # arithmetic shift = floor
    return np.clip(y, 0, (1 << layer["out_bits"]) - 1).astype(np.float64)


def argmax_lowest(logits):
    """Top-1 with ties to the lowest index (np.argmax already does that)."""
    return np.argmax(logits, axis=1)


# --------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Tandem model directory")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads (default: all cores)")
    parser.add_argument("--images", type=int, default=10000, help="first N test images (default 10000)")
    parser.add_argument("--batch", type=int, default=256, help="images per run (default 256)")
    parser.add_argument("--seconds", type=float, default=5.0, help="least timed seconds per engine (default 5)")
    parser.add_argument("--calibration", type=int, default=512, help="calibration images (default 512)")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist", help="IDX test files")
    parser.add_argument(
        "--reduce-range",
        choices=["auto", "on", "off"],
        default="auto",
        help="7-bit weights for int8 (default auto: on without VNNI, as onnxruntime recommends)",
    )
    parser.add_argument(
        "--twin-rounding-offset",
        action="store_true",
        help="add the requantizer's rounding offset 2^(s-1) to the twin's bias (biased; for comparison)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the exact-integer agreement check")
    parser.add_argument("--save-dir", help="keep the fp32 and int8 .onnx files here")
    args = parser.parse_args()
    if args.threads < 1 or args.images < 1 or args.batch < 1:
        fail("--threads, --images and --batch must be at least 1")

    spec, tensors = load_model(args.model)
    images, labels = load_test_images(args.data_dir, args.images)
    if len(images) < args.images:
        log(f"the test split has {len(images)} images; using all of them")
    batch = min(args.batch, len(images))
    reduce_range = {"on": True, "off": False, "auto": not has_vnni()}[args.reduce_range]

    if args.save_dir:
        work = Path(args.save_dir)
        work.mkdir(parents=True, exist_ok=True)
    else:
        scratch = tempfile.TemporaryDirectory(prefix="onnx-peer-")  # removed at exit
        work = Path(scratch.name)
    float_path, int8_path = work / "float_twin.onnx", work / "int8.onnx"
    onnx.save(build_float_twin(spec, tensors, args.twin_rounding_offset), str(float_path))
    log(f"quantizing the float twin (QOperator, per channel, U8S8, reduce_range={reduce_range}) "
        f"on {min(args.calibration, len(images))} images")
    quantize(float_path, int8_path, images[: args.calibration], reduce_range)

    result = {
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "threads": args.threads,
        "batch": batch,
        "images": len(images),
        "model": spec["name"],
        "twin_rounding_offset": args.twin_rounding_offset,
        "quantization": {
            "format": "QOperator",
            "per_channel": True,
            "activations": "QUInt8",
            "weights": "QInt8",
            "reduce_range": reduce_range,
            "calibration_images": min(args.calibration, len(images)),
            "calibrate_method": "MinMax",
            "cpu_has_vnni": has_vnni(),
        },
    }
    predictions = {}
    for key, path in (("fp32", float_path), ("int8", int8_path)):
        sess = session(path, args.threads)
        logits = predict_all(sess, images, batch)
        predictions[key] = argmax_lowest(logits)
        rate, timed_images, seconds = images_per_s(sess, images, batch, args.seconds)
        accuracy = float(np.mean(predictions[key] == labels))
        log(f"{key}: {rate:.0f} images/s ({timed_images} images in {seconds:.2f} s), accuracy {accuracy:.4f}")
        suffix = "" if key == "fp32" else "_int8"
        result[f"onnxruntime{suffix}_images_per_s"] = rate
        result[f"onnxruntime{suffix}_accuracy"] = accuracy
        result[f"onnxruntime{suffix}_timed_images"] = timed_images
        result[f"onnxruntime{suffix}_seconds"] = seconds
        del sess

    if not args.no_check:
        # After the timing, so numpy's BLAS threads cannot disturb it.
        log(f"checking against the exact integer network on {len(images)} images")
        exact = argmax_lowest(exact_logits(spec, tensors, images))
        result["exact_correct"] = int(np.sum(exact == labels))
        result["exact_accuracy"] = float(np.mean(exact == labels))
        result["fp32_agreement"] = float(np.mean(predictions["fp32"] == exact))
        result["int8_agreement"] = float(np.mean(predictions["int8"] == exact))
        log(
            f"exact integer accuracy {result['exact_accuracy']:.4f}; top-1 agreement with it: "
            f"fp32 {result['fp32_agreement']:.4f}, int8 {result['int8_agreement']:.4f}"
        )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
