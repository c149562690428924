//! Scope → resource, as every Azure SDK does it for managed identity
//!: exactly one scope, and only a
//! trailing `/.default` is stripped.

/// Longest resource accepted; real ones are well under 200 characters.
pub const MAX_RESOURCE_LEN: usize = 2048;

/// Turns `scope_or_resource` into the `resource` of a managed-identity
/// token request. The error says which rule the value broke (it quotes the
/// value, which is never a credential).
pub fn scope_to_resource(scope_or_resource: &str) -> Result<String, String> {
    let value = scope_or_resource;
    if value.trim().is_empty() {
        return Err(
            "the resource is empty; pass a resource URI such as https://vault.azure.net or a scope such as https://vault.azure.net/.default".into(),
        );
    }
    if value.split_whitespace().count() > 1 {
        return Err(format!(
            "`{}` holds more than one scope; managed identity issues a token for exactly one resource per request",
            value.chars().take(200).collect::<String>()
        ));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.len() > MAX_RESOURCE_LEN
    {
        return Err(
            "the resource contains whitespace or control characters, or is longer than 2048 bytes"
                .into(),
        );
    }
    let resource = value.strip_suffix("/.default").unwrap_or(value);
    if resource.is_empty() {
        return Err(
            "the scope `/.default` names no resource; use https://<resource>/.default".into(),
        );
    }
    // Normalising must be idempotent: host and component each apply it,
    // and a grant, a cache key and the request must name one resource.
    if resource.ends_with("/.default") {
        return Err(format!(
            "`{}` ends in `/.default` twice; a scope is <resource>/.default",
            value.chars().take(200).collect::<String>()
        ));
    }
    Ok(resource.to_owned())
}

#[cfg(test)]
mod tests;
