//! The student: a BN-free network whose layers move from float to
//! fake-quantized (training) to frozen integers.

use crate::net::{FloatNet, LayerSpec};
use crate::quant::{self, IntLayer, IntTensors, LayerBits, INPUT_SCALE};
use tch::{Kind, Tensor};

/// Where a layer is in the progressive schedule.
pub enum LayerState {
    /// Float weights, ReLU: not quantized yet.
    Float,
    /// Quantized in the forward pass (weights, bias and output activations),
    /// float weights underneath updated through straight-through gradients.
    FakeQuant,
    /// Fixed integers; runs the contract's arithmetic.
    Frozen(Box<Frozen>),
}

/// A frozen layer and its constants as f32 tensors for the training forward.
pub struct Frozen {
    pub int: IntLayer,
    tensors: IntTensors,
}

pub struct Student {
    pub specs: Vec<LayerSpec>,
    pub bits: Vec<LayerBits>,
    pub weights: Vec<Tensor>,
    pub biases: Vec<Tensor>,
    /// Output activation scale of every hidden layer, once calibrated.
    pub scales: Vec<Option<f64>>,
    /// `ln(scale)` of every fake-quantized hidden layer whose clip is
    /// learned (`learn_clip`); it replaces `scales[index]` until the layer
    /// is frozen.
    pub log_scales: Vec<Option<Tensor>>,
    /// Learn the activation clips of fake-quantized layers (LSQ-style
    /// gradients) instead of keeping the calibrated ones.
    pub learn_clip: bool,
    /// Per output channel of every fake-quantized hidden layer whose shifts
    /// are learned (`learn_shifts`): the shift as a real number, rounded
    /// straight-through in the forward pass, so the weight scale
    /// `2^-shift * s_out / s_in` is learned in the log2 domain and the
    /// export stays a pure shift.
    pub learned_shifts: Vec<Option<Tensor>>,
    /// Learn the weight shifts of fake-quantized hidden layers (LSQ-style
    /// gradients through the scale) instead of choosing them from the
    /// weights at every step.
    pub learn_shifts: bool,
    pub states: Vec<LayerState>,
}

/// Outputs of a student forward pass.
pub struct StudentOutput {
    /// Output of every hidden layer (real values).
    pub hidden: Vec<Tensor>,
    /// Real-valued logits.
    pub logits: Tensor,
}

impl Student {
    /// A float student initialized from the folded teacher.
    pub fn from_float(net: &FloatNet, bits: Vec<LayerBits>) -> Student {
        let copy = net.deep_copy();
        let layers = copy.specs.len();
        Student {
            specs: copy.specs,
            bits,
            weights: copy.weights,
            biases: copy.biases,
            scales: vec![None; layers],
            log_scales: (0..layers).map(|_| None).collect(),
            learn_clip: false,
            learned_shifts: (0..layers).map(|_| None).collect(),
            learn_shifts: false,
            states: (0..layers).map(|_| LayerState::Float).collect(),
        }
    }

    pub fn layers(&self) -> usize {
        self.specs.len()
    }

    fn is_last(&self, index: usize) -> bool {
        index + 1 == self.layers()
    }

    /// Input scale of layer `index`: 1/255 for the image, else the
    /// output scale of the layer before.
    pub fn input_scale(&self, index: usize) -> f64 {
        if index == 0 {
            INPUT_SCALE
        } else {
            self.output_scale(index - 1)
                .expect("the previous layer is calibrated")
        }
    }

    /// Output activation scale of hidden layer `index` as it is now: the
    /// learned one while its clip is being learned, else the calibrated or
    /// frozen one.
    pub fn output_scale(&self, index: usize) -> Option<f64> {
        match &self.log_scales[index] {
            Some(log_scale) => Some(log_scale.double_value(&[]).exp()),
            None => self.scales[index],
        }
    }

    /// Put layer `index` into fake quantization (it must be calibrated);
    /// with `learn_clip` its clip becomes a trainable `ln(scale)`, with
    /// `learn_shifts` its weight shifts trainable reals starting from the
    /// chosen ones.
    pub fn fake_quantize(&mut self, index: usize) {
        self.states[index] = LayerState::FakeQuant;
        if self.is_last(index) {
            return;
        }
        let device = self.weights[index].device();
        if self.learn_clip {
            if let Some(scale) = self.scales[index] {
                self.log_scales[index] = Some(Tensor::from(scale.ln() as f32).to_device(device));
            }
        }
        if self.learn_shifts && self.learned_shifts[index].is_none() {
            let shifts: Vec<f32> = self
                .quantize(index)
                .shifts
                .iter()
                .map(|&s| s as f32)
                .collect();
            self.learned_shifts[index] = Some(Tensor::of_slice(&shifts).to_device(device));
        }
    }

    /// The learned shifts of layer `index` rounded to the integers the
    /// contract takes.
    fn rounded_shifts(&self, index: usize) -> Option<Vec<u8>> {
        self.learned_shifts[index].as_ref().map(|shifts| {
            let values: Vec<f32> = Vec::from(&shifts.detach().to_device(tch::Device::Cpu));
            values
                .iter()
                .map(|&t| t.round().clamp(0.0, golden::contract::MAX_SHIFT as f32) as u8)
                .collect()
        })
    }

    /// Layer `index` in integers, from its current float weights.
    pub fn quantize(&self, index: usize) -> IntLayer {
        let s_in = self.input_scale(index);
        if self.is_last(index) {
            quant::quantize_logits(
                &self.specs[index],
                self.bits[index],
                &self.weights[index],
                &self.biases[index],
                s_in,
            )
        } else {
            let s_out = self
                .output_scale(index)
                .expect("calibrate before quantizing");
            match self.rounded_shifts(index) {
                Some(shifts) => quant::quantize_hidden_with_shifts(
                    &self.specs[index],
                    self.bits[index],
                    &self.weights[index],
                    &self.biases[index],
                    (s_in, s_out),
                    &shifts,
                ),
                None => quant::quantize_hidden(
                    &self.specs[index],
                    self.bits[index],
                    &self.weights[index],
                    &self.biases[index],
                    s_in,
                    s_out,
                ),
            }
        }
    }

    /// Fake-quantized weights and bias of layer `index` from its integer
    /// layer `int`. With learned shifts the weights go through
    /// [`quant::learned_quant_weight`] so the shifts get gradients; the
    /// forward value is the same integers times their scales.
    fn fake_quant_params(&self, index: usize, int: &IntLayer) -> (Tensor, Tensor) {
        let (w, b) = quant::fake_quant_params(int, &self.weights[index], &self.biases[index]);
        let Some(shifts) = &self.learned_shifts[index] else {
            return (w, b);
        };
        let device = shifts.device();
        let used: Vec<f32> = int.shifts.iter().map(|&s| s as f32).collect();
        let used = Tensor::of_slice(&used).to_device(device);
        // Rounded straight through: the value the integers use, the
        // gradient of the real shift.
        let shift = shifts + (used - shifts).detach();
        let mut view = vec![-1i64];
        view.extend(std::iter::repeat_n(
            1,
            self.specs[index].weight_shape().len() - 1,
        ));
        let scale = (shift * -std::f64::consts::LN_2).exp() * (int.s_out / int.s_in);
        let w = quant::learned_quant_weight(
            &self.weights[index],
            &scale.view(view.as_slice()),
            self.bits[index].w_bits,
        );
        (w, b)
    }

    /// Run layers `0..upto` (all when `upto` is the layer count) on real
    /// inputs. Returns the hidden outputs so far and the last output.
    fn run(&self, x: &Tensor, upto: usize) -> (Vec<Tensor>, Tensor) {
        let mut hidden = Vec::new();
        let mut x = x.shallow_clone();
        for index in 0..upto {
            let spec = &self.specs[index];
            let last = self.is_last(index);
            x = match &self.states[index] {
                LayerState::Frozen(frozen) => tch::no_grad(|| {
                    // Real inputs are integers times s_in; rounding recovers
                    // the integers exactly.
                    let x_int = (&x / frozen.int.s_in).round();
                    frozen.tensors.forward(&x_int) * frozen.int.s_out
                }),
                LayerState::FakeQuant => {
                    let int = self.quantize(index);
                    let (w, b) = self.fake_quant_params(index, &int);
                    let y = spec.apply(&x, &w, Some(&b));
                    match (self.bits[index].out_bits, &self.log_scales[index]) {
                        (Some(bits), Some(log_scale)) if !last => {
                            quant::learned_quant_activation(&y, &log_scale.exp(), bits)
                        }
                        (Some(bits), None) if !last => {
                            quant::fake_quant_activation(&y, int.s_out, bits)
                        }
                        _ => y,
                    }
                }
                LayerState::Float => {
                    let y = spec.apply(&x, &self.weights[index], Some(&self.biases[index]));
                    if last {
                        y
                    } else {
                        y.relu()
                    }
                }
            };
            if !last {
                hidden.push(x.shallow_clone());
            }
        }
        (hidden, x)
    }

    pub fn forward(&self, x: &Tensor) -> StudentOutput {
        let (hidden, logits) = self.run(x, self.layers());
        StudentOutput { hidden, logits }
    }

    /// Layer `index`'s float pre-activation (`W x + b`, no ReLU) with the
    /// layers before it as they are now: what its clip is calibrated on.
    pub fn pre_activation(&self, x: &Tensor, index: usize) -> Tensor {
        tch::no_grad(|| {
            let (_, input) = self.run(x, index);
            self.specs[index].apply(&input, &self.weights[index], Some(&self.biases[index]))
        })
    }

    /// Calibrate layer `index`'s output scale on `x` (hidden layers only).
    pub fn calibrate(&mut self, x: &Tensor, index: usize) {
        if let Some(bits) = self.bits[index].out_bits {
            if !self.is_last(index) {
                let y = self.pre_activation(x, index);
                self.scales[index] = Some(quant::calibrate_scale(&y, bits));
            }
        }
    }

    /// Quantize layer `index` from its current weights and fix it.
    pub fn freeze(&mut self, index: usize) {
        let int = self.quantize(index);
        if let Some(log_scale) = self.log_scales[index].take() {
            self.scales[index] = Some(log_scale.double_value(&[]).exp());
        }
        // The integers keep the rounded shifts; the reals are done.
        self.learned_shifts[index] = None;
        let tensors = int.tensors(Kind::Float, self.weights[index].device());
        self.weights[index] = self.weights[index].detach();
        self.biases[index] = self.biases[index].detach();
        self.states[index] = LayerState::Frozen(Box::new(Frozen { int, tensors }));
    }

    /// The integer layers, when every layer is frozen.
    pub fn int_layers(&self) -> Option<Vec<IntLayer>> {
        self.states
            .iter()
            .map(|state| match state {
                LayerState::Frozen(frozen) => Some(frozen.int.clone()),
                _ => None,
            })
            .collect()
    }
}
