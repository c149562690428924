//! Every error path of the CLI, with `-v`, against servers that fail in
//! every way, including hostile ones that echo the credentials they were
//! sent: no output may hold a token, an Arc key, an identity header or a
//! secret value.

use azmi::Source;
use azmi_emulator::{Emulator, ExpiryForm, Fault, Service, TokenFileFault};

use crate::support::{azmi, ca_file, emulator};

const SECRET_VALUES: &[&str] = &["TOPSECRET", "OLDSECRET", "UAMISECRET", "NEVERSHOWN"];

struct Run {
    label: String,
    output: std::process::Output,
}

/// Runs `azmi -v <args>` with `source`'s variables and the vault flags.
async fn run(
    emulator: &Emulator,
    source: Source,
    args: &[&str],
    ca: &tempfile::NamedTempFile,
) -> Run {
    let vars = emulator.source_variables(source);
    let env: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let pin = emulator.connect_to().to_string();
    let authority_pin = emulator.authority_connect_to().to_string();
    let ca_path = ca.path().display().to_string();
    let arc_dir = emulator.arc_token_dir().display().to_string();
    let mut all = vec![
        "-v",
        "--timeout",
        "3",
        "--connect-to",
        &pin,
        "--connect-to",
        &authority_pin,
        "--ca-file",
        &ca_path,
        "--arc-token-dir",
        &arc_dir,
    ];
    all.extend_from_slice(args);
    let output = azmi(&all, &env).await;
    Run {
        label: format!("{source} {args:?}"),
        output,
    }
}

/// The credentials `emulator` knows, and the Arc keys on disk now.
fn credentials(emulator: &Emulator) -> Vec<String> {
    let mut found: Vec<String> = SECRET_VALUES.iter().map(|s| s.to_string()).collect();
    for source in Source::ALL {
        for (name, value) in emulator.source_variables(source) {
            if name == "IDENTITY_HEADER" || name == "MSI_SECRET" {
                found.push(value);
            }
        }
    }
    for entry in std::fs::read_dir(emulator.arc_token_dir())
        .unwrap()
        .flatten()
    {
        found.push(std::fs::read_to_string(entry.path()).unwrap());
    }
    found
}

fn check(run: &Run, known: &[String]) {
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    // On success stdout carries the token or the secret by design; on
    // failure it must be empty.
    let visible = if run.output.status.success() {
        stderr.to_string()
    } else {
        assert!(
            run.output.stdout.is_empty(),
            "{}: stdout on failure",
            run.label
        );
        stderr.to_string()
    };
    assert!(
        !visible.contains("eyJ"),
        "{}: a token leaked:\n{visible}",
        run.label
    );
    for credential in known {
        assert!(
            !visible.contains(credential.as_str()),
            "{}: a credential leaked:\n{visible}",
            run.label
        );
    }
}

/// No piece of eight characters or more of any random credential (an
/// identity header, an Arc key), in any case: what `echo-mangled` servers
/// send back is upper-cased and split in two.
fn check_pieces(run: &Run, random: &[String]) {
    let visible = String::from_utf8_lossy(&run.output.stderr).to_ascii_lowercase();
    for credential in random {
        let credential: Vec<char> = credential.trim().to_ascii_lowercase().chars().collect();
        for piece in credential.windows(8) {
            let piece: String = piece.iter().collect();
            assert!(
                !visible.contains(&piece),
                "{}: a piece of a credential leaked ({piece}):\n{visible}",
                run.label
            );
        }
    }
}

#[tokio::test]
async fn no_output_ever_holds_a_credential() {
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let vault = emulator.vault_url();
    let secret = ["secret", "--vault", vault.as_str(), "--name", "mysecret"];
    let mut runs = Vec::new();
    let scenarios: Vec<(Source, Service, Vec<Fault>, &[&str])> = vec![
        (Source::Imds, Service::Imds, vec![], &["token"]),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::Status(500); 40],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::Status(400)],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::Echo(400)],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::MalformedJson],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::Oversized(100_000)],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Imds,
            vec![Fault::Expiry(ExpiryForm::Expired)],
            &["token"],
        ),
        (Source::Imds, Service::Vault, vec![], &secret),
        (
            Source::Imds,
            Service::Vault,
            vec![
                Fault::Normal,
                Fault::Echo(401),
                Fault::Normal,
                Fault::Echo(401),
            ],
            &secret,
        ),
        (
            Source::Imds,
            Service::Vault,
            vec![Fault::Normal, Fault::Echo(403)],
            &secret,
        ),
        (
            Source::Imds,
            Service::Vault,
            vec![
                Fault::Normal,
                Fault::Echo(500),
                Fault::Echo(500),
                Fault::Echo(500),
                Fault::Echo(500),
            ],
            &secret,
        ),
        (
            Source::AppService,
            Service::AppService,
            vec![Fault::Echo(500); 10],
            &["token"],
        ),
        (
            Source::AppService,
            Service::AppService,
            vec![Fault::Echo(401)],
            &["token"],
        ),
        (
            Source::AppService,
            Service::AppService,
            vec![Fault::Echo(400)],
            &[
                "token",
                "--client-id",
                "00000000-0000-0000-0000-000000000000",
            ],
        ),
        (
            Source::AppService2017,
            Service::AppService2017,
            vec![Fault::Echo(500); 10],
            &["token"],
        ),
        (
            Source::AppService2017,
            Service::AppService2017,
            vec![Fault::Echo(403)],
            &["token"],
        ),
        (
            Source::ServiceFabric,
            Service::ServiceFabric,
            vec![Fault::Echo(500); 10],
            &["token"],
        ),
        (
            Source::ServiceFabric,
            Service::ServiceFabric,
            vec![Fault::Echo(401)],
            &["token"],
        ),
        (
            Source::CloudShell,
            Service::CloudShell,
            vec![Fault::Echo(401)],
            &["token"],
        ),
        // Arc: the challenge is answered, then the request with the key is echoed.
        (
            Source::Arc,
            Service::Arc,
            vec![Fault::Normal, Fault::Echo(401)],
            &["token"],
        ),
        (
            Source::Arc,
            Service::Arc,
            vec![Fault::Normal, Fault::Echo(403)],
            &["token"],
        ),
        (Source::Arc, Service::Arc, vec![], &secret),
        // Workload identity: the assertion is the credential (each run
        // gets a fresh one, kept for the check below).
        (
            Source::WorkloadIdentity,
            Service::WorkloadIdentity,
            vec![],
            &secret,
        ),
        (
            Source::WorkloadIdentity,
            Service::WorkloadIdentity,
            vec![Fault::Echo(401)],
            &["token"],
        ),
        (
            Source::WorkloadIdentity,
            Service::WorkloadIdentity,
            vec![Fault::Status(500); 40],
            &["token"],
        ),
        (
            Source::WorkloadIdentity,
            Service::WorkloadIdentity,
            vec![Fault::TokenFile(TokenFileFault::Stale)],
            &["token"],
        ),
        (
            Source::WorkloadIdentity,
            Service::WorkloadIdentity,
            vec![Fault::TokenFile(TokenFileFault::WrongSubject)],
            &["token", "--resource", "https://storage.azure.com"],
        ),
        // Echoes disguised in case and split across code and message.
        (
            Source::AppService,
            Service::AppService,
            vec![Fault::EchoMangled(401)],
            &["token"],
        ),
        (
            Source::AppService2017,
            Service::AppService2017,
            vec![Fault::EchoMangled(403)],
            &["token"],
        ),
        (
            Source::ServiceFabric,
            Service::ServiceFabric,
            vec![Fault::EchoMangled(401)],
            &["token"],
        ),
        (
            Source::Arc,
            Service::Arc,
            vec![Fault::Normal, Fault::EchoMangled(401)],
            &["token"],
        ),
        (
            Source::Imds,
            Service::Vault,
            vec![Fault::Normal, Fault::EchoMangled(403)],
            &secret,
        ),
    ];
    let mut assertions = Vec::new();
    for (source, service, faults, args) in scenarios {
        emulator.inject(service, faults);
        if source == Source::WorkloadIdentity {
            emulator.rotate_workload_identity_token().unwrap();
            assertions
                .push(std::fs::read_to_string(emulator.workload_identity_token_file()).unwrap());
        }
        runs.push(run(&emulator, source, args, &ca).await);
    }
    // The keys the echoing requests carried are still on disk: check them too.
    let mut known = credentials(&emulator);
    known.extend(assertions);
    assert!(
        known.len() > SECRET_VALUES.len() + 2,
        "the Arc keys and identity headers are among the checked values"
    );
    let random: Vec<String> = known
        .iter()
        .filter(|k| !SECRET_VALUES.contains(&k.as_str()))
        .cloned()
        .collect();
    for run in &runs {
        check(run, &known);
        check_pieces(run, &random);
    }
    let failures = runs.iter().filter(|r| !r.output.status.success()).count();
    assert!(failures >= 27, "the scenarios fail as intended: {failures}");
}
