//! Host bindings of the `credential-provider` world, and the one place the
//! component's WIT values become the library's types.

wasmtime::component::bindgen!({
    world: "credential-provider",
    path: "../../wit",
    exports: { default: async },
});

use exports::azmi::identity::credentials as wit;

use crate::error::{Error, ServiceError, one_line};
use crate::types::{AccessToken, Identity, Secret};

pub(crate) use wit::Identity as WitIdentity;

pub(crate) fn identity_to_wit(identity: &Identity) -> WitIdentity {
    match identity {
        Identity::SystemAssigned => WitIdentity::SystemAssigned,
        Identity::ClientId(id) => WitIdentity::ClientId(id.clone()),
        Identity::ObjectId(id) => WitIdentity::ObjectId(id.clone()),
        Identity::ResourceId(id) => WitIdentity::ResourceId(id.clone()),
    }
}

impl From<wit::AccessToken> for AccessToken {
    fn from(t: wit::AccessToken) -> AccessToken {
        AccessToken {
            token: t.token.into(),
            token_type: t.token_type,
            resource: t.resource,
            expires_on: t.expires_on,
            refresh_at: t.refresh_at,
        }
    }
}

impl From<wit::Secret> for Secret {
    fn from(s: wit::Secret) -> Secret {
        Secret {
            value: s.value.into(),
            id: s.id,
            version: s.version,
            content_type: s.content_type,
            enabled: s.enabled,
            created: s.created,
            updated: s.updated,
            expires: s.expires,
            not_before: s.not_before,
            tags: s.tags,
        }
    }
}

/// Whatever a component says reaches the caller as one line of at most
/// `MAX_MESSAGE_BYTES`: its strings are cut here, the one place they enter.
impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Error {
        let m = one_line;
        let service = |s: wit::ServiceError| {
            ServiceError::new(
                s.status,
                one_line(s.code),
                one_line(s.message),
                s.inner_code.map(one_line),
            )
        };
        match e {
            wit::Error::Unavailable(s) => Error::Unavailable(m(s)),
            wit::Error::Denied(s) => Error::Denied(m(s)),
            wit::Error::Unauthorized(s) => Error::Unauthorized(service(s)),
            wit::Error::Forbidden(s) => Error::Forbidden(service(s)),
            wit::Error::NotFound(s) => Error::NotFound(service(s)),
            wit::Error::Service(s) => Error::Service(service(s)),
            wit::Error::InvalidArgument(s) => Error::InvalidArgument(m(s)),
            wit::Error::InvalidResponse(s) => Error::InvalidResponse(m(s)),
            wit::Error::Timeout(s) => Error::Timeout(m(s)),
            wit::Error::Other(s) => Error::Other(m(s)),
        }
    }
}
