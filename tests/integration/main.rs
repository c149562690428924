//! azmi's integration suite: the real component, through the host library
//! and the `azmi` binary, against the built-in emulator. Loopback only.

mod smoke {
    use azmi::emulator::{Emulator, EmulatorConfig};
    use azmi::{Credential, Identity, Runtime};

    #[tokio::test]
    async fn smoke() {
        let emulator = Emulator::start(EmulatorConfig::demo()).await.unwrap();
        let config = emulator.config_builder().unwrap().build().unwrap();
        let credential = Credential::new(Runtime::new().unwrap(), config);
        let token = credential
            .get_token("https://vault.azure.net", &Identity::SystemAssigned)
            .await
            .unwrap();
        println!("{token:?}");
        let secret = credential
            .get_secret(
                &emulator.vault_url(),
                "mysecret",
                None,
                &Identity::SystemAssigned,
            )
            .await
            .unwrap();
        assert_eq!(secret.value, "TOPSECRET");
    }
}
