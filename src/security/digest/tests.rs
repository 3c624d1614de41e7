use super::*;
use proptest::prelude::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

fn authority() -> NonceAuthority {
    NonceAuthority::new(b"a shared secret of any length")
}

#[test]
fn nonces_look_like_atlas_nonces() {
    let nonce = authority().issue(NOW);
    assert_eq!(nonce.len(), 32);
    assert!(
        nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    );
}

#[test]
fn nonces_of_one_second_are_told_apart() {
    let authority = authority();
    let ids: std::collections::HashSet<NonceId> = (0..10_000)
        .map(|_| match authority.check(&authority.issue(NOW), NOW) {
            NonceStatus::Fresh(id) => id,
            other => panic!("a nonce just issued is {other:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 10_000);
    // The same nonce checked twice is the same nonce.
    let nonce = authority.issue(NOW);
    assert_eq!(authority.check(&nonce, NOW), authority.check(&nonce, NOW));
}

#[test]
fn a_nonce_is_fresh_for_a_minute_then_stale() {
    let authority = authority();
    let nonce = authority.issue(NOW);
    assert!(matches!(
        authority.check(&nonce, NOW + Duration::seconds(60)),
        NonceStatus::Fresh(_)
    ));
    assert_eq!(
        authority.check(&nonce, NOW + Duration::seconds(61)),
        NonceStatus::Stale
    );
}

#[test]
fn another_secret_or_a_tampered_nonce_is_forged() {
    let nonce = authority().issue(NOW);
    assert_eq!(
        NonceAuthority::new(b"other").check(&nonce, NOW),
        NonceStatus::Forged
    );
    let mut tampered = nonce.into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    assert_eq!(authority().check(&tampered, NOW), NonceStatus::Forged);
    assert_eq!(authority().check("", NOW), NonceStatus::Forged);
}

#[test]
fn the_challenge_has_atlas_parameters_in_atlas_order() {
    let challenge = authority().challenge(NOW, false);
    let parts: Vec<&str> = challenge
        .trim_start_matches("Digest ")
        .split(", ")
        .collect();
    assert_eq!(parts.len(), 6);
    assert_eq!(parts[0], "realm=\"MMS Public API\"");
    assert_eq!(parts[1], "domain=\"\"");
    assert!(parts[2].starts_with("nonce=\""));
    assert_eq!(
        &parts[3..],
        ["algorithm=MD5", "qop=\"auth\"", "stale=false"]
    );
}

/// The worked example of RFC 2617 §3.5, with the realm swapped for ours.
fn rfc_credentials(ha1_user: &str) -> (DigestCredentials, DigestHa1) {
    let ha1 = digest_ha1(ha1_user, "Circle Of Life");
    let mut credentials = DigestCredentials {
        username: ha1_user.into(),
        realm: REALM.into(),
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
        uri: "/dir/index.html".into(),
        response: String::new(),
        algorithm: Some("MD5".into()),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some("0a4f113b".into()),
        opaque: None,
    };
    let mut ha1_hex = String::new();
    push_hex(&mut ha1_hex, &ha1.0);
    let ha2 = md5_hex(&["GET:/dir/index.html"]);
    credentials.response = md5_hex(&[
        &ha1_hex,
        ":dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:",
        &ha2,
    ]);
    (credentials, ha1)
}

#[test]
fn the_rfc_2617_example_verifies_with_its_own_realm() {
    // Known answer: RFC 2617 §3.5 gives this response for realm testrealm@host.com.
    let ha1 = md5_hex(&["Mufasa:testrealm@host.com:Circle Of Life"]);
    let ha2 = md5_hex(&["GET:/dir/index.html"]);
    let response = md5_hex(&[
        &ha1,
        ":dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:",
        &ha2,
    ]);
    assert_eq!(response, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn a_correct_response_verifies_and_a_wrong_method_does_not() {
    let (credentials, ha1) = rfc_credentials("mufasa");
    assert!(credentials.verify(&ha1, "GET"));
    assert!(!credentials.verify(&ha1, "POST"));
    assert!(!credentials.verify(&digest_ha1("mufasa", "wrong"), "GET"));
}

#[test]
fn curl_go_and_python_headers_all_parse() {
    let curl = r#"Digest username="abcdefgh", realm="MMS Public API", nonce="n+/1==", uri="/api/atlas/v1.0/orgs?x=1", cnonce="MTIzNDU2Nzg5MDEy", nc=00000001, qop=auth, response="0123", algorithm=MD5"#;
    let go = r#"Digest username="abcdefgh", realm="MMS Public API", nonce="n+/1==", uri="/p", cnonce="0123456789abcdef", nc=00000001, qop=auth, response="0123", algorithm="MD5""#;
    let python = r#"Digest username="abcdefgh", realm="MMS Public API", nonce="n+/1==", uri="/p", response="0123", algorithm="MD5", qop="auth", nc=00000002, cnonce="6c5e0b2d63a3e2f1""#;
    for header in [curl, go, python] {
        let parsed = parse_authorization(header).expect(header);
        assert_eq!(parsed.username, "abcdefgh");
        assert_eq!(parsed.nonce, "n+/1==");
        assert_eq!(parsed.qop.as_deref(), Some("auth"));
    }
    assert_eq!(
        parse_authorization(curl).expect("curl").uri,
        "/api/atlas/v1.0/orgs?x=1"
    );
}

#[test]
fn escaped_quotes_and_odd_spacing_are_read() {
    let parsed = parse_authorization(
        "digest  username = \"a\\\"b\" ,realm=\"MMS Public API\",nonce=\"n\",uri=\"/\",response=\"r\"",
    )
    .expect("parses");
    assert_eq!(parsed.username, "a\"b");
    assert_eq!(parsed.qop, None);
}

#[test]
fn broken_headers_are_refused() {
    assert_eq!(
        parse_authorization("Basic dXNlcjpwYXNz"),
        Err(MalformedDigest::NotDigest)
    );
    assert_eq!(
        parse_authorization("Digest username=\"a"),
        Err(MalformedDigest::Syntax)
    );
    assert_eq!(
        parse_authorization("Digest username=a, username=b, realm=r, nonce=n, uri=/, response=x"),
        Err(MalformedDigest::Duplicate("username".into()))
    );
    assert_eq!(
        parse_authorization("Digest username=a, realm=r, nonce=n, uri=/"),
        Err(MalformedDigest::Missing("response"))
    );
}

#[test]
fn shape_checks_catch_each_unacceptable_parameter() {
    let (good, _) = rfc_credentials("mufasa");
    assert_eq!(good.check_shape("/dir/index.html"), Ok(()));
    assert_eq!(
        good.check_shape("/other"),
        Err(UnacceptableDigest::UriMismatch)
    );
    let absolute = DigestCredentials {
        uri: "http://127.0.0.1:8080/dir/index.html".into(),
        ..good.clone()
    };
    assert_eq!(absolute.check_shape("/dir/index.html"), Ok(()));
    let zero = DigestCredentials {
        nc: Some("00000000".into()),
        ..good.clone()
    };
    assert_eq!(
        zero.check_shape("/dir/index.html"),
        Err(UnacceptableDigest::BadNonceCount)
    );
    let sha = DigestCredentials {
        algorithm: Some("SHA-256".into()),
        ..good.clone()
    };
    assert_eq!(
        sha.check_shape("/dir/index.html"),
        Err(UnacceptableDigest::UnsupportedAlgorithm)
    );
    let realm = DigestCredentials {
        realm: "other".into(),
        ..good.clone()
    };
    assert_eq!(
        realm.check_shape("/dir/index.html"),
        Err(UnacceptableDigest::WrongRealm)
    );
    let auth_int = DigestCredentials {
        qop: Some("auth-int".into()),
        ..good
    };
    assert_eq!(
        auth_int.check_shape("/dir/index.html"),
        Err(UnacceptableDigest::UnsupportedQop)
    );
}

proptest! {
    #[test]
    fn parsing_never_panics(header in "\\PC*") {
        let _ = parse_authorization(&header);
    }

    #[test]
    fn digest_prefixed_noise_never_panics(rest in "[ a-z=\",\\\\]{0,80}") {
        let _ = parse_authorization(&format!("Digest {rest}"));
    }

    #[test]
    fn nonce_checks_never_panic(nonce in "\\PC{0,64}") {
        let _ = authority().check(&nonce, NOW);
    }
}
