//! Identity sources as data. Every managed-identity source is an HTTP token
//! endpoint that differs from the others only in what a `Descriptor`
//! holds: method, api-version, headers, where the resource goes, the query
//! parameter of each user-assigned selector (or why it is refused) and the
//! retry rules. One `TokenEndpoint` path builds the request, retries
//! within the deadline and reads the token for all of them, as
//! azure_identity shares one implementation among its IMDS-like sources;
//! a source module keeps only its `from_env` and its real quirks (Arc's
//! key-file challenge).

use std::fmt;

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, TokenCall};
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Failure, Peer};
use crate::token::Token;
use crate::transport::{Method, Request, Response};
use crate::url::{Url, encode_query_value, query};

/// How one source is spoken to.
#[derive(Debug)]
pub(crate) struct Descriptor {
    /// Names the endpoint in messages, before its URL ("IMDS at").
    pub(crate) describe: &'static str,
    pub(crate) method: Method,
    /// The `api-version` query parameter, if the source takes one.
    pub(crate) api_version: Option<&'static str>,
    /// Headers every request carries (`Metadata: true`, …).
    pub(crate) headers: &'static [(&'static str, &'static str)],
    /// The header that carries the source's credential (an identity
    /// header, a secret), if it has one.
    pub(crate) credential_header: Option<&'static str>,
    /// Whether the resource is a query parameter or a form body.
    pub(crate) resource_in: ResourceIn,
    /// How each kind of user-assigned identity is named, if it can be.
    pub(crate) client_id: Selector,
    pub(crate) object_id: Selector,
    pub(crate) resource_id: Selector,
    /// Which statuses are retried.
    pub(crate) peer: Peer,
}

/// Where the resource goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceIn {
    /// `?resource=…`, after the api-version.
    Query,
    /// A form body `resource=…` (Cloud Shell's POST).
    Form,
}

/// How a kind of user-assigned identity is named in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selector {
    /// As this query parameter.
    Param(&'static str),
    /// Not at all: the call is refused with this reason, before anything
    /// is sent (the endpoint would silently answer for another identity).
    Refused(&'static str),
}

/// One source's endpoint: its descriptor, URL and credential.
pub(crate) struct TokenEndpoint {
    pub(crate) descriptor: &'static Descriptor,
    /// The URL requests go to (the token path included).
    pub(crate) url: Url,
    /// The value of `credential_header`; never logged or shown.
    pub(crate) credential: Option<String>,
    /// The client id to name when the caller names no identity (Azure ML's
    /// `DEFAULT_IDENTITY_CLIENT_ID`).
    pub(crate) default_client_id: Option<String>,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential is never shown.
        f.debug_struct("TokenEndpoint")
            .field("describe", &self.descriptor.describe)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// The endpoint in messages: "IMDS at http://…".
    pub(crate) fn what(&self) -> String {
        let path = self.url.request_path();
        format!(
            "{} {}://{}{path}",
            self.descriptor.describe,
            self.url.scheme.as_str(),
            self.url.authority()
        )
    }

    /// The query parameter naming `identity`, or why it cannot be named.
    fn selector<'i>(
        &'i self,
        identity: &'i Identity,
    ) -> Result<Option<(&'static str, &'i str)>, Error> {
        let d = self.descriptor;
        let (selector, id) = match identity {
            Identity::SystemAssigned => {
                return Ok(self
                    .default_client_id
                    .as_deref()
                    .and_then(|id| match d.client_id {
                        Selector::Param(name) => Some((name, id)),
                        Selector::Refused(_) => None,
                    }));
            }
            Identity::ClientId(id) => (d.client_id, id),
            Identity::ObjectId(id) => (d.object_id, id),
            Identity::ResourceId(id) => (d.resource_id, id),
        };
        match selector {
            Selector::Param(name) => Ok(Some((name, id.as_str()))),
            Selector::Refused(why) => Err(Error::InvalidArgument(why.into())),
        }
    }

    /// The request for a token for `resource` as `identity`, with `extra`
    /// headers (Arc's key).
    pub(crate) fn request(
        &self,
        resource: &str,
        identity: &Identity,
        extra: Option<(&'static str, String)>,
    ) -> Result<Request, Error> {
        let d = self.descriptor;
        let mut params: Vec<(&str, &str)> = d
            .api_version
            .map(|v| ("api-version", v))
            .into_iter()
            .collect();
        if d.resource_in == ResourceIn::Query {
            params.push(("resource", resource));
        }
        params.extend(self.selector(identity)?);
        let mut headers: Vec<(&'static str, String)> = d
            .headers
            .iter()
            .map(|(n, v)| (*n, (*v).to_owned()))
            .collect();
        if let (Some(name), Some(value)) = (d.credential_header, &self.credential) {
            headers.push((name, value.clone()));
        }
        headers.extend(extra);
        let body = (d.resource_in == ResourceIn::Form)
            .then(|| format!("resource={}", encode_query_value(resource)).into_bytes());
        Ok(Request {
            method: d.method,
            scheme: self.url.scheme,
            authority: self.url.authority(),
            path_and_query: format!("{}{}", self.url.request_path(), query(&params)),
            headers,
            body,
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        })
    }

    /// What a response means, as a token or a failure the retry rules of
    /// this source judge; `secret` (a credential the request carried) is
    /// removed from anything the endpoint says back.
    pub(crate) fn token_from(
        &self,
        ctx: &Ctx<'_>,
        response: &Response,
        what: &str,
        resource: &str,
        identity: &Identity,
        secret: Option<&str>,
    ) -> Result<Token, Failure> {
        endpoint::token_attempt(
            response,
            &TokenCall {
                peer: self.descriptor.peer,
                what,
                resource,
                identity,
                secret,
                now: ctx.now,
            },
        )
    }

    /// A token for `resource` as `identity`: the request, sent and retried
    /// as this source's rules say within the call's deadline.
    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        let request = self.request(resource, identity, None)?;
        let what = self.what();
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            let request = request.clone().within(remaining);
            let response = endpoint::attempt(ctx, &request, self.descriptor.peer)?;
            self.token_from(
                ctx,
                &response,
                &what,
                resource,
                identity,
                self.credential.as_deref(),
            )
        })
    }
}
