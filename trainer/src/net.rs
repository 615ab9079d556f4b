//! The float networks: the batch-norm teacher and the BN-free network its
//! batch norms fold into.

use crate::error::TrainError;
use golden::model::{conv_out_len, Shape};
use golden::topology::{LayerPlan, Preset, Topology};
use tch::nn::{self, ModuleT};
use tch::{Device, Kind, Tensor};

/// A compute layer's geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerKind {
    Conv {
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    Linear {
        in_features: usize,
        out_features: usize,
    },
}

/// One compute layer of the network. Flatten layers are not listed: a
/// linear layer flattens its input itself (`[N, C, H, W] -> [N, C*H*W]`,
/// the contract's order).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    pub name: String,
    pub kind: LayerKind,
    /// Shape of one image's input to this layer.
    pub in_shape: Shape,
    /// Shape of one image's output.
    pub out_shape: Shape,
}

impl LayerSpec {
    pub fn out_channels(&self) -> usize {
        match self.kind {
            LayerKind::Conv { out_channels, .. } => out_channels,
            LayerKind::Linear { out_features, .. } => out_features,
        }
    }

    /// Products per output value (`K` of the GEMM).
    pub fn fan_in(&self) -> usize {
        match self.kind {
            LayerKind::Conv {
                in_channels,
                kernel,
                ..
            } => in_channels * kernel * kernel,
            LayerKind::Linear { in_features, .. } => in_features,
        }
    }

    /// PyTorch weight shape.
    pub fn weight_shape(&self) -> Vec<i64> {
        match self.kind {
            LayerKind::Conv {
                in_channels,
                out_channels,
                kernel,
                ..
            } => vec![
                out_channels as i64,
                in_channels as i64,
                kernel as i64,
                kernel as i64,
            ],
            LayerKind::Linear {
                in_features,
                out_features,
            } => vec![out_features as i64, in_features as i64],
        }
    }

    /// `x * W + b` for a batch. `x` is `[N, C, H, W]` (flattened here for a
    /// linear layer). Works for any float kind, so the same code serves f32
    /// training and the exact f64 integer forward.
    pub fn apply(&self, x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        match self.kind {
            LayerKind::Conv {
                stride, padding, ..
            } => x.conv2d(
                weight,
                bias,
                &[stride as i64, stride as i64],
                &[padding as i64, padding as i64],
                &[1, 1],
                1,
            ),
            LayerKind::Linear { .. } => {
                let flat = x.flatten(1, -1);
                flat.linear(weight, bias)
            }
        }
    }

    /// Shape `[1, C, 1, 1]` or `[1, C]` to broadcast a per-channel value
    /// over this layer's output.
    pub fn channel_view(&self) -> Vec<i64> {
        let c = self.out_channels() as i64;
        match self.kind {
            LayerKind::Conv { .. } => vec![1, c, 1, 1],
            LayerKind::Linear { .. } => vec![1, c],
        }
    }
}

/// The compute layers of `alexnet-cifar` at `width` with `in_channels` input
/// channels and `classes` outputs.
pub fn alexnet_cifar(
    width: f64,
    in_channels: usize,
    classes: usize,
) -> Result<Vec<LayerSpec>, TrainError> {
    let topology = Topology::new(Preset::AlexnetCifar, width, in_channels, classes)
        .map_err(TrainError::Topology)?;
    specs_from_topology(&topology)
}

/// Compute layers of a topology (conv, flatten, linear only).
pub fn specs_from_topology(topology: &Topology) -> Result<Vec<LayerSpec>, TrainError> {
    let mut shape = topology.input;
    let mut specs = Vec::new();
    for plan in &topology.layers {
        match plan {
            LayerPlan::Conv2d {
                name,
                out_channels,
                kernel,
                stride,
                padding,
            } => {
                let side = |len| {
                    conv_out_len(len, *kernel, *stride, *padding).ok_or_else(|| {
                        TrainError::Topology(format!("{name}: kernel does not fit {shape}"))
                    })
                };
                let out = Shape::new(*out_channels, side(shape.height)?, side(shape.width)?);
                specs.push(LayerSpec {
                    name: name.clone(),
                    kind: LayerKind::Conv {
                        in_channels: shape.channels,
                        out_channels: *out_channels,
                        kernel: *kernel,
                        stride: *stride,
                        padding: *padding,
                    },
                    in_shape: shape,
                    out_shape: out,
                });
                shape = out;
            }
            LayerPlan::Flatten { .. } => shape = Shape::new(shape.len(), 1, 1),
            LayerPlan::Linear { name, out_features } => {
                let out = Shape::new(*out_features, 1, 1);
                specs.push(LayerSpec {
                    name: name.clone(),
                    kind: LayerKind::Linear {
                        in_features: shape.len(),
                        out_features: *out_features,
                    },
                    in_shape: shape,
                    out_shape: out,
                });
                shape = out;
            }
            LayerPlan::MaxPool2d { name, .. } => {
                return Err(TrainError::Topology(format!(
                "{name}: max-pooling layers are not supported by the trainer (use alexnet-cifar)"
            )))
            }
        }
    }
    Ok(specs)
}

/// Whether a flatten layer sits before compute layer `index` in the golden
/// model (the first linear layer after a conv).
pub fn flatten_before(specs: &[LayerSpec], index: usize) -> bool {
    matches!(specs[index].kind, LayerKind::Linear { .. })
        && (index == 0 || matches!(specs[index - 1].kind, LayerKind::Conv { .. }))
}

/// Batch-norm epsilon of the teacher (PyTorch's default).
pub const BN_EPS: f64 = 1e-5;

/// The float teacher: every hidden compute layer is followed by batch norm
/// and ReLU; the last one outputs logits.
pub struct Teacher {
    pub vs: nn::VarStore,
    pub specs: Vec<LayerSpec>,
    weights: Vec<Tensor>,
    biases: Vec<Tensor>,
    norms: Vec<Option<nn::BatchNorm>>,
}

impl Teacher {
    /// A freshly initialized teacher (Kaiming-uniform weights, zero biases,
    /// identity batch norms), drawing from libtorch's seeded generator.
    pub fn new(specs: Vec<LayerSpec>, device: Device) -> Teacher {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let last = specs.len() - 1;
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        let mut norms = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let p = &root / spec.name.as_str();
            weights.push(p.var(
                "weight",
                &spec.weight_shape(),
                nn::init::DEFAULT_KAIMING_UNIFORM,
            ));
            biases.push(p.zeros("bias", &[spec.out_channels() as i64]));
            let config = nn::BatchNormConfig {
                eps: BN_EPS,
                ..Default::default()
            };
            let norm = (index != last).then(|| match spec.kind {
                LayerKind::Conv { .. } => {
                    nn::batch_norm2d(&p / "bn", spec.out_channels() as i64, config)
                }
                LayerKind::Linear { .. } => {
                    nn::batch_norm1d(&p / "bn", spec.out_channels() as i64, config)
                }
            });
            norms.push(norm);
        }
        Teacher {
            vs,
            specs,
            weights,
            biases,
            norms,
        }
    }

    /// A copy with its own variables (batch-norm statistics included),
    /// for training one network from another. The fresh initialization it
    /// overwrites draws from libtorch's generator.
    pub fn duplicate(&self) -> Result<Teacher, TrainError> {
        let mut copy = Teacher::new(self.specs.clone(), self.vs.device());
        copy.vs.copy(&self.vs)?;
        Ok(copy)
    }

    /// Layer `index`'s weight, bias and batch norm (`None` for the logits
    /// layer).
    pub fn layer(&self, index: usize) -> (&Tensor, &Tensor, Option<&nn::BatchNorm>) {
        (
            &self.weights[index],
            &self.biases[index],
            self.norms[index].as_ref(),
        )
    }

    /// Logits for a batch of images scaled to `[0, 1]`. `train` selects
    /// batch statistics (and updates the running ones) or running statistics.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut x = x.shallow_clone();
        for (index, spec) in self.specs.iter().enumerate() {
            x = spec.apply(&x, &self.weights[index], Some(&self.biases[index]));
            if let Some(norm) = &self.norms[index] {
                x = norm.forward_t(&x, train).relu();
            }
        }
        x
    }

    /// The equivalent BN-free network: each batch norm
    /// `y = gamma * (z - mean) / sqrt(var + eps) + beta` after `z = W x + b`
    /// becomes `W' = W * g`, `b' = (b - mean) * g + beta` with
    /// `g = gamma / sqrt(var + eps)` per output channel. Computed in f64 so
    /// the folded network matches the teacher's eval output to float
    /// rounding.
    pub fn fold(&self) -> FloatNet {
        tch::no_grad(|| {
            let mut weights = Vec::new();
            let mut biases = Vec::new();
            for (index, spec) in self.specs.iter().enumerate() {
                let w = self.weights[index].to_kind(Kind::Double);
                let b = self.biases[index].to_kind(Kind::Double);
                let (w, b) = match &self.norms[index] {
                    None => (w, b),
                    Some(norm) => {
                        let gamma = norm.ws.as_ref().expect("affine batch norm");
                        let beta = norm.bs.as_ref().expect("affine batch norm");
                        let g = gamma.to_kind(Kind::Double)
                            / (norm.running_var.to_kind(Kind::Double) + BN_EPS).sqrt();
                        let mut view = vec![-1i64];
                        view.extend(std::iter::repeat_n(1, spec.weight_shape().len() - 1));
                        let w = &w * g.view(view.as_slice());
                        let b = (&b - norm.running_mean.to_kind(Kind::Double)) * &g
                            + beta.to_kind(Kind::Double);
                        (w, b)
                    }
                };
                weights.push(w.to_kind(Kind::Float));
                biases.push(b.to_kind(Kind::Float));
            }
            FloatNet {
                specs: self.specs.clone(),
                weights,
                biases,
            }
        })
    }
}

/// A BN-free float network: `relu(W x + b)` per hidden layer, logits last.
pub struct FloatNet {
    pub specs: Vec<LayerSpec>,
    pub weights: Vec<Tensor>,
    pub biases: Vec<Tensor>,
}

impl FloatNet {
    /// Logits and the output of every hidden layer (after ReLU).
    pub fn forward_all(&self, x: &Tensor) -> (Vec<Tensor>, Tensor) {
        let mut hidden = Vec::new();
        let mut x = x.shallow_clone();
        let last = self.specs.len() - 1;
        for (index, spec) in self.specs.iter().enumerate() {
            x = spec.apply(&x, &self.weights[index], Some(&self.biases[index]));
            if index != last {
                x = x.relu();
                hidden.push(x.shallow_clone());
            }
        }
        (hidden, x)
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_all(x).1
    }

    /// A copy whose tensors share nothing with this one.
    pub fn deep_copy(&self) -> FloatNet {
        FloatNet {
            specs: self.specs.clone(),
            weights: self.weights.iter().map(|w| w.detach().copy()).collect(),
            biases: self.biases.iter().map(|b| b.detach().copy()).collect(),
        }
    }
}
