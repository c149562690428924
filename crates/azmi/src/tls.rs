//! TLS client configuration for vault connections: the Mozilla roots built
//! into the binary (webpki-roots), plus any extra roots the operator gives
//! (an emulator's CA, a corporate proxy's CA). HTTP/1.1 only.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::{Error, Setting};
use crate::policy::Thumbprint;

/// Parses every certificate in a PEM bundle. `source` names it in errors.
pub(crate) fn parse_pem_certificates(
    pem: &[u8],
    source: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(
                Setting::TrustRoots,
                Some(source),
                format!("{source} is not a valid PEM certificate bundle: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::config(
            Setting::TrustRoots,
            Some(source),
            format!("{source} contains no PEM certificate (-----BEGIN CERTIFICATE-----)"),
        ));
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
            Error::config(
                Setting::TrustRoots,
                None,
                format!("a CA certificate was refused as a trust root: {e}"),
            )
        })?;
    }
    // An explicit provider: the process-wide default is ambiguous when more
    // than one rustls provider is compiled in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(Setting::Engine, None, format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts exactly one certificate, by the SHA-1
/// thumbprint of its DER encoding, whatever it chains to or names: Service
/// Fabric's managed-identity endpoint has a self-signed certificate that
/// the cluster announces that way (`IDENTITY_SERVER_THUMBPRINT`). The
/// handshake signature is still verified, so the server must hold the
/// certificate's key.
pub(crate) fn pinned_client_config(
    thumbprint: Thumbprint,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(ThumbprintVerifier {
        thumbprint,
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(Setting::Engine, None, format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Parses a thumbprint as the Azure SDKs do: spaces, tabs, line breaks and
/// colons removed, then exactly 40 hexadecimal digits in either case.
pub(crate) fn parse_thumbprint(raw: &str) -> Result<Thumbprint, String> {
    let hex: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{raw}` is not a SHA-1 thumbprint (40 hexadecimal digits, optionally separated by spaces or colons)"
        ));
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// SHA-1 of a certificate's DER, as thumbprints are computed.
pub(crate) fn thumbprint_of(der: &[u8]) -> Thumbprint {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.as_ref());
    out
}

#[derive(Debug)]
struct ThumbprintVerifier {
    thumbprint: Thumbprint,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for ThumbprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let actual = thumbprint_of(end_entity);
        // Constant time, as MSAL compares it.
        let differs = actual
            .iter()
            .zip(self.thumbprint.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs == 0 {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests;
