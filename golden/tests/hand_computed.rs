//! Hand-computed cases of the integer contract, run through both the
//! readable reference and the fast path.

use golden::contract::argmax;
use golden::fast::{FastModel, Isa};
use golden::model::{
    ComputeParams, Conv2d, Layer, Linear, MaxPool2d, Model, Op, Output, Provenance, Shape,
};
use golden::reference;
use ndarray::Array3;

fn conv(
    name: &str,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    params: ComputeParams,
) -> Layer {
    Layer {
        name: name.into(),
        op: Op::Conv2d(Conv2d {
            in_channels: cin,
            out_channels: cout,
            kernel: [kernel, kernel],
            stride,
            padding,
            params,
        }),
    }
}

fn linear(name: &str, fin: usize, fout: usize, params: ComputeParams) -> Layer {
    Layer {
        name: name.into(),
        op: Op::Linear(Linear {
            in_features: fin,
            out_features: fout,
            params,
        }),
    }
}

fn flatten() -> Layer {
    Layer {
        name: "flatten".into(),
        op: Op::Flatten,
    }
}

/// Both paths, every layer, must give `expected` for the traced layers.
fn run_both(model: &Model, image: Vec<i32>) -> Vec<Vec<i32>> {
    let shape = model.input;
    let view =
        Array3::from_shape_vec((shape.channels, shape.height, shape.width), image.clone()).unwrap();
    let readable: Vec<Vec<i32>> = reference::forward_trace(model, view.view())
        .into_iter()
        .map(|t| t.into_iter().collect())
        .collect();
    for isa in Isa::available() {
        let fast = FastModel::with_isa(model, isa).forward_trace(&image);
        assert_eq!(
            readable,
            fast,
            "readable and fast ({}) paths disagree",
            isa.name()
        );
    }
    readable
}

/// A 2x2 convolution on a 3x3 image, requantized with shifts 1 and 0, then a
/// linear classifier whose logits include a negative one and a tie.
#[test]
fn two_by_two_conv_then_linear() {
    let conv_params = ComputeParams {
        w_bits: 3, // weights in [-3, 3]
        in_bits: 8,
        output: Output::Requant {
            bits: 3, // outputs in [0, 7]
            shifts: vec![1, 0],
        },
        // ch0 = [[1,-1],[2,0]], ch1 = [[0,0],[0,1]]
        weights: vec![1, -1, 2, 0, 0, 0, 0, 1],
        bias: vec![1, -2],
    };
    let fc_params = ComputeParams {
        w_bits: 2,
        in_bits: 3,
        output: Output::Logits,
        weights: vec![
            1, 0, 0, 0, 0, 0, 0, 0, // picks conv ch0 (0,0)
            0, 0, 0, 0, -1, -1, -1, -1, // minus the sum of ch1
            1, 1, 1, 1, 1, 1, 1, 1, // sum of everything
        ],
        bias: vec![0, 15, -39],
    };
    let model = Model::new(
        "hand",
        "custom",
        1.0,
        Shape::new(1, 3, 3),
        8,
        Provenance::default(),
        vec![
            conv("conv", 1, 2, 2, 1, 0, conv_params),
            flatten(),
            linear("fc", 8, 3, fc_params),
        ],
    )
    .unwrap();
    let trace = run_both(&model, vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // ch0 acc+bias: 8, 10, 14, 16 -> (x+1)>>1 = 4, 5, 7, 8->clamped 7
    // ch1 acc+bias: 5-2, 6-2, 8-2, 9-2 = 3, 4, 6, 7 (shift 0)
    assert_eq!(trace[0], vec![4, 5, 7, 7, 3, 4, 6, 7]);
    assert_eq!(trace[1], trace[0], "flatten keeps C,H,W order");
    // logits: 4; -(3+4+6+7)+15 = -5; 43-39 = 4
    assert_eq!(trace[2], vec![4, -5, 4]);
    assert_eq!(argmax(&trace[2]), Some(0), "tie goes to the lowest index");
}

/// Zero padding contributes integer 0; stride and padding together.
#[test]
fn padding_and_stride() {
    let params = |output| ComputeParams {
        w_bits: 2,
        in_bits: 8,
        output,
        weights: vec![1, 1, 1, 1],
        bias: vec![0],
    };
    let model = Model::new(
        "pad",
        "custom",
        1.0,
        Shape::new(1, 2, 2),
        8,
        Provenance::default(),
        vec![conv("conv", 1, 1, 2, 1, 1, params(Output::Logits))],
    )
    .unwrap();
    let trace = run_both(&model, vec![1, 2, 3, 4]);
    assert_eq!(trace[0], vec![1, 3, 2, 4, 10, 6, 3, 7, 4]);

    let strided = Model::new(
        "pad-stride",
        "custom",
        1.0,
        Shape::new(1, 2, 2),
        8,
        Provenance::default(),
        vec![conv("conv", 1, 1, 2, 2, 1, params(Output::Logits))],
    )
    .unwrap();
    // Windows at (-1,-1) and (-1,1), (1,-1), (1,1): corners only.
    assert_eq!(run_both(&strided, vec![1, 2, 3, 4])[0], vec![1, 2, 3, 4]);
}

/// Max-pool on unsigned activations, then a classifier.
#[test]
fn maxpool_picks_the_largest() {
    let identity = ComputeParams {
        w_bits: 2,
        in_bits: 8,
        output: Output::Requant {
            bits: 8,
            shifts: vec![0],
        },
        weights: vec![1],
        bias: vec![0],
    };
    let fc = ComputeParams {
        w_bits: 2,
        in_bits: 8,
        output: Output::Logits,
        weights: vec![1, 1, 1, 1, -1, -1, -1, -1],
        bias: vec![0, 0],
    };
    let model = Model::new(
        "pool",
        "custom",
        1.0,
        Shape::new(1, 4, 4),
        8,
        Provenance::default(),
        vec![
            conv("conv", 1, 1, 1, 1, 0, identity),
            Layer {
                name: "pool".into(),
                op: Op::MaxPool2d(MaxPool2d {
                    kernel: 2,
                    stride: 2,
                }),
            },
            flatten(),
            linear("fc", 4, 2, fc),
        ],
    )
    .unwrap();
    let image = vec![
        1, 9, 2, 3, //
        4, 5, 200, 0, //
        0, 0, 7, 7, //
        0, 1, 7, 8,
    ];
    let trace = run_both(&model, image);
    assert_eq!(trace[1], vec![9, 200, 1, 8]);
    assert_eq!(trace[3], vec![218, -218]);
    assert_eq!(argmax(&trace[3]), Some(0));
}

/// Saturation at both ends and extreme operands: 16-bit activations (the
/// fast path's wide kernel) against 16-bit weights at the ends of their range.
#[test]
fn extremes_with_sixteen_bit_operands() {
    let max_w = 32767;
    let params = ComputeParams {
        w_bits: 16,
        in_bits: 8,
        output: Output::Requant {
            bits: 16,
            shifts: vec![0, 0, 31, 8],
        },
        weights: vec![max_w, -max_w, max_w, 1],
        bias: vec![0, 0, 0, -300],
    };
    let second = ComputeParams {
        w_bits: 16,
        in_bits: 16,
        output: Output::Logits,
        // 65535 * 32767 = 2147385345 still fits i32.
        weights: vec![max_w, 0, 0, 0, 0, -max_w, 0, 0],
        bias: vec![0, 0],
    };
    let model = Model::new(
        "extreme",
        "custom",
        1.0,
        Shape::new(1, 1, 1),
        8,
        Provenance::default(),
        vec![
            conv("conv", 1, 4, 1, 1, 0, params),
            flatten(),
            linear("fc", 4, 2, second),
        ],
    )
    .unwrap();
    let trace = run_both(&model, vec![255]);
    // 255*32767 = 8355585 saturates 16 bits; negative clamps to 0;
    // 8355585 >> 31 (with rounding 2^30) = 0; (255 - 300 + 128) >> 8 = 0.
    assert_eq!(trace[0], vec![65535, 0, 0, 0]);
    assert_eq!(trace[2], vec![65535 * max_w, 0]);
}
