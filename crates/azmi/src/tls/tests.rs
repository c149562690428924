use super::*;

#[test]
fn thumbprints_normalise_like_the_sdks() {
    let expected = parse_thumbprint("0123456789abcdef0123456789abcdef01234567").unwrap();
    for spelling in [
        "0123456789ABCDEF0123456789ABCDEF01234567",
        "01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67",
        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
        " 0123456789abcdef0123456789abcdef01234567\n",
    ] {
        assert_eq!(parse_thumbprint(spelling).unwrap(), expected, "{spelling}");
    }
    for bad in [
        "",
        "0123",
        "0123456789abcdef0123456789abcdef0123456",
        "g123456789abcdef0123456789abcdef01234567",
    ] {
        assert!(parse_thumbprint(bad).is_err(), "{bad}");
    }
}
