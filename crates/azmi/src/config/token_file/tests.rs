use super::*;

#[test]
fn a_directory_holding_the_token_and_kubelets_links_is_granted_at_its_own_path() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("..2026_12_04_10_00_00.1");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("azure-identity-token"), "t").unwrap();
    std::os::unix::fs::symlink("..2026_12_04_10_00_00.1", dir.path().join("..data")).unwrap();
    let file = dir.path().join("azure-identity-token");
    std::os::unix::fs::symlink("..data/azure-identity-token", &file).unwrap();
    let grant = grant(file.to_str().unwrap()).unwrap();
    assert_eq!(grant.host, dir.path());
    assert_eq!(grant.guest, dir.path().to_str().unwrap());
}

#[test]
fn a_directory_with_anything_else_in_it_is_refused_naming_what() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "t").unwrap();
    std::fs::write(dir.path().join("shadow"), "x").unwrap();
    let err = grant(file.to_str().unwrap()).unwrap_err();
    let Error::Config(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.setting, Setting::Variable(AZURE_FEDERATED_TOKEN_FILE));
    assert!(e.message.contains("also holds shadow"), "{}", e.message);
    // The root directory is refused the same way.
    assert!(grant("/token").is_err());
}

#[test]
fn relative_and_dotted_paths_and_missing_directories_are_refused() {
    for raw in ["token", "./token", "/var/run/../token", "/var/./token"] {
        assert!(grant(raw).is_err(), "{raw}");
    }
    let err = grant("/nonexistent-azmi-dir/token").unwrap_err();
    assert!(err.to_string().contains("cannot be listed"), "{err}");
}
