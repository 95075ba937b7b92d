use std::path::PathBuf;

/// Everything that can stop the host from loading or serving an app.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot read manifest {path}: {source}")]
    ReadManifest {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid manifest {path}: {message}")]
    InvalidManifest { path: PathBuf, message: String },
    #[error("variable `{0}` is required but has no value: set SPIN_VARIABLE_{upper} or pass --variable {0}=VALUE", upper = .0.to_uppercase())]
    MissingVariable(String),
    #[error("{0}")]
    Variable(String),
    #[error("component `{component}`: {message}")]
    Component { component: String, message: String },
    #[error("component `{component}` imports an interface the host does not provide: {message}")]
    UnsupportedImport { component: String, message: String },
    #[error("unknown component `{0}`")]
    UnknownComponent(String),
    #[error("cannot set up the linker: {0}")]
    Linker(String),
    #[error("key-value store: {0}")]
    Store(String),
}
