//! Tests that need addresses other than 127.0.0.1: each runs in a network
//! namespace it makes (`unshare --net --mount`), with only `lo`, so nothing
//! can leave the machine whatever the code does. Where `unshare` is not
//! permitted, each test says so on stderr and does not run.

use std::io::Write;
use std::process::Output;
use std::sync::OnceLock;

use crate::support::{stderr, stdout};

/// Starts the emulator in the namespace and waits for its settings; the
/// script then has AZMI, AZMI_IMDS, AZMI_PIN and AZMI_CA set.
const START_EMULATOR: &str = r#"
# The emulator must not outlive the script (nor its namespace's purpose).
trap 'rc=$?; kill "$EMULATOR" 2>/dev/null; if [ $rc -ne 0 ]; then echo "--- emulator output:" >&2; cat "$TMP/emulator.out" >&2; fi' EXIT
"$AZMI" emulator --imds-listen "$IMDS_LISTEN" > "$TMP/emulator.out" 2>&1 &
EMULATOR=$!
for i in $(seq 1 300); do grep -q '^export AZMI_CA_FILE' "$TMP/emulator.out" 2>/dev/null && break; sleep 0.1; done
AZMI_IMDS=$(sed -n 's/^export AZURE_POD_IDENTITY_AUTHORITY_HOST=//p' "$TMP/emulator.out")
AZMI_PIN=$(sed -n 's/^export AZMI_CONNECT_TO=//p' "$TMP/emulator.out")
AZMI_CA=$(sed -n 's/^export AZMI_CA_FILE=//p' "$TMP/emulator.out")
"#;

/// Whether this machine lets us make namespaces (root, or user namespaces).
fn unshare_permitted() -> bool {
    static PERMITTED: OnceLock<bool> = OnceLock::new();
    *PERMITTED.get_or_init(|| {
        std::process::Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "ip link set lo up",
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Runs `script` with `sh -e` in a fresh network and mount namespace with
/// `lo` up. `None` (announced on stderr) when namespaces are not permitted.
async fn in_netns(test: &str, imds_listen: &str, script: &str) -> Option<Output> {
    if !unshare_permitted() {
        // Written to stderr directly, so it shows even when output is captured.
        let _ = writeln!(
            std::io::stderr(),
            "netns::{test}: NOT RUN: `unshare --net --mount` (with `ip`) is not permitted on this machine"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let full = format!("set -e\nip link set lo up\n{script}");
    let output = tokio::process::Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &full,
        ])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("AZMI", env!("CARGO_BIN_EXE_azmi"))
        .env("AZMI_CACHE_DIR", crate::support::cache_dir())
        .env("TMP", dir.path())
        .env("IMDS_LISTEN", imds_listen)
        .kill_on_drop(true)
        .output();
    Some(
        tokio::time::timeout(std::time::Duration::from_secs(120), output)
            .await
            .expect("the namespace script finished")
            .expect("unshare runs"),
    )
}

#[tokio::test]
async fn token_from_imds_at_its_real_address_with_no_override() {
    let script = format!(
        r#"ip addr add 169.254.169.254/32 dev lo
{START_EMULATOR}
test "$AZMI_IMDS" = "http://169.254.169.254:80"
# No --imds-endpoint and no AZURE_POD_IDENTITY_AUTHORITY_HOST: the default.
"$AZMI" token --resource https://vault.azure.net
"#
    );
    let Some(output) = in_netns(
        "token_from_imds_at_its_real_address_with_no_override",
        "169.254.169.254:80",
        &script,
    )
    .await
    else {
        return;
    };
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let json: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(json["resource"], "https://vault.azure.net");
    assert!(json["access_token"].as_str().unwrap().starts_with("eyJ"));
}

#[tokio::test]
async fn off_azure_the_default_imds_is_unavailable_without_waiting() {
    // No 169.254.169.254 in this namespace: what a laptop sees. The connect
    // fails at once (unreachable), so the error is not a timeout.
    let script = r#"if "$AZMI" token 2> "$TMP/err"; then echo "unexpected success"; exit 1; fi
cat "$TMP/err"
"#;
    let name = "off_azure_the_default_imds_is_unavailable_without_waiting";
    let Some(output) = in_netns(name, "127.0.0.1:0", script).await else {
        return;
    };
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    assert!(
        text.starts_with("azmi: unavailable: no managed-identity endpoint answered at http://169.254.169.254/metadata/identity/oauth2/token (the destination is unreachable)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_vault_name_resolving_to_loopback_is_refused_without_connect_to() {
    // A private /etc/hosts that sends the vault's name to this machine, as
    // a DNS-rebinding attacker would.
    let script = format!(
        r#"printf '127.0.0.1 localhost\n127.0.0.1 myvault.vault.azure.net\n' > "$TMP/hosts"
mount --bind "$TMP/hosts" /etc/hosts
{START_EMULATOR}
if "$AZMI" secret --vault https://myvault.vault.azure.net --name mysecret --imds-endpoint "$AZMI_IMDS" --ca-file "$AZMI_CA" 2> "$TMP/err"; then
  echo "unexpected success"; exit 1
fi
cat "$TMP/err"
"$AZMI" secret --vault https://myvault.vault.azure.net --name mysecret --imds-endpoint "$AZMI_IMDS" --ca-file "$AZMI_CA" --connect-to "$AZMI_PIN"
"#
    );
    let Some(output) = in_netns(
        "a_vault_name_resolving_to_loopback_is_refused_without_connect_to",
        "127.0.0.1:0",
        &script,
    )
    .await
    else {
        return;
    };
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let mut lines = text.lines();
    let refusal = lines.next().unwrap();
    assert!(
        refusal.starts_with("azmi: denied: https://myvault.vault.azure.net:443 resolved to 127.0.0.1 and vaults must resolve to public addresses"),
        "{refusal}"
    );
    assert_eq!(
        lines.next(),
        Some("TOPSECRET"),
        "pinned with --connect-to, the same vault works"
    );
}
