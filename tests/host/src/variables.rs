//! Application and component variables, resolved the way `spin up` does:
//! `--variable` flags, then `SPIN_VARIABLE_<NAME>` environment variables, then defaults.
use crate::error::HostError;
use crate::manifest::Manifest;
use std::collections::{BTreeMap, HashMap};

pub fn validate_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_with_letter && rest_ok && !name.contains("__") && !name.ends_with('_') {
        Ok(())
    } else {
        Err(format!(
            "invalid variable name `{name}`: use lowercase letters, digits and single underscores, starting with a letter"
        ))
    }
}

/// Resolves every application variable, failing on the first required one without a value.
pub fn resolve_application_variables(
    manifest: &Manifest,
    flags: &BTreeMap<String, String>,
    environment: &HashMap<String, String>,
) -> Result<BTreeMap<String, String>, HostError> {
    let mut values = BTreeMap::new();
    for (name, decl) in &manifest.variables {
        let from_env = environment.get(&format!("SPIN_VARIABLE_{}", name.to_uppercase()));
        let value = flags
            .get(name)
            .or(from_env)
            .or(decl.default.as_ref())
            .cloned();
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => return Err(HostError::MissingVariable(name.clone())),
        }
    }
    Ok(values)
}

/// Renders a template such as `"http://{{ host }}:{{port}}"` from application variables.
pub fn render_template(
    template: &str,
    variables: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut rendered = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        rendered.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unterminated `{{{{` in `{template}`"))?;
        let name = after[..end].trim();
        validate_name(name)?;
        let value = variables
            .get(name)
            .ok_or_else(|| format!("`{template}` refers to undefined variable `{name}`"))?;
        rendered.push_str(value);
        rest = &after[end + 2..];
    }
    rendered.push_str(rest);
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_templates_with_and_without_spaces() {
        let vars = BTreeMap::from([("host".to_string(), "a.example".to_string())]);
        assert_eq!(
            render_template("https://{{ host }}/{{host}}", &vars).unwrap(),
            "https://a.example/a.example"
        );
        assert!(render_template("{{ nope }}", &vars).is_err());
        assert!(render_template("{{ host", &vars).is_err());
    }

    #[test]
    fn names_must_be_lowercase_snake() {
        assert!(validate_name("mail_api_url").is_ok());
        assert!(validate_name("Mail").is_err());
        assert!(validate_name("1a").is_err());
        assert!(validate_name("a__b").is_err());
    }
}
