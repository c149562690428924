//! `azmi secret`: one Key Vault secret, its value or the whole of it as
//! JSON; the command allows exactly the vault it names.

use super::{Context, Failure, credential, identity, leave_to_exit, within};
use crate::args::{Common, SecretArgs};
use crate::output;

pub(crate) async fn run(common: &Common, args: &SecretArgs) -> Result<(), Failure> {
    let credential = credential(common, Some(&args.vault), Context::Secret)?;
    let identity = identity(&args.identity);
    let read = credential.get_secret(&args.vault, &args.name, args.version.as_deref(), &identity);
    let secret = within(common, Context::Secret, read).await?;
    output::print_secret(&secret, args.json);
    leave_to_exit(credential);
    Ok(())
}
