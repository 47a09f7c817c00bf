//! One error type for the library, the CLI and the browser API.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The bytes are not a weights file at all (an HTML page, an image, ...).
    #[error("not a weights file: {0}")]
    NotWeights(String),
    /// The bytes are not a weights file: `what` says so in plain words, `detail` shows the
    /// evidence (the first bytes).
    #[error("not a weights file: {what} ({detail})")]
    Foreign { what: String, detail: String },
    /// The file ends before its own header says it should.
    #[error("the file is cut short at byte {at} of {needs} ({detail})")]
    Truncated {
        at: usize,
        needs: usize,
        detail: String,
    },
    /// The file is a known format but damaged or cut short.
    #[error("corrupt weights file: {0}")]
    Corrupt(String),
    #[error("unsupported dtype {dtype} for tensor {name}: expected F32 or F16")]
    Dtype { name: String, dtype: String },
    #[error("missing tensors: {0}")]
    Missing(String),
    #[error("unexpected tensors: {0}")]
    Unexpected(String),
    #[error("tensor {name} has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tensor {name} holds a non-finite value (NaN or infinity) at index {index}")]
    NonFinite { name: String, index: usize },
    /// Reading the file would cost more memory or work than its size allows.
    #[error("refused: {0}")]
    Budget(String),
    #[error("cannot infer the network from the weights: {0}")]
    Layout(String),
    #[error("bad input: {0}")]
    Input(String),
    #[error("{0}")]
    Usage(String),
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("{0}")]
    Io(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The message for a page: a plain sentence on the first line, the technical evidence
    /// (bytes, the parser's words) on the lines after it, for a "details" fold.
    pub fn for_page(&self) -> String {
        match self {
            Error::Foreign { what, detail } => format!("{what}\n{detail}"),
            Error::Truncated { at, needs, detail } => {
                format!("the file is cut short at byte {at} of {needs}\n{detail}")
            }
            Error::Corrupt(detail) => {
                format!("the file is damaged or incomplete: it is not a readable weights file\n{detail}")
            }
            // Weights of another network (or width): the tensor names go to the details.
            Error::Missing(_) | Error::Unexpected(_) | Error::Shape { .. } | Error::Layout(_) => {
                format!("these are not ShuffleNetV2 weights this page can run\n{self}")
            }
            Error::Input(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
