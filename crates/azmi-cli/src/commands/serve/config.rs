//! `azmi serve --config FILE`: the tenants and their grants, in TOML.
//!
//! ```toml
//! [[tenant]]
//! name = "billing"
//! key_file = "/etc/azmi/billing.key"   # App Service mode: IDENTITY_HEADER
//! identities = ["system-assigned", "client-id:a5b6c7d8-…"]   # the first is the default
//! resources = ["https://vault.azure.net", "https://storage.azure.com/"]
//! max_upstream_per_minute = 60         # optional budget
//!
//! [anonymous]                          # IMDS mode; omit to refuse it
//! identities = ["system-assigned"]
//! resources = ["https://vault.azure.net"]
//! ```
//!
//! Every error names the file, the line and column, and the fix. A key
//! file is read once, at start; only its SHA-256 is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use azmi::{Budget, Grant, Identity};
use serde::Deserialize;
use toml::Spanned;

/// The shortest tenant key accepted, in bytes: a key is a bearer secret,
/// so it must not be guessable (`openssl rand -hex 32` makes a good one).
pub(crate) const MIN_KEY_BYTES: usize = 16;
/// The longest: it travels in one request header.
const MAX_KEY_BYTES: usize = 1024;
/// The name the tenant without a key goes by, in metrics and messages.
pub(crate) const ANONYMOUS: &str = "anonymous";

/// The validated configuration.
pub(crate) struct ServeConfig {
    pub(crate) tenants: Vec<TenantSpec>,
    /// The grant of IMDS-mode callers; `None`: IMDS mode is refused.
    pub(crate) anonymous: Option<Grant>,
}

/// One `[[tenant]]`: its name, its key's digest, its grant.
pub(crate) struct TenantSpec {
    pub(crate) name: String,
    pub(crate) key_file: PathBuf,
    pub(crate) key_digest: [u8; 32],
    pub(crate) grant: Grant,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tenant: Vec<Spanned<Entry>>,
    anonymous: Option<Spanned<Entry>>,
}

/// A `[[tenant]]` or the `[anonymous]` section: the same grant fields;
/// only tenants have a name and a key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<Spanned<String>>,
    key_file: Option<Spanned<PathBuf>>,
    identities: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    resources: Vec<Spanned<String>>,
    max_upstream_per_minute: Option<Spanned<i64>>,
}

/// Reads and validates `path`.
///
/// # Errors
/// One line: `FILE:LINE:COLUMN: what is wrong; the fix`.
pub(crate) fn load(path: &Path) -> Result<ServeConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --config {}: {e}", path.display()))?;
    let at = Locator { path, text: &text };
    let file: File = toml::from_str(&text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        at.error(
            e.span().map_or(0, |s| s.start),
            &format!(
                "{message} (the file holds [[tenant]] tables and an optional [anonymous] table; README: Serving a whole machine)"
            ),
        )
    })?;
    let mut tenants: Vec<TenantSpec> = Vec::new();
    for entry in &file.tenant {
        let start = entry.span().start;
        let entry = entry.get_ref();
        let Some(name) = &entry.name else {
            return Err(at.error(start, "this [[tenant]] has no `name`; add name = \"…\""));
        };
        let shown = name.get_ref();
        let valid = !shown.is_empty()
            && shown.len() <= 64
            && shown
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid || shown == ANONYMOUS {
            return Err(at.error(
                name.span().start,
                &format!(
                    "the tenant name `{}` is not 1-64 letters, digits, `-`, `_` or `.` other than `{ANONYMOUS}`; metrics and logs name tenants by it",
                    shown.escape_debug()
                ),
            ));
        }
        if tenants.iter().any(|t| t.name == *shown) {
            return Err(at.error(
                name.span().start,
                &format!("a second tenant is named `{shown}`; give each tenant its own name"),
            ));
        }
        let Some(key_file) = &entry.key_file else {
            return Err(at.error(
                start,
                &format!(
                    "the tenant `{shown}` has no `key_file`; its callers present that file's contents as X-IDENTITY-HEADER (make one with `openssl rand -hex 32 > FILE; chmod 600 FILE`)"
                ),
            ));
        };
        let key_path = resolve(path, key_file.get_ref());
        let key_digest =
            read_key(&key_path).map_err(|why| at.error(key_file.span().start, &why))?;
        if let Some(other) = tenants.iter().find(|t| t.key_digest == key_digest) {
            return Err(at.error(
                key_file.span().start,
                &format!(
                    "the tenants `{}` and `{shown}` have the same key; each tenant needs its own",
                    other.name
                ),
            ));
        }
        let grant = grant(&at, shown, start, entry)?;
        tenants.push(TenantSpec {
            name: shown.clone(),
            key_file: key_path,
            key_digest,
            grant,
        });
    }
    let anonymous = match &file.anonymous {
        None => None,
        Some(entry) => {
            let start = entry.span().start;
            let entry = entry.get_ref();
            if let Some(field) = entry
                .name
                .as_ref()
                .map(|n| n.span().start)
                .or(entry.key_file.as_ref().map(|k| k.span().start))
            {
                return Err(at.error(
                    field,
                    "[anonymous] has no name or key_file: its callers are whoever reaches the IMDS path; use a [[tenant]] for keyed callers",
                ));
            }
            Some(grant(&at, ANONYMOUS, start, entry)?)
        }
    };
    Ok(ServeConfig { tenants, anonymous })
}

/// The grant an entry describes: its identities (the first the default),
/// its resources, its budget; tokens handed out, which is what a broker is
/// for.
fn grant(at: &Locator, tenant: &str, start: usize, entry: &Entry) -> Result<Grant, String> {
    let Some(identities) = entry
        .identities
        .as_ref()
        .filter(|l| !l.get_ref().is_empty())
    else {
        return Err(at.error(
            entry.identities.as_ref().map_or(start, |l| l.span().start),
            &format!(
                "the grant of `{tenant}` lists no identities; add identities = [\"system-assigned\"] (or client-id:ID, object-id:ID, resource-id:ID)"
            ),
        ));
    };
    let mut builder = Grant::builder(tenant).hand_out_tokens(true);
    for identity in identities.get_ref() {
        let parsed = parse_identity(identity.get_ref())
            .map_err(|why| at.error(identity.span().start, &why))?;
        builder = builder.identity(parsed);
    }
    for resource in &entry.resources {
        builder = builder.resource(resource.get_ref());
    }
    if let Some(limit) = &entry.max_upstream_per_minute {
        let per_minute = u32::try_from(*limit.get_ref())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                at.error(
                    limit.span().start,
                    &format!(
                        "max_upstream_per_minute = {} is not a number of requests from 1 to {}; omit it for the default budget",
                        limit.get_ref(),
                        u32::MAX
                    ),
                )
            })?;
        builder = builder.budget(Budget::new(
            per_minute,
            Duration::from_secs(60) / per_minute,
        ));
    }
    builder.build().map_err(|error| {
        // The library names the value at fault: point at its entry.
        let value = match &error {
            azmi::Error::Config(e) => e.value.clone(),
            _ => None,
        };
        let offset = entry
            .resources
            .iter()
            .chain(identities.get_ref())
            .find(|v| value.as_deref() == Some(v.get_ref().as_str()))
            .map_or(start, |v| v.span().start);
        let message = match error {
            azmi::Error::Config(e) => e.message,
            other => other.to_string(),
        };
        at.error(offset, &message)
    })
}

/// `system-assigned`, `client-id:ID`, `object-id:ID` or `resource-id:ID`.
pub(crate) fn parse_identity(text: &str) -> Result<Identity, String> {
    if text == "system-assigned" {
        return Ok(Identity::SystemAssigned);
    }
    let parsed = text.split_once(':').and_then(|(kind, id)| {
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        match kind {
            "client-id" => Some(Identity::ClientId(id.to_owned())),
            "object-id" => Some(Identity::ObjectId(id.to_owned())),
            "resource-id" => Some(Identity::ResourceId(id.to_owned())),
            _ => None,
        }
    });
    parsed.ok_or_else(|| {
        format!(
            "`{}` is not an identity: write system-assigned, client-id:ID, object-id:ID or resource-id:ID",
            text.escape_debug()
        )
    })
}

/// A key file's path, relative to the configuration file's directory.
fn resolve(config: &Path, key_file: &Path) -> PathBuf {
    if key_file.is_absolute() {
        key_file.to_path_buf()
    } else {
        config.parent().unwrap_or(Path::new(".")).join(key_file)
    }
}

/// The key's SHA-256: the file's contents without trailing whitespace,
/// which must be a usable header value, long enough, and readable by no
/// one but its owner and group.
fn read_key(path: &Path) -> Result<[u8; 32], String> {
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read the key file {shown}: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o007 != 0 {
            return Err(format!(
                "the key file {shown} can be read by every user of the machine, and whoever reads it gets the tenant's grant; chmod o-rwx {shown}"
            ));
        }
    }
    if !metadata.is_file() {
        return Err(format!(
            "the key file {shown} is not a regular file; write the key into one (`openssl rand -hex 32 > FILE`)"
        ));
    }
    // No more than a key's worth, whatever the file holds.
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read the key file {shown}: {e}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_KEY_BYTES as u64 + 2),
        &mut bytes,
    )
    .map_err(|e| format!("cannot read the key file {shown}: {e}"))?;
    let key = bytes.trim_ascii_end();
    if key.len() < MIN_KEY_BYTES || key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key in {shown} is {} bytes; a key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} (make one with `openssl rand -hex 32 > {shown}`)",
            key.len()
        ));
    }
    if !key.iter().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "the key in {shown} holds a character other than visible ASCII, so it cannot travel as a header; make one with `openssl rand -hex 32 > {shown}`"
        ));
    }
    Ok(digest(key))
}

/// SHA-256 of a key, as presented or as read.
pub(crate) fn digest(key: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, key).as_ref());
    out
}

/// Turns byte offsets into `FILE:LINE:COLUMN`.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(&self, offset: usize, message: &str) -> String {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}: {message}", self.path.display())
    }
}

#[cfg(test)]
mod tests;
