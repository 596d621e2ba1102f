//! One error type for the whole core. Every failure the user can cause maps to one
//! [`ErrorKind`] and one single-line, human-readable message; the CLI prints it on one
//! stderr line and the wasm shell turns it into a JS exception.

use std::fmt;

/// What went wrong, in the categories the CLI's exit status and the JS exception's `name` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file could not be read or written.
    Io,
    /// The bytes are not a readable ONNX model.
    CorruptModel,
    /// The model uses an operator we cannot run (or explain).
    UnsupportedOperator,
    /// A tensor or model input has the wrong shape.
    Shape,
    /// Image bytes that cannot be decoded, or an image that is too large.
    Image,
    /// A sidecar JSON that is malformed or inconsistent with the model.
    Sidecar,
    /// A bad parameter value (unknown class, bad top-k, ...).
    Parameter,
    /// A resource limit was exceeded before any work started.
    Limit,
    /// NaN or infinity where finite numbers are required.
    NonFinite,
    /// A malformed `.npy` file.
    Npy,
    /// tract failed while running a model that loaded fine.
    Runtime,
}

impl ErrorKind {
    /// The CLI's exit status for this kind (2 is clap's, for unparsable arguments).
    pub fn exit_code(self) -> i32 {
        3 + self as i32
    }

    /// The kind's kebab-case name (`io`, `corrupt-model`, ..., `runtime`): the JS exception's
    /// `name`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::CorruptModel => "corrupt-model",
            ErrorKind::UnsupportedOperator => "unsupported-operator",
            ErrorKind::Shape => "shape",
            ErrorKind::Image => "image",
            ErrorKind::Sidecar => "sidecar",
            ErrorKind::Parameter => "parameter",
            ErrorKind::Limit => "limit",
            ErrorKind::NonFinite => "non-finite",
            ErrorKind::Npy => "npy",
            ErrorKind::Runtime => "runtime",
        }
    }
}

/// A failure of the core: its kind and a one-line, human-readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The category (exit status, JS exception name).
    pub kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind`; a multi-line `message` is joined into one line (lines trimmed,
    /// empty ones dropped, `; ` between them).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        // One line, always: multi-line causes from dependencies are joined.
        let message: String = message.into();
        let message = message
            .split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Error { kind, message }
    }

    /// Wraps an error from tract (anyhow), keeping its cause chain on one line.
    pub fn tract(kind: ErrorKind, what: &str, e: impl Into<anyhow_like::AnyError>) -> Error {
        let e: anyhow_like::AnyError = e.into();
        Error::new(kind, format!("{what}: {}", e.0))
    }

    /// The one-line message (also what `Display` prints).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The crate's result type, with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) mod anyhow_like {
    /// The `{:#}` rendering of a tract error: its whole cause chain on one line.
    pub struct AnyError(pub String);
    impl From<tract_onnx::prelude::TractError> for AnyError {
        fn from(e: tract_onnx::prelude::TractError) -> Self {
            AnyError(format!("{e:#}"))
        }
    }
}

/// Shorthand: `err!(Kind, "fmt", args)`.
#[macro_export]
macro_rules! err {
    ($kind:ident, $($arg:tt)*) => {
        $crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($arg)*))
    };
}

/// Maps a tract error met while running `what` to a [`ErrorKind::Runtime`] error.
pub(crate) fn tract_err(what: &str) -> impl FnOnce(tract_onnx::prelude::TractError) -> Error + '_ {
    move |e| Error::tract(ErrorKind::Runtime, what, e)
}
