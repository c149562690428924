//! What `azmi` prints on stdout, and the fix it suggests after an error.

use std::io::Write;

use serde_json::{Map, Value, json};

use crate::args::TokenFormat;
use crate::commands::Context;
use azmi::{AccessToken, Error, Secret};

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One JSON object, the field names of the managed-identity wire format.
pub(crate) fn token_json(token: &AccessToken) -> Value {
    json!({
        "access_token": token.token.expose(),
        "token_type": token.token_type,
        "resource": token.resource,
        "expires_on": token.expires_on,
        "expires_in": token.expires_on.saturating_sub(now()),
    })
}

pub(crate) fn secret_json(secret: &Secret) -> Value {
    let tags: Map<String, Value> = secret
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "value": secret.value.expose(),
        "id": secret.id,
        "version": secret.version,
        "content_type": secret.content_type,
        "enabled": secret.enabled,
        "created": secret.created,
        "updated": secret.updated,
        "expires": secret.expires,
        "not_before": secret.not_before,
        "tags": tags,
    })
}

/// As `az account get-access-token` prints it: `expiresOn` in local time,
/// `%Y-%m-%d %H:%M:%S.%f` with no offset, and `expires_on` in Unix seconds.
pub(crate) fn token_az_json(token: &AccessToken) -> Value {
    let expires_on = i64::try_from(token.expires_on)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|utc| {
            utc.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string()
        });
    json!({
        "accessToken": token.token.expose(),
        "expiresOn": expires_on,
        "expires_on": token.expires_on,
        "tokenType": token.token_type,
    })
}

pub(crate) fn print_token(token: &AccessToken, format: TokenFormat) {
    let value = match format {
        TokenFormat::Json => token_json(token),
        TokenFormat::Az => token_az_json(token),
    };
    print_all(&format!("{value}\n"));
}

pub(crate) fn print_secret(secret: &Secret, as_json: bool) {
    if as_json {
        print_all(&format!("{}\n", secret_json(secret)));
    } else {
        print_all(&format!("{}\n", secret.value.expose()));
    }
}

/// Writes all of `text` or nothing useful: a closed pipe ends quietly.
fn print_all(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// What to do about `error`, when the error's own message does not say.
pub(crate) fn hint(error: &Error, context: Context) -> Option<&'static str> {
    Some(match (error, context) {
        (Error::Unauthorized(_), Context::Secret) => {
            "the vault refused the token: AKV10022 means a token for the wrong audience, AKV10032 an identity from another tenant than the vault's"
        }
        (Error::Unauthorized(_), Context::Token) => {
            "the identity endpoint refused the request; check the endpoint and its credentials"
        }
        (Error::Forbidden(e), Context::Secret)
            if e.inner_code.as_deref() == Some("SecretDisabled") =>
        {
            "the secret is disabled; enable it in the vault"
        }
        (Error::Forbidden(_), Context::Secret) => {
            "grant the identity the Key Vault Secrets User role on the vault (or a get-secret access policy); new role assignments take a few minutes to apply"
        }
        (Error::Forbidden(_), Context::Token) => "the identity endpoint refused the request",
        (Error::NotFound(_), Context::Secret) => {
            "check the secret name and version (az keyvault secret list --vault-name <vault>)"
        }
        (Error::NotFound(_), Context::Token) => {
            "the user-assigned identity is not assigned to this resource; check the id or assign the identity"
        }
        (error, _) if error.is_transient() => {
            "the service is throttling or failing, or too slow; retry later"
        }
        (Error::Service(_), _) => "the service refused the request's parameters",
        _ => return None,
    })
}
