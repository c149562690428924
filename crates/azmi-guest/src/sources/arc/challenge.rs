//! The Arc agent's challenge, checked before anything is read: the
//! `WWW-Authenticate: Basic realm=<path>` header must name a `.key` file of
//! at most 4096 bytes directly in the agent's token directory, and not a
//! symbolic link. Every refusal
//! says which rule failed; none reads the file.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, sanitize_message};

/// Largest key file accepted, as every Azure SDK enforces.
pub(crate) const MAX_KEY_BYTES: u64 = 4096;
/// Longest challenge header read; a realm is a short path.
const MAX_HEADER: usize = 4096;

fn refused(why: String) -> Error {
    Error::InvalidResponse(format!("the Arc agent's challenge was refused: {why}"))
}

/// The path in `Basic realm=<path>` (quotes allowed around the path).
pub(crate) fn realm_path(header: Option<&str>) -> Result<String, Error> {
    let header = header.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(refused(
            "its 401 carried no WWW-Authenticate header naming the key file".into(),
        ));
    }
    if header.len() > MAX_HEADER {
        return Err(refused(format!(
            "its WWW-Authenticate header is longer than {MAX_HEADER} bytes"
        )));
    }
    let shown = sanitize_message(header, None);
    let garbled = || {
        refused(format!(
            "WWW-Authenticate `{shown}` is not `Basic realm=<path of the key file>`"
        ))
    };
    let (scheme, params) = header.split_once(char::is_whitespace).ok_or_else(garbled)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(garbled());
    }
    let (name, value) = params.trim().split_once('=').ok_or_else(garbled)?;
    if !name.trim().eq_ignore_ascii_case("realm") {
        return Err(garbled());
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if value.is_empty() {
        return Err(refused("the realm names no key file".into()));
    }
    if value.contains('=') || value.contains(',') || value.contains('"') {
        return Err(refused(format!(
            "the realm `{}` holds `=`, `,` or `\"`; a key file path never does",
            sanitize_message(value, None)
        )));
    }
    Ok(value.to_owned())
}

/// Checks `path` against the rules and returns it normalised. `token_dir`
/// is the agent's directory as the guest sees it.
pub(crate) fn validate_key_path(path: &str, token_dir: &str) -> Result<PathBuf, Error> {
    let shown = sanitize_message(path, None);
    let raw = Path::new(path);
    if !raw.is_absolute() {
        return Err(refused(format!(
            "the key file `{shown}` is not an absolute path"
        )));
    }
    // Lexical normalisation: `.` dropped, `..` applied, so `<dir>/../x.key`
    // is judged as the `x.key` next to the directory that it is.
    let mut normal = PathBuf::from("/");
    for component in raw.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                normal.pop();
            }
            Component::Normal(part) => normal.push(part),
        }
    }
    if normal.parent() != Some(Path::new(token_dir)) {
        return Err(refused(format!(
            "the key file `{shown}` is not directly in the Arc token directory {token_dir}"
        )));
    }
    if normal.extension().is_none_or(|ext| ext != "key") {
        return Err(refused(format!(
            "the key file `{shown}` does not end in .key"
        )));
    }
    Ok(normal)
}

/// Reads the key after checking, without following links, that it is a
/// regular file of at most `MAX_KEY_BYTES`. The error never holds the key.
pub(crate) fn read_key(path: &Path) -> Result<String, Error> {
    let shown = path.display();
    let metadata = std::fs::symlink_metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refused(format!("the key file {shown} does not exist")),
        _ => Error::Denied(format!(
            "the key file {shown} cannot be read ({e}); the host must grant the Arc token directory (run as root or as a member of the himds group)"
        )),
    })?;
    if metadata.file_type().is_symlink() {
        return Err(refused(format!("the key file {shown} is a symbolic link")));
    }
    if !metadata.is_file() {
        return Err(refused(format!(
            "the key file {shown} is not a regular file"
        )));
    }
    if metadata.len() > MAX_KEY_BYTES {
        return Err(refused(format!(
            "the key file {shown} is {} bytes, more than the {MAX_KEY_BYTES} a key file may have",
            metadata.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Denied(format!("the key file {shown} cannot be read ({e})")))?;
    if bytes.len() as u64 > MAX_KEY_BYTES {
        return Err(refused(format!(
            "the key file {shown} grew past {MAX_KEY_BYTES} bytes while being read"
        )));
    }
    let key = String::from_utf8(bytes)
        .map_err(|_| refused(format!("the key file {shown} is not text")))?;
    if key.is_empty() || key.chars().any(|c| c.is_control()) {
        return Err(refused(format!(
            "the key file {shown} is empty or holds control characters, which cannot go in a header"
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests;
