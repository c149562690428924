//! Hostile components of shapes Rust does not produce
//! (`azmi_test_guests::shapes`): several linear memories, and memory plus
//! tables grown together past the call's budget. Each ends in
//! `resource-limit`, on demand and pooled.

use azmi::{Config, Credential, Error, Identity, Pooling, Runtime};
use azmi_test_guests::shapes::{many_memories, memory_and_tables, memory_and_tables_within_budget};
use azmi_testkit::assert_error;

async fn call(runtime: Runtime) -> Error {
    Credential::new(runtime, Config::builder().build().unwrap())
        .get_token("https://vault.azure.net", &Identity::SystemAssigned)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_component_with_many_memories_is_stopped() {
    let on_demand = Runtime::builder()
        .component_bytes(&many_memories(), "many memories")
        .on_demand()
        .build()
        .unwrap();
    let err = call(on_demand).await;
    assert_error!(
        err,
        Error::ResourceLimit(_),
        "1 linear memory",
        "memory count"
    );
    // The pooling allocator reserves one memory per call: refused at load.
    let err = Runtime::builder()
        .component_bytes(&many_memories(), "many memories")
        .pooling(Pooling::default().instances(2))
        .build()
        .unwrap_err();
    assert_error!(err, Error::Config(_), "pooling allocator's limits");
}

#[tokio::test]
async fn memory_and_tables_share_one_budget() {
    for pooled in [false, true] {
        let builder = Runtime::builder().component_bytes(&memory_and_tables(), "memory and tables");
        let builder = if pooled {
            builder.pooling(Pooling::default().instances(2))
        } else {
            builder.on_demand()
        };
        let err = call(builder.build().unwrap()).await;
        assert_error!(
            err,
            Error::ResourceLimit(_),
            "memory limit of 33554432 bytes",
            "tables together"
        );
    }
    // Within the budget the same growths pass, and the component traps on
    // its own: the limit above is the sum, not either part.
    let fits = memory_and_tables_within_budget();
    let err = call(Runtime::from_component_bytes(&fits, "fits").unwrap()).await;
    assert_error!(err, Error::Trap(_), "unreachable");
}
