//! [`Source`]: what a [`Dataset`](crate::Dataset) holds and what may be
//! said about it.

use std::fmt;

use crate::error::DatasetError;
use crate::kind::DatasetKind;

/// Where a [`Dataset`](crate::Dataset)'s images come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A packaged labelled dataset, read from its files ([`load`](crate::load)).
    Files(DatasetKind),
    /// Seeded synthetic images ([`synthetic()`](crate::synthetic())): no
    /// files, labels meaningless, accuracy never defined.
    Synthetic {
        /// The seed they were made from.
        seed: u64,
    },
    /// An ImageNet-style folder of class subfolders ([`imagefolder::load`](crate::imagefolder::load)).
    ImageFolder,
}

impl Source {
    /// Name of [`Source::Synthetic`] on the command line.
    pub const SYNTHETIC: &'static str = "synthetic";
    /// Name of [`Source::ImageFolder`] on the command line.
    pub const IMAGEFOLDER: &'static str = "imagefolder";

    /// Every name [`Source::name`] gives, in the order error messages list
    /// them: the file datasets', then `synthetic` and `imagefolder`.
    pub fn names() -> Vec<&'static str> {
        DatasetKind::ALL
            .iter()
            .map(|kind| kind.name())
            .chain([Self::SYNTHETIC, Self::IMAGEFOLDER])
            .collect()
    }

    /// `fashion-mnist`, `mnist`, `cifar10`, `synthetic` or `imagefolder`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Files(kind) => kind.name(),
            Source::Synthetic { .. } => Self::SYNTHETIC,
            Source::ImageFolder => Self::IMAGEFOLDER,
        }
    }

    /// The file dataset, if the images come from one.
    pub fn file_kind(self) -> Option<DatasetKind> {
        match self {
            Source::Files(kind) => Some(kind),
            Source::Synthetic { .. } | Source::ImageFolder => None,
        }
    }

    /// True for synthetic images.
    pub fn is_synthetic(self) -> bool {
        matches!(self, Source::Synthetic { .. })
    }

    /// Whether labels mean anything (false only for synthetic images).
    pub fn has_labels(self) -> bool {
        !self.is_synthetic()
    }

    /// What the images are, for a sentence: `fashion-mnist test split`,
    /// `synthetic images (seed 1)` or `image folder`.
    pub fn describe(self) -> String {
        match self {
            Source::Files(kind) => format!("{} test split", kind.name()),
            Source::Synthetic { seed } => format!("synthetic images (seed {seed})"),
            Source::ImageFolder => "image folder".to_string(),
        }
    }

    /// Checks that `name` is one of [`Source::names`]; the error lists them.
    pub fn check_name(name: &str) -> Result<(), DatasetError> {
        if Self::names().contains(&name) {
            Ok(())
        } else {
            Err(DatasetError::UnknownSource {
                name: name.to_string(),
            })
        }
    }
}

impl From<DatasetKind> for Source {
    fn from(kind: DatasetKind) -> Self {
        Source::Files(kind)
    }
}

impl PartialEq<DatasetKind> for Source {
    fn eq(&self, kind: &DatasetKind) -> bool {
        *self == Source::Files(*kind)
    }
}

impl PartialEq<Source> for DatasetKind {
    fn eq(&self, source: &Source) -> bool {
        source == self
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
