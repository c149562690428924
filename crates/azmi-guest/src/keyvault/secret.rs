//! The `SecretBundle` JSON of a get-secret response. Every field but `value` and `id` is optional; unknown fields are
//! ignored.

use azmi_core::Redacted;

use serde_json::{Map, Value};

use super::Vault;
use crate::error::sanitize_message;

/// A secret read from a vault. `Debug` never prints the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Secret {
    pub(crate) value: Redacted,
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) content_type: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) created: Option<u64>,
    pub(crate) updated: Option<u64>,
    pub(crate) expires: Option<u64>,
    pub(crate) not_before: Option<u64>,
    pub(crate) tags: Vec<(String, String)>,
}

/// Parses a 200 body. The `id` must name the vault and secret that were
/// asked for (and the version, when one was): a bundle for anything else is
/// refused rather than handed out under the wrong name. Errors describe the
/// problem, never the value.
pub(crate) fn parse_secret(
    body: &[u8],
    vault: &Vault,
    name: &str,
    version: Option<&str>,
) -> Result<Secret, String> {
    let json: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let Value::Object(fields) = json else {
        return Err("the body is not a JSON object".into());
    };
    let value = match fields.get("value") {
        Some(Value::String(v)) => v.clone(),
        _ => return Err("the secret bundle has no string `value`".into()),
    };
    let id = match fields.get("id") {
        Some(Value::String(id)) => id.clone(),
        _ => return Err("the secret bundle has no `id`".into()),
    };
    let returned_version = version_from_id(&id, vault, name)?;
    if let Some(asked) = version
        && !asked.eq_ignore_ascii_case(&returned_version)
    {
        return Err(format!(
            "it returned version {returned_version} instead of {asked}"
        ));
    }
    let content_type = optional_string(&fields, "contentType")?;
    let attributes = match fields.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err("`attributes` is not an object".into()),
    };
    let enabled = match attributes.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("`attributes.enabled` is not a boolean".into()),
    };
    let time = |key: &str| -> Result<Option<u64>, String> {
        match attributes.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`attributes.{key}` is not a non-negative integer")),
            Some(_) => Err(format!("`attributes.{key}` is not a number")),
        }
    };
    let mut tags = Vec::new();
    match fields.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) => {
            for (k, v) in t {
                let Value::String(v) = v else {
                    return Err(format!(
                        "tag `{}` is not a string",
                        sanitize_message(k, None)
                    ));
                };
                tags.push((k.clone(), v.clone()));
            }
        }
        Some(_) => return Err("`tags` is not an object".into()),
    }
    tags.sort();
    Ok(Secret {
        value: value.into(),
        id,
        version: returned_version,
        content_type,
        enabled,
        created: time("created")?,
        updated: time("updated")?,
        expires: time("exp")?,
        not_before: time("nbf")?,
        tags,
    })
}

fn optional_string(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` is not a string")),
    }
}

/// The version in `https://<vault>/secrets/<name>/<version>`, after checking
/// the vault and name (case-insensitively, as Key Vault identifiers are).
fn version_from_id(id: &str, vault: &Vault, name: &str) -> Result<String, String> {
    let bad = || {
        "its `id` is not https://<vault>/secrets/<name>/<version> for the secret asked for"
            .to_owned()
    };
    let rest = id.strip_prefix("https://").ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let host = parts.next().ok_or_else(bad)?;
    let host = host.strip_suffix(":443").unwrap_or(host);
    if !host.eq_ignore_ascii_case(vault.host()) || parts.next() != Some("secrets") {
        return Err(bad());
    }
    if !parts.next().is_some_and(|n| n.eq_ignore_ascii_case(name)) {
        return Err(bad());
    }
    let version = parts.next().filter(|v| !v.is_empty()).ok_or_else(bad)?;
    if parts.next().is_some() || !version.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad());
    }
    Ok(version.to_owned())
}

#[cfg(test)]
mod tests;
