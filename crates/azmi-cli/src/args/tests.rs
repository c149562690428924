use super::*;
use clap::CommandFactory;

fn arc_token_dir(args: &[&str]) -> (ArcTokenDir, Option<ArcTokenDir>) {
    let cli = Cli::try_parse_from(args).unwrap();
    let emulator = match cli.command {
        Command::Emulator(emulator) => Some(emulator.arc_token_dir),
        _ => None,
    };
    (cli.common.arc_token_dir, emulator)
}

#[test]
fn the_command_line_is_valid() {
    Cli::command().debug_assert();
}

#[test]
fn the_emulator_sees_whether_arc_token_dir_was_given() {
    let (common, emulator) = arc_token_dir(&["azmi", "emulator"]);
    let emulator = emulator.unwrap();
    assert!(!emulator.on_command_line && !common.on_command_line);
    assert_eq!(emulator.path, PathBuf::from(azmi::ARC_TOKEN_DIR));
    for args in [
        ["azmi", "emulator", "--arc-token-dir", "/tmp/keys"],
        ["azmi", "--arc-token-dir", "/tmp/keys", "emulator"],
    ] {
        let emulator = arc_token_dir(&args).1.unwrap();
        assert!(emulator.on_command_line, "{args:?}");
        assert_eq!(emulator.path, PathBuf::from("/tmp/keys"), "{args:?}");
    }
    let (common, _) = arc_token_dir(&["azmi", "token", "--arc-token-dir", "/tmp/keys"]);
    assert_eq!(PathBuf::from(&common), PathBuf::from("/tmp/keys"));
    assert!(Cli::try_parse_from(["azmi", "emulator", "--arc-token-dir", ""]).is_err());
}
