//! `azmi:identity/credentials` for other people's components. An embedding
//! runtime links the interface into its tenants' components (the WIT world
//! `credential-consumer`) with `add_to_linker_async`, in the idiom of
//! `wasmtime_wasi_http::p2::add_only_http_to_linker_async`: each tenant's
//! store data hands out that tenant's `Credential` (its configuration and
//! grant), and every call of the tenant's component goes through the
//! grant, the runtime's shared token cache and, on a miss, azmi's own
//! sandboxed component; a credential without a grant answers `denied` to
//! everything. The tenant's component itself needs no network:
//! link no `wasi:http` into it, or one whose policy excludes identity
//! endpoints, or it could ask the endpoint itself.
//!
//! ```no_run
//! use azmi::{Credential, CredentialsView};
//! use wasmtime::component::Linker;
//!
//! struct TenantCalls {
//!     credential: Credential,
//!     // … the tenant's WASI context, resource table, …
//! }
//!
//! impl CredentialsView for TenantCalls {
//!     fn credential(&mut self) -> &Credential {
//!         &self.credential
//!     }
//! }
//!
//! # fn link(engine: &wasmtime::Engine) -> wasmtime::Result<()> {
//! let mut linker: Linker<TenantCalls> = Linker::new(engine);
//! azmi::add_to_linker_async(&mut linker)?;
//! # Ok(())
//! # }
//! ```

use wasmtime::component::{HasData, Linker};

use crate::credential::Credential;
use crate::error::Error;
use crate::types::{AccessToken, Identity, Secret, VaultChallenge};

mod generated {
    wasmtime::component::bindgen!({
        world: "credential-consumer",
        path: "../../wit",
        imports: { default: async },
    });
}

use generated::azmi::identity::credentials as wit;

/// What a tenant's store data gives azmi: the tenant's `Credential`.
pub trait CredentialsView: Send {
    /// The credential the tenant's calls use: its configuration, grant and
    /// counts.
    fn credential(&mut self) -> &Credential;
}

/// Links `azmi:identity/credentials` into `linker`, answered for each
/// store by its `CredentialsView`. Calls are async: instantiate and call
/// tenants' components with wasmtime's async APIs.
///
/// # Errors
/// When the linker already defines the interface.
pub fn add_to_linker_async<T: CredentialsView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasCredentials>(linker, |data| TenantCalls {
        credential: data.credential(),
    })
}

struct HasCredentials;

impl HasData for HasCredentials {
    type Data<'a> = TenantCalls<'a>;
}

/// The interface, answered for one tenant.
struct TenantCalls<'a> {
    credential: &'a Credential,
}

impl TenantCalls<'_> {
    /// Deny by default: a component linked here gets only what a grant
    /// allows, so a credential without one answers nothing.
    fn granted(&self) -> Result<(), wit::Error> {
        if self.credential.config().grant().is_some() {
            Ok(())
        } else {
            Err(wit::Error::Denied(
                "this component's credential has no grant: a host links azmi:identity/credentials into a component only with a Grant (ConfigBuilder::grant) saying what it may have".into(),
            ))
        }
    }

    /// The identity a call names, or the tenant's default.
    fn identity(&self, identity: Option<wit::Identity>) -> Identity {
        match identity {
            None => self.credential.config().identity().clone(),
            Some(wit::Identity::SystemAssigned) => Identity::SystemAssigned,
            Some(wit::Identity::ClientId(id)) => Identity::ClientId(id),
            Some(wit::Identity::ObjectId(id)) => Identity::ObjectId(id),
            Some(wit::Identity::ResourceId(id)) => Identity::ResourceId(id),
        }
    }
}

impl wit::Host for TenantCalls<'_> {
    async fn get_token(
        &mut self,
        resource: String,
        identity: Option<wit::Identity>,
    ) -> Result<wit::AccessToken, wit::Error> {
        self.granted()?;
        let identity = self.identity(identity);
        self.credential
            .get_token(&resource, &identity)
            .await
            .map(access_token)
            .map_err(error)
    }

    async fn get_secret(
        &mut self,
        vault_url: String,
        name: String,
        version: Option<String>,
        identity: Option<wit::Identity>,
    ) -> Result<wit::Secret, wit::Error> {
        self.granted()?;
        let identity = self.identity(identity);
        self.credential
            .get_secret(&vault_url, &name, version.as_deref(), &identity)
            .await
            .map(secret)
            .map_err(error)
    }

    async fn discover_vault(
        &mut self,
        vault_url: String,
        name: String,
        version: Option<String>,
    ) -> Result<wit::VaultChallenge, wit::Error> {
        self.granted()?;
        self.credential
            .discover_vault(&vault_url, &name, version.as_deref())
            .await
            .map(
                |VaultChallenge {
                     resource, tenant, ..
                 }| wit::VaultChallenge { resource, tenant },
            )
            .map_err(error)
    }

    async fn get_secret_with_token(
        &mut self,
        vault_url: String,
        name: String,
        version: Option<String>,
        token: String,
    ) -> Result<wit::Secret, wit::Error> {
        self.granted()?;
        self.credential
            .get_secret_with_token(&vault_url, &name, version.as_deref(), &token)
            .await
            .map(secret)
            .map_err(error)
    }
}

fn access_token(token: AccessToken) -> wit::AccessToken {
    wit::AccessToken {
        token: token.token.into_inner(),
        token_type: token.token_type,
        resource: token.resource,
        expires_on: token.expires_on,
        refresh_at: token.refresh_at,
    }
}

fn secret(secret: Secret) -> wit::Secret {
    wit::Secret {
        value: secret.value.into_inner(),
        id: secret.id,
        version: secret.version,
        content_type: secret.content_type,
        enabled: secret.enabled,
        created: secret.created,
        updated: secret.updated,
        expires: secret.expires,
        not_before: secret.not_before,
        tags: secret.tags,
    }
}

/// The library's errors in the WIT's cases. The host's own (a limit, a
/// trap of azmi's component, a configuration error) have no case of their
/// own there and arrive as `other`, their kind named.
fn error(error: Error) -> wit::Error {
    let service = |e: crate::ServiceError| wit::ServiceError {
        status: e.status,
        code: e.code,
        message: e.message,
        inner_code: e.inner_code,
    };
    match error {
        Error::Unavailable(m) => wit::Error::Unavailable(m),
        Error::Denied(m) => wit::Error::Denied(m),
        Error::Unauthorized(e) => wit::Error::Unauthorized(service(e)),
        Error::Forbidden(e) => wit::Error::Forbidden(service(e)),
        Error::NotFound(e) => wit::Error::NotFound(service(e)),
        Error::Service(e) => wit::Error::Service(service(e)),
        Error::InvalidArgument(m) => wit::Error::InvalidArgument(m),
        Error::InvalidResponse(m) => wit::Error::InvalidResponse(m),
        Error::Timeout(m) => wit::Error::Timeout(m),
        Error::Other(m) => wit::Error::Other(m),
        other => wit::Error::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
