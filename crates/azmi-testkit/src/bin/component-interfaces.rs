//! Prints what a component imports and exports, one `import NAME` or
//! `export NAME` line each, as the component names them
//! (`wasi:http/types@0.2.12`); the interop runs check a composition's
//! imports with it.
//!
//! Usage: `component-interfaces FILE.wasm`

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: component-interfaces FILE.wasm");
        return ExitCode::from(2);
    };
    match interfaces(std::path::Path::new(&path)) {
        Ok(lines) => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            // A reader that stops early (`| grep -q`) is not an error.
            let _ = lines.iter().try_for_each(|line| writeln!(stdout, "{line}"));
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("component-interfaces: {}: {why}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}

fn interfaces(path: &std::path::Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let decoded = wit_component::decode(&bytes).map_err(|e| format!("{e:#}"))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("this is a WIT package, not a component".into());
    };
    let world = &resolve.worlds[world];
    let name = |key: &wit_parser::WorldKey| resolve.name_world_key(key);
    let mut lines: Vec<String> = world
        .imports
        .keys()
        .map(|k| format!("import {}", name(k)))
        .collect();
    lines.extend(world.exports.keys().map(|k| format!("export {}", name(k))));
    Ok(lines)
}
