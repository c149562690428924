use super::*;

#[test]
fn fault_lists_parse() {
    let (service, faults) = parse_fault_list("imds=410,410,200").unwrap();
    assert_eq!(
        (service, faults),
        (
            Service::Imds,
            vec![Fault::Status(410), Fault::Status(410), Fault::Normal]
        )
    );
    let (service, faults) =
        parse_fault_list("vault=429:retry-after=2,delay=150,hang,slow-body=20,truncated").unwrap();
    assert_eq!(service, Service::Vault);
    assert_eq!(
        faults,
        vec![
            Fault::RetryAfter(429, 2),
            Fault::Delay(Duration::from_millis(150)),
            Fault::Hang,
            Fault::SlowBody(Duration::from_millis(20)),
            Fault::Truncated
        ]
    );
    let (_, faults) = parse_fault_list("arc=oversized=70000,malformed-json,wrong-content-type,expiry=windows-date,lifetime=301:refresh-in=1").unwrap();
    assert_eq!(faults[0], Fault::Oversized(70_000));
    assert_eq!(faults[3], Fault::Expiry(ExpiryForm::WindowsDate));
    assert_eq!(
        faults[4],
        Fault::Lifetime {
            seconds: 301,
            refresh_in: Some(1)
        }
    );
    let (_, faults) =
        parse_fault_list("vault=challenge-resource=https://management.azure.com").unwrap();
    let Fault::Challenge(header) = &faults[0] else {
        panic!("a challenge: {faults:?}")
    };
    assert!(
        header.ends_with(r#", resource="https://management.azure.com""#),
        "{header}"
    );
    for bad in [
        "vault=challenge-resource",
        "imds",
        "dns=500",
        "imds=600",
        "imds=teapot",
        "imds=delay",
        "imds=expiry=soon",
    ] {
        assert!(parse_fault_list(bad).is_err(), "{bad}");
    }
}
