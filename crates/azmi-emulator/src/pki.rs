//! A throw-away CA and a server certificate for the emulated vault hosts,
//! generated at start. Clients trust the CA explicitly (`--ca-file`); the
//! private keys never leave the process.

use std::sync::Arc;

use crate::Error;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub(super) struct Pki {
    pub(super) ca_pem: String,
    /// The vault's server configuration.
    pub(super) server_config: Arc<rustls::ServerConfig>,
    /// Entra's, under the same CA.
    pub(super) entra_config: Arc<rustls::ServerConfig>,
}

/// A CA and, under it, the vault's certificate for `hosts` and Entra's for
/// `entra_hosts`.
pub(super) fn generate(hosts: &[String], entra_hosts: &[String]) -> Result<Pki, Error> {
    let err = |e: rcgen::Error| Error::setup("the vault's certificates", e.to_string());
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "azmi emulator CA (throw-away)");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).map_err(err)?;

    Ok(Pki {
        ca_pem: ca.pem(),
        server_config: leaf(&ca, &ca_key, hosts)?,
        entra_config: leaf(&ca, &ca_key, entra_hosts)?,
    })
}

/// A server configuration with a certificate for `hosts` signed by `ca`.
fn leaf(
    ca: &rcgen::Certificate,
    ca_key: &KeyPair,
    hosts: &[String],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let err = |e: rcgen::Error| Error::setup("the emulator's certificates", e.to_string());
    let leaf_key = KeyPair::generate().map_err(err)?;
    let mut leaf_params = CertificateParams::new(hosts.to_vec()).map_err(err)?;
    leaf_params.distinguished_name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_default(),
    );
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, ca, ca_key).map_err(err)?;

    let chain = vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::setup("a TLS configuration", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Error::setup("the vault's certificates", e.to_string()))?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server_config))
}

/// A self-signed server certificate, as Service Fabric's identity endpoint
/// has, and its SHA-1 thumbprint (upper-case hex, as Windows shows it).
pub(super) fn self_signed(hosts: &[String]) -> Result<(Arc<rustls::ServerConfig>, String), Error> {
    let err = |e: rcgen::Error| Error::setup("Service Fabric's certificate", e.to_string());
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(hosts.to_vec()).map_err(err)?;
    params.distinguished_name.push(
        DnType::CommonName,
        "azmi emulator Service Fabric endpoint (self-signed)",
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).map_err(err)?;
    // SHA-1 of the DER, as Service Fabric announces its thumbprint.
    let thumbprint: String =
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::setup("a TLS configuration", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .map_err(|e| Error::setup("Service Fabric's certificate", e.to_string()))?;
    Ok((Arc::new(config), thumbprint))
}
