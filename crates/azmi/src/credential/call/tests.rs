use super::is_pool_race;

/// The error wasmtime gives when a pool has no free slot is the one
/// `is_pool_race` recognises (and another failure is not).
#[test]
fn a_full_pool_is_recognised() {
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_memories(1).total_core_instances(2);
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(pool);
    let engine = wasmtime::Engine::new(&config).unwrap();
    // A module with one memory of one page, in binary form.
    let wasm = b"\0asm\x01\0\0\0\x05\x03\x01\x00\x01";
    let module = wasmtime::Module::new(&engine, wasm).unwrap();
    let mut first = wasmtime::Store::new(&engine, ());
    let _held = wasmtime::Instance::new(&mut first, &module, &[]).unwrap();
    let mut second = wasmtime::Store::new(&engine, ());
    let full = wasmtime::Instance::new(&mut second, &module, &[]).unwrap_err();
    assert!(is_pool_race(&full), "{full:?}");

    let other = wasmtime::Module::new(&engine, b"not wasm").unwrap_err();
    assert!(!is_pool_race(&other), "{other:?}");
}
