//! TLS client configuration for vault connections: the Mozilla roots built
//! into the binary (webpki-roots), plus any extra roots the operator gives
//! (an emulator's CA, a corporate proxy's CA). HTTP/1.1 only.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::Error;

/// Parses every certificate in a PEM bundle. `source` names it in errors.
pub(crate) fn parse_pem_certificates(
    pem: &[u8],
    source: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "{source} is not a valid PEM certificate bundle: {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{source} contains no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}

pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(|e| {
            Error::Config(format!("a CA certificate was refused as a trust root: {e}"))
        })?;
    }
    // An explicit provider: the process-wide default is ambiguous when more
    // than one rustls provider is compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
