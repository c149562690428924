//! Which identity a request is for, validated before anything is sent.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Identity {
    SystemAssigned,
    ClientId(String),
    ObjectId(String),
    ResourceId(String),
}

impl Identity {
    /// Checks the id's shape so a typo fails here, with the value named,
    /// rather than as a vague 400 from the endpoint.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        match self {
            Identity::SystemAssigned => Ok(()),
            Identity::ClientId(id) => validate_guid("client id", id),
            Identity::ObjectId(id) => validate_guid("object id", id),
            Identity::ResourceId(id) => validate_resource_id(id),
        }
    }

    /// The identity with its id lower-cased: Azure ids are
    /// case-insensitive, so `ABC` and `abc` share cached tokens.
    pub(crate) fn normalized(&self) -> Identity {
        match self {
            Identity::SystemAssigned => Identity::SystemAssigned,
            Identity::ClientId(id) => Identity::ClientId(id.to_ascii_lowercase()),
            Identity::ObjectId(id) => Identity::ObjectId(id.to_ascii_lowercase()),
            Identity::ResourceId(id) => Identity::ResourceId(id.to_ascii_lowercase()),
        }
    }

    pub(crate) fn is_user_assigned(&self) -> bool {
        !matches!(self, Identity::SystemAssigned)
    }
}

fn validate_guid(what: &str, id: &str) -> Result<(), Error> {
    let groups: Vec<&str> = id.split('-').collect();
    let lengths_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lengths_ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the {what} `{}` is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); copy it from the identity's overview in the Azure portal",
            crate::error::sanitize_message(id, None)
        )))
    }
}

fn validate_resource_id(id: &str) -> Result<(), Error> {
    let shaped = id.len() <= 1024
        && id.to_ascii_lowercase().starts_with("/subscriptions/")
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'&' | b'%' | b'\\'));
    if shaped {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the resource id `{}` is not an ARM resource id (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>)",
            crate::error::sanitize_message(id, None)
        )))
    }
}

#[cfg(test)]
mod tests;
