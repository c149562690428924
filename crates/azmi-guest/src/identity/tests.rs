use super::*;

#[test]
fn accepts_well_formed_ids() {
    for identity in [
        Identity::SystemAssigned,
        Identity::ClientId("0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e8".into()),
        Identity::ObjectId("0D5AD0B2-33B4-4E1C-9A52-5C5B0B3D54E8".into()),
        Identity::ResourceId(
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1".into(),
        ),
    ] {
        identity.validate().unwrap();
    }
}

#[test]
fn refuses_malformed_ids_naming_them() {
    for identity in [
        Identity::ClientId("not-a-guid".into()),
        Identity::ClientId("0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e".into()),
        Identity::ObjectId("".into()),
        Identity::ResourceId("subscriptions/x".into()),
        Identity::ResourceId("/subscriptions/x?client_id=y".into()),
        Identity::ResourceId("/subscriptions/a b".into()),
    ] {
        let Err(Error::InvalidArgument(message)) = identity.validate() else {
            panic!("{identity:?} accepted");
        };
        assert!(message.contains("is not"), "{message}");
    }
}
