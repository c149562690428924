use super::*;

fn run(vars: &[&str], arc_agent: bool) -> Result<Source, DetectError> {
    let env = |name: &str| vars.contains(&name).then(|| format!("value of {name}"));
    detect(&env, arc_agent)
}

/// Every combination of the nine variables, with and without the Arc agent,
/// against the SDKs' detection rules, written out independently.
#[test]
fn detection_table_covers_every_combination() {
    let names = [
        IDENTITY_ENDPOINT,
        IDENTITY_HEADER,
        IDENTITY_SERVER_THUMBPRINT,
        IMDS_ENDPOINT,
        MSI_ENDPOINT,
        MSI_SECRET,
        AZURE_FEDERATED_TOKEN_FILE,
        AZURE_CLIENT_ID,
        AZURE_TENANT_ID,
    ];
    for mask in 0u32..(1 << names.len()) {
        for arc_agent in [false, true] {
            let vars: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            let has = |n: &str| vars.contains(&n);
            let expected = if has(AZURE_FEDERATED_TOKEN_FILE)
                && has(AZURE_CLIENT_ID)
                && has(AZURE_TENANT_ID)
            {
                Ok(Source::WorkloadIdentity)
            } else if has(IDENTITY_ENDPOINT)
                && has(IDENTITY_HEADER)
                && has(IDENTITY_SERVER_THUMBPRINT)
            {
                Ok(Source::ServiceFabric)
            } else if has(IDENTITY_ENDPOINT) && has(IDENTITY_HEADER) {
                Ok(Source::AppService)
            } else if has(IDENTITY_ENDPOINT) && has(IMDS_ENDPOINT) {
                Ok(Source::Arc)
            } else if has(IDENTITY_ENDPOINT) {
                Err(DetectError::IdentityEndpointAlone)
            } else if has(MSI_ENDPOINT) && has(MSI_SECRET) {
                Ok(Source::AppService2017)
            } else if has(MSI_ENDPOINT) {
                Ok(Source::CloudShell)
            } else if arc_agent {
                Ok(Source::Arc)
            } else {
                Ok(Source::Imds)
            };
            assert_eq!(
                run(&vars, arc_agent),
                expected,
                "{vars:?}, arc agent {arc_agent}"
            );
        }
    }
}

#[test]
fn named_cases_from_the_reference() {
    // App Service 2019 wins when both generations are set (PY test_prefers_app_service_2019_08_01).
    assert_eq!(
        run(
            &[IDENTITY_ENDPOINT, IDENTITY_HEADER, MSI_ENDPOINT, MSI_SECRET],
            false
        ),
        Ok(Source::AppService)
    );
    // Arc's environment beats the Arc agent file and IMDS.
    assert_eq!(
        run(&[IDENTITY_ENDPOINT, IMDS_ENDPOINT], false),
        Ok(Source::Arc)
    );
    assert_eq!(run(&[], true), Ok(Source::Arc));
    assert_eq!(run(&[], false), Ok(Source::Imds));
    // MSI_ENDPOINT is checked before the Arc agent file.
    assert_eq!(run(&[MSI_ENDPOINT], true), Ok(Source::CloudShell));
    // Workload identity comes first, as DefaultAzureCredential tries it
    // before managed identity; AZURE_CLIENT_ID alone (a user-assigned
    // identity's id for DefaultAzureCredential on a VM) is not it.
    let workload = [AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID];
    assert_eq!(
        run(
            &[&workload[..], &[IDENTITY_ENDPOINT, IDENTITY_HEADER]].concat(),
            true
        ),
        Ok(Source::WorkloadIdentity)
    );
    assert_eq!(run(&[AZURE_CLIENT_ID], false), Ok(Source::Imds));
    assert_eq!(
        resolve(Some(Source::WorkloadIdentity), &|_: &str| None, false),
        Err(DetectError::MissingVariable {
            source: Source::WorkloadIdentity,
            variable: AZURE_FEDERATED_TOKEN_FILE
        })
    );
}

#[test]
fn empty_values_count_as_unset() {
    let env = |name: &str| (name == IDENTITY_ENDPOINT).then(|| "  ".to_owned());
    assert_eq!(detect(&env, false), Ok(Source::Imds));
}

#[test]
fn forcing_a_source_checks_its_variables() {
    let env = |name: &str| (name == IDENTITY_ENDPOINT).then(|| "http://127.0.0.1:1/t".to_owned());
    assert_eq!(resolve(Some(Source::Imds), &env, false), Ok(Source::Imds));
    assert_eq!(resolve(Some(Source::Arc), &env, false), Ok(Source::Arc));
    assert_eq!(
        resolve(Some(Source::AppService), &env, false),
        Err(DetectError::MissingVariable {
            source: Source::AppService,
            variable: IDENTITY_HEADER
        })
    );
    let message = resolve(Some(Source::CloudShell), &env, false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "the cloud-shell source needs MSI_ENDPOINT, which is not set"
    );
    assert_eq!(
        resolve(None, &env, false),
        Err(DetectError::IdentityEndpointAlone)
    );
}

#[test]
fn names_round_trip() {
    for source in Source::ALL {
        assert_eq!(Source::from_name(source.name()), Some(source));
        for var in source.variables() {
            assert!(VARIABLES.contains(var), "{var}");
        }
    }
    assert_eq!(Source::from_name("managed"), None);
}
