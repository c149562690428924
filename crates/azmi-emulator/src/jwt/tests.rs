use super::*;

#[test]
fn issued_tokens_verify_and_forgeries_do_not() {
    let signer = Signer::new().unwrap();
    let token = signer
        .issue(&json!({"aud":"https://vault.azure.net","iss":"i","oid":"o","exp":10,"nbf":1}));
    assert_eq!(token.split('.').count(), 3);
    let claims = signer.verify(&token).unwrap();
    assert_eq!(
        (claims.aud.as_str(), claims.oid.as_str(), claims.exp),
        ("https://vault.azure.net", "o", 10)
    );
    let other = Signer::new().unwrap();
    assert!(
        other.verify(&token).is_none(),
        "another key's token verified"
    );
    let mut tampered = token.clone();
    tampered.insert(token.find('.').unwrap() + 2, 'x');
    assert!(signer.verify(&tampered).is_none());
    assert!(signer.verify("not-a-token").is_none());
}
