//! HTTPS: the server answers Atlas clients over TLS with a certificate given as PEM files, and
//! links name the scheme the client used.

use orgdoor::transport::{TlsFiles, load_tls};
use orgdoor_test_db::Backend;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use crate::harness::{DigestClient, DigestStyle, spawn_app_with};

/// A throwaway certificate authority and a certificate it signed for 127.0.0.1, as PEM files.
pub(crate) struct TestCertificates {
    pub(crate) authority_pem: String,
    pub(crate) files: TlsFiles,
    _directory: tempfile::TempDir,
}

#[expect(
    clippy::disallowed_methods,
    reason = "writes the test certificates before the server starts"
)]
pub(crate) fn certificates() -> TestCertificates {
    let authority_key = KeyPair::generate().unwrap();
    let mut authority = CertificateParams::new(Vec::<String>::new()).unwrap();
    authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let authority_pem = authority.self_signed(&authority_key).unwrap().pem();
    let issuer = Issuer::new(authority, authority_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let directory = tempfile::tempdir().unwrap();
    let certificate = directory.path().join("server.pem");
    let private_key = directory.path().join("server-key.pem");
    std::fs::write(&certificate, server.pem()).unwrap();
    std::fs::write(&private_key, server_key.serialize_pem()).unwrap();
    TestCertificates {
        authority_pem,
        files: TlsFiles {
            certificate,
            private_key,
        },
        _directory: directory,
    }
}

on_both_stores!(atlas_clients_work_over_https);

async fn atlas_clients_work_over_https(backend: Backend) {
    let certificates = certificates();
    let acceptor = load_tls(&certificates.files).expect("the PEM files load");
    let app = spawn_app_with(backend, |app| app.with_tls(acceptor)).await;
    assert!(app.base_url.starts_with("https://"), "{}", app.base_url);
    let trusting = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certificates.authority_pem.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let client = DigestClient::with_http(
        trusting.clone(),
        &app.base_url,
        app.owner.clone(),
        DigestStyle::ReuseNonce,
    );
    let created = client
        .post(
            &app.invites_path(),
            &serde_json::json!({"username": "tls@example.com", "roles": ["ORG_MEMBER"]}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let listed = client
        .get(&format!("/api/atlas/v2/orgs/{}/teams", app.org_id))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let link = listed.json["links"][0]["href"].as_str().unwrap_or_default();
    assert!(link.starts_with("https://"), "links name https: {link}");

    // A client that does not trust the certificate, and one speaking plain HTTP, get nowhere.
    let distrusting = reqwest::Client::new();
    assert!(
        distrusting
            .get(format!("{}/health", app.base_url))
            .send()
            .await
            .is_err()
    );
    let plain = app.base_url.replacen("https://", "http://", 1);
    assert!(
        reqwest::get(format!("{plain}/health"))
            .await
            .map(|response| !response.status().is_success())
            .unwrap_or(true),
        "plain HTTP is not served on the HTTPS port"
    );
}

#[test]
fn unreadable_tls_files_are_named_in_the_error() {
    let certificates = certificates();
    let missing = TlsFiles {
        certificate: certificates.files.certificate.with_file_name("missing.pem"),
        private_key: certificates.files.private_key.clone(),
    };
    let error = load_tls(&missing)
        .err()
        .expect("a missing file fails")
        .to_string();
    assert!(error.contains("missing.pem"), "{error}");
    let swapped = TlsFiles {
        certificate: certificates.files.private_key.clone(),
        private_key: certificates.files.certificate.clone(),
    };
    assert!(load_tls(&swapped).is_err());
}
