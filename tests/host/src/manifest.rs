//! The parts of a Spin manifest (version 2) the host understands.
use crate::error::HostError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    #[serde(default)]
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default, rename = "trigger")]
    pub triggers: Triggers,
    #[serde(default, rename = "component")]
    pub components: BTreeMap<String, ComponentDecl>,
    /// The directory relative paths in the manifest are resolved against.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
    #[serde(default)]
    pub cron: Vec<CronTrigger>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpTrigger {
    pub route: Route,
    pub component: String,
}

/// A route is a path pattern, or `{ private = true }` for a component reachable
/// only by service chaining (never routed).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Route {
    Pattern(String),
    Private { private: bool },
}

#[derive(Debug, Clone, Deserialize)]
pub struct CronTrigger {
    pub component: String,
    pub cron_expression: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComponentDecl {
    pub source: String,
    #[serde(default)]
    pub key_value_stores: Vec<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub build: Option<BuildDecl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BuildDecl {
    pub command: String,
    pub workdir: Option<String>,
}

impl Manifest {
    pub fn from_file(path: &Path) -> Result<Self, HostError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostError::ReadManifest {
            path: path.to_owned(),
            source,
        })?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, &dir).map_err(|message| HostError::InvalidManifest {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses manifest text; `dir` is where relative paths are resolved from.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, String> {
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if manifest.spin_manifest_version != 2 {
            return Err(format!(
                "spin_manifest_version {} is not supported (only 2)",
                manifest.spin_manifest_version
            ));
        }
        manifest.dir = dir.to_owned();
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        for (name, decl) in &self.variables {
            crate::variables::validate_name(name)?;
            match (decl.required, &decl.default) {
                (true, Some(_)) => {
                    return Err(format!(
                        "variable `{name}` cannot be both required and have a default"
                    ))
                }
                (false, None) => {
                    return Err(format!(
                        "variable `{name}` must be required or have a default"
                    ))
                }
                _ => {}
            }
        }
        let triggered = self
            .triggers
            .http
            .iter()
            .map(|t| &t.component)
            .chain(self.triggers.cron.iter().map(|t| &t.component));
        for component in triggered {
            if !self.components.contains_key(component) {
                return Err(format!("a trigger names undefined component `{component}`"));
            }
        }
        for trigger in &self.triggers.http {
            if let Route::Private { private: false } = trigger.route {
                return Err(format!(
                    "route must be a string pattern or {{ private = true }}: `{}` has {{ private = false }}",
                    trigger.component
                ));
            }
        }
        for (component, decl) in &self.components {
            for name in decl.variables.keys() {
                crate::variables::validate_name(name)
                    .map_err(|e| format!("component `{component}`: {e}"))?;
            }
        }
        Ok(())
    }

    /// A component's source, resolved against the manifest's directory.
    pub fn source_path(&self, component: &str) -> Option<PathBuf> {
        self.components
            .get(component)
            .map(|c| self.dir.join(&c.source))
    }
}
