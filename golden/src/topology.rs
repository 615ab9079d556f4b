//! Topology presets: the layer structure of a network without its numbers.
//!
//! A [`Topology`] lists layer kinds and sizes; [`crate::random`] (and the
//! trainer's export) fill in bit-widths, weights, biases and shifts.

use crate::model::Shape;

/// The presets `tandem` knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// AlexNet adapted to 32x32 inputs: five 3x3 convolutions (96 s1, 256 s2,
    /// 384 s2, 384 s1, 256 s2, padding 1), then fc 4096->2048 and
    /// fc 2048->classes. No max-pool: the strided convolutions downsample.
    AlexnetCifar,
    /// The classic 224x224 AlexNet: conv 11x11/4 64, maxpool 3/2, conv 5x5
    /// 192, maxpool, conv 3x3 384, 256, 256, maxpool, fc 9216->4096->4096->classes.
    AlexnetImagenet,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::AlexnetCifar, Preset::AlexnetImagenet];

    pub fn name(self) -> &'static str {
        match self {
            Preset::AlexnetCifar => "alexnet-cifar",
            Preset::AlexnetImagenet => "alexnet-imagenet",
        }
    }

    /// Parse a preset name; the error lists the valid names.
    pub fn from_name(name: &str) -> Result<Preset, String> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown topology `{name}` (expected one of: {})",
                    Preset::ALL.map(Preset::name).join(", ")
                )
            })
    }

    /// Input height and width.
    pub fn input_size(self) -> usize {
        match self {
            Preset::AlexnetCifar => 32,
            Preset::AlexnetImagenet => 224,
        }
    }

    /// Default number of classes.
    pub fn default_classes(self) -> usize {
        match self {
            Preset::AlexnetCifar => 10,
            Preset::AlexnetImagenet => 1000,
        }
    }
}

/// One layer of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerPlan {
    Conv2d {
        name: String,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    MaxPool2d {
        name: String,
        kernel: usize,
        stride: usize,
    },
    Flatten {
        name: String,
    },
    Linear {
        name: String,
        out_features: usize,
    },
}

/// A preset instantiated with a width multiplier, input channels and classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub preset: Preset,
    pub width: f64,
    pub input: Shape,
    pub layers: Vec<LayerPlan>,
}

/// Scale a channel count by the width multiplier (at least 1 channel).
pub fn scale_channels(channels: usize, width: f64) -> usize {
    ((channels as f64 * width).round() as usize).max(1)
}

impl Topology {
    /// Build a preset. `width` scales every hidden channel and feature count
    /// (0 < width <= 4); the classifier keeps `classes` outputs.
    pub fn new(
        preset: Preset,
        width: f64,
        in_channels: usize,
        classes: usize,
    ) -> Result<Topology, String> {
        if !(width > 0.0 && width <= 4.0) {
            return Err(format!("width = {width}: must be in (0, 4]"));
        }
        if in_channels == 0 {
            return Err("in_channels must be at least 1".into());
        }
        if classes < 2 {
            return Err(format!("classes = {classes}: must be at least 2"));
        }
        let ch = |c: usize| scale_channels(c, width);
        let conv = |name: &str, out: usize, kernel: usize, stride: usize, padding: usize| {
            LayerPlan::Conv2d {
                name: name.into(),
                out_channels: ch(out),
                kernel,
                stride,
                padding,
            }
        };
        let pool = |name: &str| LayerPlan::MaxPool2d {
            name: name.into(),
            kernel: 3,
            stride: 2,
        };
        let flatten = LayerPlan::Flatten {
            name: "flatten".into(),
        };
        let fc = |name: &str, out: usize| LayerPlan::Linear {
            name: name.into(),
            out_features: out,
        };
        let layers = match preset {
            Preset::AlexnetCifar => vec![
                conv("conv1", 96, 3, 1, 1),
                conv("conv2", 256, 3, 2, 1),
                conv("conv3", 384, 3, 2, 1),
                conv("conv4", 384, 3, 1, 1),
                conv("conv5", 256, 3, 2, 1),
                flatten,
                fc("fc6", ch(2048)),
                fc("fc7", classes),
            ],
            Preset::AlexnetImagenet => vec![
                conv("conv1", 64, 11, 4, 2),
                pool("pool1"),
                conv("conv2", 192, 5, 1, 2),
                pool("pool2"),
                conv("conv3", 384, 3, 1, 1),
                conv("conv4", 256, 3, 1, 1),
                conv("conv5", 256, 3, 1, 1),
                pool("pool5"),
                flatten,
                fc("fc6", ch(4096)),
                fc("fc7", ch(4096)),
                fc("fc8", classes),
            ],
        };
        let size = preset.input_size();
        Ok(Topology {
            preset,
            width,
            input: Shape::new(in_channels, size, size),
            layers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_width_cifar_channels() {
        let t = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).unwrap();
        let outs: Vec<usize> = t
            .layers
            .iter()
            .filter_map(|l| match l {
                LayerPlan::Conv2d { out_channels, .. } => Some(*out_channels),
                LayerPlan::Linear { out_features, .. } => Some(*out_features),
                _ => None,
            })
            .collect();
        assert_eq!(outs, vec![24, 64, 96, 96, 64, 512, 10]);
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(Topology::new(Preset::AlexnetCifar, 0.0, 1, 10).is_err());
        assert!(Topology::new(Preset::AlexnetCifar, 1.0, 0, 10).is_err());
        assert!(Preset::from_name("vgg")
            .unwrap_err()
            .contains("alexnet-cifar"));
    }
}
