//! Scope → resource, as every Azure SDK does it for managed identity
//! (reference managed-identity.md §12): exactly one scope, and only a
//! trailing `/.default` is stripped.

use crate::error::Error;

/// Longest resource accepted; real ones are well under 200 characters.
const MAX_RESOURCE_LEN: usize = 2048;

/// Turns `scope_or_resource` into the `resource` query value of a
/// managed-identity token request.
pub(crate) fn scope_to_resource(scope_or_resource: &str) -> Result<String, Error> {
    let value = scope_or_resource;
    if value.trim().is_empty() {
        return Err(Error::InvalidArgument(
            "the resource is empty; pass a resource URI such as https://vault.azure.net or a scope such as https://vault.azure.net/.default".into(),
        ));
    }
    if value.split_whitespace().count() > 1 {
        return Err(Error::InvalidArgument(format!(
            "`{}` holds more than one scope; managed identity issues a token for exactly one resource per request",
            crate::error::sanitize_message(value, None)
        )));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.len() > MAX_RESOURCE_LEN
    {
        return Err(Error::InvalidArgument(
            "the resource contains whitespace or control characters, or is longer than 2048 bytes"
                .into(),
        ));
    }
    let resource = value.strip_suffix("/.default").unwrap_or(value);
    if resource.is_empty() {
        return Err(Error::InvalidArgument(
            "the scope `/.default` names no resource; use https://<resource>/.default".into(),
        ));
    }
    Ok(resource.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_dot_default() {
        assert_eq!(
            scope_to_resource("https://vault.azure.net/.default").unwrap(),
            "https://vault.azure.net"
        );
        assert_eq!(
            scope_to_resource("https://vault.azure.net").unwrap(),
            "https://vault.azure.net"
        );
        // As in the SDKs: `//.default` keeps one slash.
        assert_eq!(
            scope_to_resource("https://management.azure.com//.default").unwrap(),
            "https://management.azure.com/"
        );
        assert_eq!(scope_to_resource("api://my-app").unwrap(), "api://my-app");
    }

    #[test]
    fn refuses_zero_or_several_scopes() {
        assert!(matches!(
            scope_to_resource(""),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            scope_to_resource("  "),
            Err(Error::InvalidArgument(_))
        ));
        let Err(Error::InvalidArgument(m)) =
            scope_to_resource("https://a/.default https://b/.default")
        else {
            panic!("two scopes accepted");
        };
        assert!(m.contains("more than one scope"), "{m}");
        assert!(matches!(
            scope_to_resource("/.default"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            scope_to_resource("https://a\u{0}"),
            Err(Error::InvalidArgument(_))
        ));
    }
}
