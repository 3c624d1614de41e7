//! HTTPS: a certificate chain and private key from PEM files, served with rustls.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the certificate chain (leaf first) and its private key are, both PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

/// Reads the files and builds the acceptor; errors name the file that is wrong.
pub fn load_tls(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "reading the certificate chain {}",
                files.certificate.display()
            )
        })?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{} holds no PEM certificate",
        files.certificate.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.private_key)
        .with_context(|| format!("reading the private key {}", files.private_key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and private key do not make a TLS identity")?;
    // Only HTTP/1.1 is served; saying so lets clients that prefer h2 fall back at once.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
