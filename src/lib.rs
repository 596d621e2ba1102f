//! The saliency viewer's pure-Rust core: model loading, preprocessing, inference, model
//! description; compiled natively (CLI, tests) and to WebAssembly (the `wasm` shell).

pub mod array;
pub mod baseline;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod info;
pub mod kernels;
pub mod load;
pub mod lrp;
pub mod methods;
pub mod model;
pub mod npy;
pub mod preprocess;
pub mod render;
pub mod request;
pub mod session;
pub mod sidecar;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorKind, Result};
pub use methods::{Baseline, Explainer, Explanation, IgRule, Method};
pub use model::{Model, Prediction};
pub use sidecar::Sidecar;
