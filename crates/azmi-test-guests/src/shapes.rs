//! Components of shapes Rust does not produce, written as core
//! WebAssembly text and wrapped into components implementing azmi's world
//! (`wit-component`): several linear memories (multi-memory is on in
//! wasmtime 48), memory and tables grown past a call's budget together.

/// A component whose `get-token` runs `body` (core wasm instructions, with
/// `$pages` a local) and then traps, with `extra` (memories, tables)
/// declared beside its one exported memory. The other functions trap.
pub fn component(extra: &str, body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
  (memory (export "memory") 1)
  {extra}
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get 3)))
    (local.get $at))
  (func (export "azmi:identity/credentials@0.1.0#get-token")
    (param i32 i32 i32 i32 i32 i32) (result i32)
    (local $pages i32)
    {body}
    unreachable)
  (func (export "azmi:identity/credentials@0.1.0#get-secret")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "azmi:identity/credentials@0.1.0#discover-vault")
    (param i32 i32 i32 i32 i32 i32 i32) (result i32)
    unreachable)
  (func (export "azmi:identity/credentials@0.1.0#get-secret-with-token")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    unreachable))"#
    );
    let mut module = wat::parse_str(&wat).expect("the test module parses");
    let mut resolve = wit_parser::Resolve::default();
    let wit = concat!(env!("CARGO_MANIFEST_DIR"), "/../../wit");
    let (package, _) = resolve.push_dir(wit).expect("azmi's WIT parses");
    let world = resolve
        .select_world(&[package], Some("credential-provider"))
        .expect("the world exists");
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("the metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("the module is a component's core")
        .encode()
        .expect("the component encodes")
}

/// Sixteen more memories, each grown by 400 pages (25 MiB) and touched.
pub fn many_memories() -> Vec<u8> {
    let extra: String = (1..=16).map(|i| format!("(memory $m{i} 1)\n")).collect();
    let body: String = (1..=16)
        .map(|i| {
            format!(
                "(local.set $pages (memory.grow $m{i} (i32.const 400)))\n\
                 (i32.store $m{i} (i32.const 26214396) (i32.const 1))\n"
            )
        })
        .collect();
    component(&extra, &body)
}

/// Memory grown to just under the default 32 MiB budget, then a table
/// grown by 90,000 elements: each alone fits, together they do not.
pub fn memory_and_tables() -> Vec<u8> {
    component(
        "(table $t 1 funcref)",
        "(local.set $pages (memory.grow (i32.const 510)))
         (i32.store (i32.const 33423356) (i32.const 1))
         (drop (table.grow $t (ref.null func) (i32.const 90000)))",
    )
}

/// Memory and a table grown as in `memory_and_tables`, but within the
/// default budget together: the component then traps on its own.
pub fn memory_and_tables_within_budget() -> Vec<u8> {
    component(
        "(table $t 1 funcref)",
        "(local.set $pages (memory.grow (i32.const 400)))
         (drop (table.grow $t (ref.null func) (i32.const 90000)))",
    )
}
