//! A tenant's component, written against azmi's WIT alone (the world
//! `credential-consumer`): it imports `azmi:identity/credentials` and
//! nothing else of azmi's, runs the tasks its arguments name, and prints
//! one line per task of what it got. It never prints a token or a secret
//! value, only their audience, expiry and length.
//!
//! Tasks (each one argument, fields separated by spaces):
//!
//! * `token RESOURCE [CLIENT-ID]`: `get-token`, for the tenant's default
//!   identity or a user-assigned one;
//! * `secret VAULT NAME`: `get-secret`;
//! * `tcp HOST:PORT`: opens a TCP connection itself (a tenant should have
//!   no network: this must fail).
//!
//! Output lines: `ok token <resource> expires <unix> (<n> bytes)`,
//! `ok secret <name> version <v> (<n> bytes)`, `ok tcp <addr>`, or
//! `err <task> <kind>: <message>`.

mod bindings {
    wit_bindgen::generate!({
        world: "credential-consumer",
        path: "../../wit",
    });
}

use bindings::azmi::identity::credentials::{self, Error, Identity};

fn main() {
    for task in std::env::args().skip(1) {
        println!("{}", run(&task));
    }
}

fn run(task: &str) -> String {
    let words: Vec<&str> = task.split(' ').collect();
    match words.as_slice() {
        ["token", resource, rest @ ..] => {
            let identity = rest.first().map(|id| Identity::ClientId((*id).to_owned()));
            match credentials::get_token(resource, identity.as_ref()) {
                Ok(token) => format!(
                    "ok token {} expires {} ({} bytes)",
                    token.resource,
                    token.expires_on,
                    token.token.len()
                ),
                Err(e) => failed(task, &e),
            }
        }
        ["secret", vault, name] => match credentials::get_secret(vault, name, None, None) {
            Ok(secret) => format!(
                "ok secret {name} version {} ({} bytes)",
                secret.version,
                secret.value.len()
            ),
            Err(e) => failed(task, &e),
        },
        ["tcp", address] => match std::net::TcpStream::connect(address) {
            Ok(_) => format!("ok tcp {address}"),
            Err(e) => format!("err {task} network: {e}"),
        },
        _ => format!("err {task} usage: unknown task"),
    }
}

fn failed(task: &str, error: &Error) -> String {
    let (kind, message) = match error {
        Error::Unavailable(m) => ("unavailable", m.clone()),
        Error::Denied(m) => ("denied", m.clone()),
        Error::Unauthorized(e) => ("unauthorized", e.message.clone()),
        Error::Forbidden(e) => ("forbidden", e.message.clone()),
        Error::NotFound(e) => ("not-found", e.message.clone()),
        Error::Service(e) => ("service", e.message.clone()),
        Error::InvalidArgument(m) => ("invalid-argument", m.clone()),
        Error::InvalidResponse(m) => ("invalid-response", m.clone()),
        Error::Timeout(m) => ("timeout", m.clone()),
        Error::Other(m) => ("other", m.clone()),
    };
    format!("err {task} {kind}: {message}")
}
