//! `azmi token`: one access token, printed as JSON.

use super::{Context, Failure, credential, identity, leave_to_exit, within};
use crate::args::{Common, TokenArgs};
use crate::output;

pub(crate) async fn run(common: &Common, args: &TokenArgs) -> Result<(), Failure> {
    let credential = credential(common, None, Context::Token)?;
    let resource = args.scope.as_deref().unwrap_or(&args.resource);
    let identity = identity(&args.identity);
    let token = within(
        common,
        Context::Token,
        credential.get_token(resource, &identity),
    )
    .await?;
    output::print_token(&token, args.output);
    leave_to_exit(credential);
    Ok(())
}
