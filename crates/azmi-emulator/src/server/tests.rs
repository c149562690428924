use super::*;

#[test]
fn decodes_query_values() {
    let uri: http::Uri =
        "/t?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&x=a+b&bad=%zz&end=%4"
            .parse()
            .unwrap();
    assert_eq!(
        query_pairs(&uri),
        vec![
            ("api-version".into(), "2018-02-01".into()),
            ("resource".into(), "https://vault.azure.net".into()),
            ("x".into(), "a b".into()),
            ("bad".into(), "%zz".into()),
            ("end".into(), "%4".into()),
        ]
    );
}
