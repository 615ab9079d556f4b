//! BN folding and power-of-two scale construction.

use std::sync::{Mutex, MutexGuard};

use tch::{Device, Kind, Tensor};
use trainer::net::{alexnet_cifar, Teacher};
use trainer::quant::{self, pow2_weight_scale, LayerBits};
use trainer::student::{LayerState, Student};

/// libtorch's generator is process-wide and the test harness runs tests on
/// parallel threads, so a test that seeds it and then draws must hold this
/// lock: without it another test's draws interleave and the inputs (and the
/// counts of .5 ties the bounds below allow for) change from run to run.
static TORCH_GENERATOR: Mutex<()> = Mutex::new(());

fn lock_generator() -> MutexGuard<'static, ()> {
    // A test that panicked while holding the lock leaves nothing to repair.
    TORCH_GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn tiny_teacher(seed: i64) -> Teacher {
    tch::manual_seed(seed);
    let specs = alexnet_cifar(0.0625, 1, 10).unwrap();
    let teacher = Teacher::new(specs, Device::Cpu);
    // Make every batch norm non-trivial: random affine parameters and
    // running statistics far from the identity.
    tch::no_grad(|| {
        for (name, mut tensor) in teacher.vs.variables() {
            if !name.contains(".bn.") {
                continue;
            }
            let size = tensor.size();
            let random = Tensor::rand(size.as_slice(), (Kind::Float, Device::Cpu));
            let value = if name.ends_with("running_var") {
                random * 3.0 + 0.05
            } else if name.ends_with("running_mean") {
                (random - 0.5) * 2.0
            } else if name.ends_with("weight") {
                random * 2.0 + 0.2
            } else {
                random - 0.5
            };
            tensor.copy_(&value);
        }
    });
    teacher
}

#[test]
fn folded_network_matches_the_teacher_in_eval_mode() {
    let _generator = lock_generator();
    let teacher = tiny_teacher(3);
    let folded = teacher.fold();
    let x = Tensor::rand(&[16, 1, 32, 32], (Kind::Float, Device::Cpu));
    let (reference, output) = tch::no_grad(|| (teacher.forward(&x, false), folded.forward(&x)));
    let scale = reference.abs().max().double_value(&[]).max(1e-3);
    let diff = (&reference - &output).abs().max().double_value(&[]);
    assert!(
        diff <= 1e-4 * scale,
        "folded logits differ by {diff} (logit scale {scale})"
    );
    // Same predictions too.
    assert_eq!(
        Vec::<i64>::from(&reference.argmax(-1, false)),
        Vec::<i64>::from(&output.argmax(-1, false))
    );
}

#[test]
fn every_shift_reproduces_the_requant_factor_exactly() {
    let _generator = lock_generator();
    tch::manual_seed(5);
    let specs = alexnet_cifar(0.0625, 1, 10).unwrap();
    let spec = &specs[1];
    for (w_bits, in_bits, out_bits) in
        [(2u8, 2u8, 2u8), (4, 4, 4), (8, 8, 8), (3, 4, 3), (16, 8, 8)]
    {
        for (s_in, s_out) in [(1.0 / 255.0, 0.37), (0.013, 0.021), (0.2, 0.0031)] {
            let weight =
                Tensor::randn(spec.weight_shape().as_slice(), (Kind::Float, Device::Cpu)) * 0.05;
            let bias =
                Tensor::randn(&[spec.out_channels() as i64], (Kind::Float, Device::Cpu)) * 0.1;
            let bits = LayerBits {
                w_bits,
                in_bits,
                out_bits: Some(out_bits),
            };
            let int = quant::quantize_hidden(spec, bits, &weight, &bias, s_in, s_out);
            let (wmin, wmax) = golden::contract::weight_range(w_bits);
            assert!(int.weights.iter().all(|&w| w >= wmin && w <= wmax));
            for (c, (&shift, &s_w)) in int.shifts.iter().zip(&int.s_w).enumerate() {
                assert!(shift <= 31);
                // The weight scale is the power of two times s_out / s_in...
                assert_eq!(s_w, pow2_weight_scale(s_in, s_out, shift));
                // ...so the float requant factor s_in * s_w / s_out is 2^-shift.
                let factor = s_in * s_w / s_out;
                let exact = 2f64.powi(-(shift as i32));
                assert!(
                    (factor - exact).abs() <= 1e-12 * exact,
                    "channel {c}: factor {factor} vs 2^-{shift}"
                );
                // And requantizing with the shift equals rounding the real
                // output (s_in * s_w * (acc + bias)) in units of s_out.
                for acc in [-1000i64, -3, 0, 1, 7, 100, 12345, 987654, 3, 5, 8, 24] {
                    let total = acc + int.bias[c] as i64;
                    let units = s_in * s_w * total as f64 / s_out;
                    if (units - units.floor() - 0.5).abs() < 1e-9 {
                        // An exact tie: float rounding of the product may
                        // land either side; the integer path rounds up.
                        continue;
                    }
                    let expected = ((units + 0.5).floor() as i64)
                        .clamp(0, golden::contract::activation_max(out_bits) as i64);
                    let got = golden::contract::requantize(total, shift, out_bits) as i64;
                    assert_eq!(got, expected, "acc {acc} channel {c} shift {shift}");
                }
            }
        }
    }
}

#[test]
fn fake_quantized_layer_matches_its_frozen_integer_layer() {
    let _generator = lock_generator();
    let teacher = tiny_teacher(7);
    let folded = teacher.fold();
    let bits = quant::network_bits(folded.specs.len(), 4, 4, 8);
    let x = Tensor::rand(&[8, 1, 32, 32], (Kind::Float, Device::Cpu));
    let x = (x * 255.0).round() / 255.0;
    let mut fake = Student::from_float(&folded, bits.clone());
    let mut frozen = Student::from_float(&folded, bits);
    for index in 0..2 {
        fake.calibrate(&x, index);
        frozen.calibrate(&x, index);
        fake.states[index] = LayerState::FakeQuant;
        frozen.freeze(index);
    }
    let a = tch::no_grad(|| fake.forward(&x).hidden);
    let b = tch::no_grad(|| frozen.forward(&x).hidden);
    for (index, limit) in [(0usize, 0.005f64), (1, 0.02)] {
        let scale = fake.scales[index].unwrap();
        let units = ((&a[index] - &b[index]) / scale).abs();
        if index == 0 {
            // Same input: off by more than one unit would be a real
            // disagreement (layer 1 may see a flipped input, so no bound).
            assert!(units.max().double_value(&[]) < 1.5);
        }
        let off = units.gt(0.5).sum(Kind::Int64).int64_value(&[]) as f64;
        // f32 rounding may flip an exact .5 tie (about 2^-shift of the
        // values); a flipped input can move the next layer's outputs too.
        assert!(
            off <= limit * units.numel() as f64,
            "layer {index}: {off} of {} activations differ",
            units.numel()
        );
    }
}

#[test]
fn teacher_checkpoint_round_trips() {
    let _generator = lock_generator();
    let teacher = tiny_teacher(11);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("teacher.safetensors");
    trainer::checkpoint::save(&teacher.vs, &file, Default::default()).unwrap();
    let other = tiny_teacher(12);
    trainer::checkpoint::load(&other.vs, &file).unwrap();
    let x = Tensor::rand(&[4, 1, 32, 32], (Kind::Float, Device::Cpu));
    let (a, b) = tch::no_grad(|| (teacher.forward(&x, false), other.forward(&x, false)));
    assert_eq!(
        Vec::<f32>::from(&a.flatten(0, -1)),
        Vec::<f32>::from(&b.flatten(0, -1))
    );

    // A checkpoint of another width is refused with the tensor named.
    let wider = Teacher::new(alexnet_cifar(0.125, 1, 10).unwrap(), Device::Cpu);
    let message = trainer::checkpoint::load(&wider.vs, &file)
        .unwrap_err()
        .to_string();
    assert!(message.contains("teacher.safetensors"), "{message}");
    assert!(message.contains("shape"), "{message}");
}

#[test]
fn learned_clip_quantizer_matches_the_fixed_one_and_has_the_lsq_gradient() {
    let _generator = lock_generator();
    let bits = 3u8;
    let levels = 7.0;
    let scale_value = 0.25f64;
    // Below the range, inside it (off-grid and on a .5 tie), above it.
    let values = [-1.0f32, 0.1, 0.3, 0.375, 1.0, 1.6, 5.0];
    let y = Tensor::of_slice(&values)
        .view([1, 7])
        .set_requires_grad(true);
    let log_scale = Tensor::from(scale_value.ln() as f32).set_requires_grad(true);
    let learned = quant::learned_quant_activation(&y, &log_scale.exp(), bits);
    let fixed = quant::fake_quant_activation(&y.detach(), scale_value, bits);
    let got: Vec<f32> = Vec::from(&learned.detach());
    let want: Vec<f32> = Vec::from(&fixed);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
    }
    // Forward: round half up of y/s, clamped to 0..=7 units.
    let units: Vec<f32> = values
        .iter()
        .map(|&v| ((v as f64 / scale_value + 0.5).floor().clamp(0.0, levels) * scale_value) as f32)
        .collect();
    assert_eq!(got, units);

    learned.sum(Kind::Float).backward();
    // Inputs: straight through inside the clip range, zero outside.
    let input_grad: Vec<f32> = Vec::from(&y.grad().view([7]));
    assert_eq!(input_grad, vec![0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    // Scale: sum of (round(y/s) - y/s) inside, `levels` above, 0 below,
    // times the LSQ gradient scale 1/sqrt(7 * levels); d/d ln(s) adds a
    // factor s.
    let expected: f64 = values
        .iter()
        .map(|&v| {
            let u = v as f64 / scale_value;
            if u <= 0.0 {
                0.0
            } else if u >= levels {
                levels
            } else {
                (u + 0.5).floor() - u
            }
        })
        .sum::<f64>()
        / (7.0 * levels).sqrt()
        * scale_value;
    let got = log_scale.grad().double_value(&[]);
    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
}

#[test]
fn learned_clips_freeze_to_the_scale_the_next_layer_sees() {
    let _generator = lock_generator();
    let teacher = tiny_teacher(5);
    let folded = teacher.fold();
    let bits = quant::network_bits(folded.specs.len(), 4, 4, 8);
    let x = Tensor::rand(&[8, 1, 32, 32], (Kind::Float, Device::Cpu));
    let x = (x * 255.0).round() / 255.0;
    let mut student = Student::from_float(&folded, bits);
    student.learn_clip = true;
    student.calibrate(&x, 0);
    let calibrated = student.scales[0].unwrap();
    student.fake_quantize(0);
    // Training moved the clip: 1.5x the calibrated scale.
    let moved = calibrated * 1.5;
    student.log_scales[0] = Some(Tensor::from(moved.ln() as f32));
    assert!((student.output_scale(0).unwrap() - moved).abs() < 1e-6 * moved);
    // Layer 1 quantizes against the moved input scale, before and after
    // layer 0 freezes.
    student.calibrate(&x, 1);
    assert!((student.input_scale(1) - moved).abs() < 1e-6 * moved);
    student.freeze(0);
    assert!(student.log_scales[0].is_none());
    let frozen = student.scales[0].unwrap();
    assert!((frozen - moved).abs() < 1e-6 * moved);
    assert!(matches!(student.states[0], LayerState::Frozen(_)));
    let int = student.quantize(1);
    assert_eq!(int.s_in, frozen);
}

#[test]
fn learned_weight_quantizer_lands_on_the_grid_with_lsq_gradients() {
    let _generator = lock_generator();
    // Two channels of 3 weights, 3 bits (qmax 3), scales 0.5 and 0.25.
    let w = Tensor::of_slice(&[0.2f32, -0.9, 3.0, 0.3, 0.1, -0.05])
        .view([2, 3])
        .set_requires_grad(true);
    let scale = Tensor::of_slice(&[0.5f32, 0.25])
        .view([2, 1])
        .set_requires_grad(true);
    let q = quant::learned_quant_weight(&w, &scale, 3);
    let got: Vec<f32> = Vec::from(&q.detach().flatten(0, -1));
    // Round to nearest, clamped to -3..=3 units of each channel's scale.
    assert_eq!(got, vec![0.0, -1.0, 1.5, 0.25, 0.0, -0.0]);
    q.sum(Kind::Float).backward();
    let w_grad: Vec<f32> = Vec::from(&w.grad().flatten(0, -1));
    // Straight through inside the range; 3.0 / 0.5 = 6 units is outside.
    assert_eq!(w_grad, vec![1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
    // d/ds: round(u) - u inside, +-qmax outside, times 1/sqrt(3 * 3).
    let expected = [
        ((0.0 - 0.4) + (-2.0 + 1.8) + 3.0) / 3.0,
        ((1.0 - 1.2) + (0.0 - 0.4) + (0.0 + 0.2)) / 3.0,
    ];
    let got: Vec<f32> = Vec::from(&scale.grad().flatten(0, -1));
    for (g, e) in got.iter().zip(expected) {
        assert!((*g as f64 - e).abs() < 1e-5, "{got:?} vs {expected:?}");
    }
}

#[test]
fn learned_shifts_freeze_to_their_rounded_values() {
    let _generator = lock_generator();
    let teacher = tiny_teacher(13);
    let folded = teacher.fold();
    let bits = quant::network_bits(folded.specs.len(), 4, 4, 8);
    let x = Tensor::rand(&[8, 1, 32, 32], (Kind::Float, Device::Cpu));
    let x = (x * 255.0).round() / 255.0;
    let mut student = Student::from_float(&folded, bits);
    student.learn_shifts = true;
    student.calibrate(&x, 0);
    student.fake_quantize(0);
    let chosen = student.quantize(0).shifts;
    // Move every learned shift by less than half a unit up, and channel 0 by
    // more: freezing rounds them.
    let learned = student.learned_shifts[0].as_ref().unwrap();
    let mut moved: Vec<f32> = Vec::from(learned);
    for value in moved.iter_mut() {
        *value += 0.3;
    }
    moved[0] -= 1.0;
    student.learned_shifts[0] = Some(Tensor::of_slice(&moved));
    let fake = tch::no_grad(|| student.forward(&x).hidden[0].shallow_clone());
    student.freeze(0);
    let LayerState::Frozen(frozen) = &student.states[0] else {
        panic!("layer 0 is frozen");
    };
    let mut expected = chosen.clone();
    expected[0] = expected[0].saturating_sub(1);
    // The accumulator bound may lower a shift further, never raise one.
    for (got, want) in frozen.int.shifts.iter().zip(&expected) {
        assert!(got <= want, "{:?} vs {expected:?}", frozen.int.shifts);
    }
    assert_eq!(frozen.int.shifts[1..], expected[1..]);
    assert!(student.learned_shifts[0].is_none());
    // The fake-quantized forward with the learned shifts is the frozen
    // layer's, up to f32 rounding of exact .5 ties (as in
    // fake_quantized_layer_matches_its_frozen_integer_layer).
    let exact = tch::no_grad(|| student.forward(&x).hidden[0].shallow_clone());
    let scale = student.scales[0].unwrap();
    let units = ((fake - exact) / scale).abs();
    assert!(units.max().double_value(&[]) < 1.5);
    let off = units.gt(0.5).sum(Kind::Int64).int64_value(&[]) as f64;
    assert!(
        off <= 0.005 * units.numel() as f64,
        "{off} of {} activations differ",
        units.numel()
    );
}
