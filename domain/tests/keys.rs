//! ES256 keys against tools and texts we did not write: RFC 7515's own ES256 example, key ids
//! recomputed by Python's hashlib and by `openssl dgst`, signatures checked by `openssl dgst
//! -verify` and by Python's `cryptography`, and openssl-made keys and signatures read by us.

use std::path::Path;
use std::process::Command;

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use domain::DomainError;
use domain::keys::{Jwks, KeyId, PublicJwk, SigningKey};
use p256::ecdsa::Signature;
use p256::elliptic_curve::scalar::IsHigh as _;

/// RFC 7515 Appendix A.3: the ES256 example's public key, JWS Signing Input and signature.
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_SIGNING_INPUT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const A3_SIG: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
/// The RFC 7638 thumbprint of the A.3 key, computed outside this code base, twice:
/// `python3 -c 'import hashlib,base64,json; print(base64.urlsafe_b64encode(hashlib.sha256(
/// json.dumps({"crv":"P-256","kty":"EC","x":X,"y":Y}, sort_keys=True,
/// separators=(",",":")).encode()).digest()).rstrip(b"=").decode())'` and
/// `printf %s '{"crv":"P-256","kty":"EC","x":X,"y":Y}' | openssl dgst -sha256 -binary |
/// base64 | tr '+/' '-_' | tr -d =`.
const A3_KID: &str = "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";

fn a3_jwk() -> PublicJwk {
    serde_json::from_value(serde_json::json!({"kty":"EC","crv":"P-256","x":A3_X,"y":A3_Y})).unwrap()
}

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    let bin = testkit::openssl().expect("openssl");
    let out = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn has_openssl() -> bool {
    testkit::openssl().is_some()
}

#[test]
fn rfc7515_a3_es256_example_verifies_and_its_kid_is_the_independently_computed_thumbprint() {
    let jwk = a3_jwk();
    jwk.verify(A3_SIGNING_INPUT.as_bytes(), A3_SIG).unwrap();
    assert_eq!(jwk.kid().as_str(), A3_KID);
    assert_eq!(jwk.thumbprint().as_str(), A3_KID);
    let mut other = A3_SIGNING_INPUT.to_owned();
    other.push('x');
    assert!(matches!(
        jwk.verify(other.as_bytes(), A3_SIG),
        Err(DomainError::Signature(_))
    ));
}

#[test]
fn public_jwk_is_written_with_every_member_and_reads_back() {
    let jwk = a3_jwk();
    let v = serde_json::to_value(&jwk).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kty":"EC","crv":"P-256","x":A3_X,"y":A3_Y,"kid":A3_KID,"alg":"ES256","use":"sig"})
    );
    let back: PublicJwk = serde_json::from_value(v).unwrap();
    assert_eq!(back, jwk);
}

fn jwk_err(v: &serde_json::Value) -> String {
    serde_json::from_value::<PublicJwk>(v.clone())
        .expect_err("accepted")
        .to_string()
}

#[test]
fn jwk_reading_refuses_off_curve_points_foreign_kids_private_members_and_other_algorithms() {
    let base = serde_json::json!({"kty":"EC","crv":"P-256","x":A3_X,"y":A3_Y});
    let with = |k: &str, v: serde_json::Value| {
        let mut o = base.clone();
        o[k] = v;
        o
    };
    // y of another key: (x, y) is not on the curve.
    let off = with(
        "y",
        serde_json::json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    );
    assert!(jwk_err(&off).contains("not a point"), "{}", jwk_err(&off));
    let wrong_kid = with("kid", serde_json::json!("2010-12-29"));
    assert!(jwk_err(&wrong_kid).contains("thumbprint"));
    let private = with(
        "d",
        serde_json::json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"),
    );
    assert!(jwk_err(&private).contains("\"d\""));
    assert!(jwk_err(&with("alg", serde_json::json!("RS256"))).contains("alg"));
    assert!(jwk_err(&with("use", serde_json::json!("enc"))).contains("use"));
    assert!(jwk_err(&with("crv", serde_json::json!("P-384"))).contains("P-256"));
    // Padding, the standard alphabet and a non-zero spare bit are other spellings of x.
    let padded = with("x", serde_json::json!(format!("{A3_X}=")));
    assert!(jwk_err(&padded).contains("base64url"));
    let spare = {
        let mut x = A3_X.to_owned();
        x.pop();
        x.push('V'); // 'U' = 010100, 'V' = 010101: the two spare bits become non-zero
        with("x", serde_json::json!(x))
    };
    assert!(jwk_err(&spare).contains("canonical"), "{}", jwk_err(&spare));
    // Unknown members are ignored (RFC 7517 §4), a matching kid is accepted.
    let extra = with("key_ops", serde_json::json!(["verify"]));
    let extra = {
        let mut e = extra;
        e["kid"] = serde_json::json!(A3_KID);
        e
    };
    assert_eq!(
        serde_json::from_value::<PublicJwk>(extra).unwrap(),
        a3_jwk()
    );
}

#[test]
fn verify_refuses_der_padded_and_non_canonical_signatures_and_zero_scalars() {
    let jwk = a3_jwk();
    let msg = A3_SIGNING_INPUT.as_bytes();
    let raw = Base64UrlUnpadded::decode_vec(A3_SIG).unwrap();
    let der = Signature::from_slice(&raw).unwrap().to_der();
    let der_b64 = Base64UrlUnpadded::encode_string(der.as_bytes());
    for (bad, why) in [
        (der_b64.as_str(), "DER"),
        (&format!("{A3_SIG}=="), "padded"),
        (&A3_SIG[..85], "short"),
        (&A3_SIG.replace('-', "+"), "standard alphabet"),
    ] {
        let e = jwk.verify(msg, bad).expect_err(why);
        assert!(matches!(e, DomainError::Signature(_)), "{why}: {e}");
    }
    // The last character carries two spare bits: 'Q' = 010000, 'R' = 010001.
    let spare = format!("{}R", &A3_SIG[..85]);
    let e = jwk.verify(msg, &spare).unwrap_err().to_string();
    assert!(e.contains("canonical"), "{e}");
    let zeros = Base64UrlUnpadded::encode_string(&[0u8; 64]);
    let e = jwk.verify(msg, &zeros).unwrap_err().to_string();
    assert!(e.contains("zero"), "{e}");
}

#[test]
fn high_s_twins_of_valid_signatures_are_accepted() {
    let key = SigningKey::generate();
    let jwk = key.public_jwk();
    let sig = key.sign(b"run summary");
    let parsed = Signature::from_slice(&Base64UrlUnpadded::decode_vec(&sig).unwrap()).unwrap();
    let (r, s) = parsed.split_scalars();
    let twin = Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    let twin_b64 = Base64UrlUnpadded::encode_string(&twin.to_bytes());
    jwk.verify(b"run summary", &sig).unwrap();
    jwk.verify(b"run summary", &twin_b64).unwrap();
    let high = [parsed, twin]
        .iter()
        .filter(|g| bool::from(g.s().is_high()))
        .count();
    assert_eq!(high, 1, "exactly one of a signature and its twin is high-S");
}

#[test]
fn pkcs8_pem_round_trips_and_keeps_the_key_id() {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let back = SigningKey::from_pem(&pem).unwrap();
    assert_eq!(back.key_id(), key.key_id());
    assert_eq!(back.sign(b"m"), key.sign(b"m"));
    let e = SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        .unwrap_err();
    assert!(matches!(e, DomainError::Key(_)), "{e}");
}

#[test]
fn openssl_made_pkcs8_and_sec1_keys_load_and_openssl_agrees_on_the_public_key_and_thumbprint() {
    if !has_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "pkcs8.pem",
        ],
        dir,
    );
    openssl(
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "sec1.pem",
        ],
        dir,
    );
    for name in ["pkcs8.pem", "sec1.pem"] {
        let pem = std::fs::read_to_string(dir.join(name)).unwrap();
        let key = SigningKey::from_pem(&pem).unwrap();
        // openssl's SPKI DER ends with the 65-byte uncompressed point 04‖x‖y.
        let spki = openssl(&["pkey", "-in", name, "-pubout", "-outform", "DER"], dir).stdout;
        let point = &spki[spki.len() - 65..];
        assert_eq!(point[0], 4);
        let x = Base64UrlUnpadded::encode_string(&point[1..33]);
        let y = Base64UrlUnpadded::encode_string(&point[33..]);
        let jwk = key.public_jwk();
        assert_eq!((jwk.x(), jwk.y()), (x.as_str(), y.as_str()), "{name}");
        // RFC 7638 §3 by hand, hashed by openssl.
        let members = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        std::fs::write(dir.join("members.json"), &members).unwrap();
        let digest = openssl(&["dgst", "-sha256", "-binary", "members.json"], dir).stdout;
        assert_eq!(
            key.key_id().as_str(),
            Base64UrlUnpadded::encode_string(&digest),
            "{name}"
        );
        // And our PKCS#8 is a key openssl reads, with the same public half.
        std::fs::write(dir.join("ours.pem"), key.to_pkcs8_pem()).unwrap();
        let again = openssl(
            &["pkey", "-in", "ours.pem", "-pubout", "-outform", "DER"],
            dir,
        )
        .stdout;
        assert_eq!(again, spki);
    }
}

#[test]
fn openssl_dgst_verifies_our_signatures_and_we_verify_openssls() {
    if !has_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = SigningKey::generate();
    let jwk = key.public_jwk();
    std::fs::write(dir.join("key.pem"), key.to_pkcs8_pem()).unwrap();
    std::fs::write(dir.join("pub.pem"), jwk.to_spki_pem()).unwrap();
    let msg = br#"{"alg":"ES256","format":"c2c.run-summary.v1","seq":1}"#;
    std::fs::write(dir.join("msg"), msg).unwrap();

    // Ours → DER → openssl.
    let raw = Base64UrlUnpadded::decode_vec(&key.sign(msg)).unwrap();
    let der = Signature::from_slice(&raw).unwrap().to_der();
    std::fs::write(dir.join("ours.der"), der.as_bytes()).unwrap();
    let out = openssl(
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "ours.der",
            "msg",
        ],
        dir,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"));

    // openssl → DER → r‖s → ours; several times, so both halves of s turn up.
    for i in 0..8 {
        let sig = format!("theirs{i}.der");
        openssl(
            &["dgst", "-sha256", "-sign", "key.pem", "-out", &sig, "msg"],
            dir,
        );
        let der = std::fs::read(dir.join(&sig)).unwrap();
        let rs = Signature::from_der(&der).unwrap().to_bytes();
        jwk.verify(msg, &Base64UrlUnpadded::encode_string(&rs))
            .unwrap();
        assert!(
            jwk.verify(b"other", &Base64UrlUnpadded::encode_string(&rs))
                .is_err()
        );
    }
}

/// Python's `cryptography` (OpenSSL underneath, but another caller and another encoding
/// path) verifies our signature from the JWK's x and y, and signs one we verify.
#[test]
fn python_cryptography_verifies_our_signature_and_signs_one_we_verify() {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        testkit::skip(
            "python3 with the cryptography package not found",
            "install Debian's python3-cryptography",
        );
        return;
    }
    let key = SigningKey::generate();
    let jwk = key.public_jwk();
    let msg = "c2c.receipt.v1 bytes";
    let script = r#"
import sys, base64, json
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature, decode_dss_signature
jwk, msg, sig, pem = json.loads(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4].encode()
b = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
i = lambda s: int.from_bytes(b(s), "big")
pub = ec.EllipticCurvePublicNumbers(i(jwk["x"]), i(jwk["y"]), ec.SECP256R1()).public_key()
raw = b(sig)
pub.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")), msg, ec.ECDSA(hashes.SHA256()))
priv = serialization.load_pem_private_key(pem, password=None)
r, s = decode_dss_signature(priv.sign(msg, ec.ECDSA(hashes.SHA256())))
print(base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode())
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &serde_json::to_string(&jwk).unwrap(),
            msg,
            &key.sign(msg.as_bytes()),
            &key.to_pkcs8_pem(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap();
    jwk.verify(msg.as_bytes(), theirs.trim()).unwrap();
}

#[test]
fn jwks_finds_keys_by_id_and_refuses_duplicates_empty_sets_and_duplicate_members() {
    let a = SigningKey::generate();
    let b = SigningKey::generate();
    let jwks = Jwks::new(vec![a.public_jwk(), b.public_jwk()]).unwrap();
    assert_eq!(jwks.get(b.key_id()), Some(&b.public_jwk()));
    let text = jwks.to_json_pretty();
    assert_eq!(Jwks::from_json(text.as_bytes()).unwrap(), jwks);
    let absent = KeyId::new(A3_KID).unwrap();
    assert!(jwks.get(&absent).is_none());

    assert!(Jwks::new(vec![a.public_jwk(), a.public_jwk()]).is_err());
    assert!(Jwks::from_json(br#"{"keys":[]}"#).is_err());
    assert!(Jwks::from_json(br#"{"keys":[], "keys":[]}"#).is_err());
    assert!(Jwks::from_json(b"[]").is_err());
    let e = Jwks::from_json(br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#).unwrap_err();
    assert!(matches!(e, DomainError::Format(_)), "{e}");
}

#[test]
fn key_ids_are_43_canonical_base64url_characters() {
    KeyId::new(A3_KID).unwrap();
    assert!(KeyId::new("").is_err());
    assert!(KeyId::new(&format!("{A3_KID}=")).is_err());
    assert!(KeyId::new(&A3_KID.replace('-', "+")).is_err());
    assert!(KeyId::new("2010-12-29").is_err());
    // Standard base64 of the same bytes is another spelling, refused.
    let bytes = Base64UrlUnpadded::decode_vec(A3_KID).unwrap();
    assert!(KeyId::new(Base64::encode_string(&bytes).trim_end_matches('=')).is_err());
}
