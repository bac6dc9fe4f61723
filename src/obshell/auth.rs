//! obshell's "API hybrid encryption" (auth v2), as pure functions: the RSA public key from
//! `GET /api/v1/secret`, a fresh AES-128-CBC key and IV per request for the body, and the
//! `X-OCS-Header` value, which is the header JSON `{"auth","ts","uri","keys"}` encrypted with RSA
//! PKCS#1 v1.5 in chunks of `k - 11` bytes (k = the key's modulus size in bytes).
//!
//! See `obshell-api.md` §4 and obshell's `ob/agent/secure/` for the server side.

use std::fmt;

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::{CryptoRng, RngCore};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use serde::Serialize;

use super::error::Error;

/// The name of the header that carries the encrypted authentication JSON.
pub(crate) const HEADER_NAME: &str = "X-OCS-Header";

/// The root@sys password that obshell checks. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for the encrypted header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(password: String) -> Self {
        Password(password)
    }
}

impl From<&str> for Password {
    fn from(password: &str) -> Self {
        Password(password.to_owned())
    }
}

/// One request's AES-128 key and CBC IV. Its `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AesKeys {
    key: [u8; 16],
    iv: [u8; 16],
}

impl AesKeys {
    /// A fresh random key and IV.
    pub(crate) fn random<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut keys = AesKeys {
            key: [0; 16],
            iv: [0; 16],
        };
        rng.fill_bytes(&mut keys.key);
        rng.fill_bytes(&mut keys.iv);
        keys
    }

    #[cfg(test)]
    pub(crate) fn from_parts(key: [u8; 16], iv: [u8; 16]) -> Self {
        AesKeys { key, iv }
    }

    /// `base64(key || iv)`, the header's `keys` field: obshell takes the first 16 bytes as the key
    /// and the rest as the IV.
    pub(crate) fn header_value(&self) -> String {
        let mut both = [0u8; 32];
        both[..16].copy_from_slice(&self.key);
        both[16..].copy_from_slice(&self.iv);
        BASE64.encode(both)
    }
}

impl fmt::Debug for AesKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKeys(***)")
    }
}

/// Encrypts a request body: `base64(AES-128-CBC(key, iv, PKCS#7(plaintext)))`, sent as raw text.
pub(crate) fn encrypt_body(keys: &AesKeys, plaintext: &[u8]) -> String {
    let cipher = cbc::Encryptor::<aes::Aes128>::new(&keys.key.into(), &keys.iv.into());
    BASE64.encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(plaintext))
}

/// Parses `data.public_key` of `GET /api/v1/secret`: standard base64 of a PKCS#1 DER `RSAPublicKey`.
pub(crate) fn parse_public_key(base64_der: &str) -> Result<RsaPublicKey, Error> {
    let der = BASE64
        .decode(base64_der.trim())
        .map_err(|error| Error::Crypto {
            reason: format!("obshell's public key is not base64: {error}"),
        })?;
    RsaPublicKey::from_pkcs1_der(&der).map_err(|error| Error::Crypto {
        reason: format!("obshell's public key is not a PKCS#1 RSA public key: {error}"),
    })
}

/// The header JSON as obshell decodes it into `secure.HttpHeader`.
#[derive(Serialize)]
struct HeaderJson<'a> {
    auth: &'a str,
    /// Unix seconds at which the request expires. obshell's field is a Go string: a JSON number
    /// fails to decode.
    ts: String,
    /// The request target, byte for byte (path and query).
    uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<String>,
}

/// Builds the header JSON. `expires_at` is in Unix seconds of the server's clock; `keys` are the
/// body's AES keys when a body is sent.
pub(crate) fn header_json(
    password: &Password,
    expires_at: i64,
    uri: &str,
    keys: Option<&AesKeys>,
) -> String {
    let header = HeaderJson {
        auth: password.expose(),
        ts: expires_at.to_string(),
        uri,
        keys: keys.map(AesKeys::header_value),
    };
    // Serialising a struct of strings cannot fail.
    serde_json::to_string(&header).expect("header JSON of plain strings serialises")
}

/// The largest plaintext chunk that RSA PKCS#1 v1.5 encrypts with this key: `k - 11` bytes.
pub(crate) fn chunk_size(key: &RsaPublicKey) -> usize {
    key.size() - 11
}

/// Encrypts the header JSON with RSA PKCS#1 v1.5 in chunks of [`chunk_size`] bytes, concatenates
/// the k-byte blocks and base64-encodes them: the value of `X-OCS-Header`.
pub(crate) fn encrypt_header<R: RngCore + CryptoRng>(
    key: &RsaPublicKey,
    header_json: &str,
    rng: &mut R,
) -> Result<String, Error> {
    let chunk = chunk_size(key);
    let bytes = header_json.as_bytes();
    let mut out = Vec::with_capacity(bytes.len().div_ceil(chunk) * key.size());
    for piece in bytes.chunks(chunk) {
        let block = key
            .encrypt(rng, Pkcs1v15Encrypt, piece)
            .map_err(|error| Error::Crypto {
                reason: format!("RSA encryption of the authentication header failed: {error}"),
            })?;
        out.extend_from_slice(&block);
    }
    Ok(BASE64.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::RsaPrivateKey;

    const AES_KEYS_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PLAINTEXT: &str = r#"{"backup_base_uri":"file:///data/backup","binding":"optional"}"#;
    /// Computed with `openssl enc -aes-128-cbc` (obshell-api.md §4.2).
    const CIPHERTEXT_B64: &str =
        "6gE1//d/5FRVHdouOq4elSot5faXqL9jWICNKcMYqUKwEFz9lVrkvP609yGhvXDB/WbMFOIQgkFqO86uSGvV6Q==";

    fn vector_keys() -> AesKeys {
        let mut key = [0u8; 16];
        let mut iv = [0u8; 16];
        for idx in 0..16u8 {
            key[usize::from(idx)] = idx;
            iv[usize::from(idx)] = 0x10 + idx;
        }
        AesKeys::from_parts(key, iv)
    }

    #[test]
    fn aes_body_matches_known_vector() {
        let keys = vector_keys();
        assert_eq!(keys.header_value(), AES_KEYS_B64);
        assert_eq!(encrypt_body(&keys, PLAINTEXT.as_bytes()), CIPHERTEXT_B64);
    }

    #[test]
    fn aes_block_aligned_body_gets_a_full_padding_block() {
        let keys = vector_keys();
        let body = encrypt_body(&keys, &[b'x'; 16]);
        assert_eq!(BASE64.decode(body).unwrap().len(), 32);
        let empty = encrypt_body(&keys, b"{}");
        assert_eq!(BASE64.decode(empty).unwrap().len(), 16);
    }

    #[test]
    fn header_json_has_string_ts_and_exact_uri() {
        let password = Password::new("p@ss\"word");
        let json = header_json(
            &password,
            1_700_000_060,
            "/api/v1/tenant/t1/parameters?filter=%25",
            None,
        );
        assert_eq!(
            json,
            r#"{"auth":"p@ss\"word","ts":"1700000060","uri":"/api/v1/tenant/t1/parameters?filter=%25"}"#
        );
        let with_keys = header_json(&password, 5, "/x", Some(&vector_keys()));
        let value: serde_json::Value = serde_json::from_str(&with_keys).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"auth": "p@ss\"word", "ts": "5", "uri": "/x", "keys": AES_KEYS_B64})
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(***)");
        assert_eq!(format!("{:?}", vector_keys()), "AesKeys(***)");
    }

    /// Decrypts like obshell's `HeaderDecrypt`: split by the key size, decrypt each block, join.
    fn server_decrypt(private: &RsaPrivateKey, header: &str) -> String {
        let raw = BASE64.decode(header).unwrap();
        let size = private.size();
        assert_eq!(raw.len() % size, 0, "ciphertext is whole k-byte blocks");
        let mut plain = Vec::new();
        for block in raw.chunks(size) {
            plain.extend(private.decrypt(Pkcs1v15Encrypt, block).unwrap());
        }
        String::from_utf8(plain).unwrap()
    }

    #[track_caller]
    fn check_header_round_trip(bits: usize, expected_chunk: usize) {
        let mut rng = StdRng::seed_from_u64(bits as u64);
        let private = RsaPrivateKey::new(&mut rng, bits).unwrap();
        let public = RsaPublicKey::from(&private);
        // The key travels as base64 PKCS#1 DER, as /api/v1/secret serves it.
        let served = BASE64.encode(public.to_pkcs1_der().unwrap().as_bytes());
        let parsed = parse_public_key(&served).unwrap();
        assert_eq!(chunk_size(&parsed), expected_chunk);

        let long_uri = format!(
            "/api/v1/tenant/{}/parameter/archive_lag_target",
            "t".repeat(150)
        );
        let json = header_json(
            &Password::new("root-password"),
            1_800_000_000,
            &long_uri,
            Some(&vector_keys()),
        );
        let header = encrypt_header(&parsed, &json, &mut rng).unwrap();
        let blocks = BASE64.decode(&header).unwrap().len() / parsed.size();
        assert_eq!(blocks, json.len().div_ceil(expected_chunk));
        assert!(blocks > 1, "the test covers several chunks");
        assert_eq!(server_decrypt(&private, &header), json);
    }

    #[test]
    fn header_round_trips_with_512_bit_key() {
        check_header_round_trip(512, 53);
    }

    #[test]
    fn header_round_trips_with_1024_bit_key() {
        check_header_round_trip(1024, 117);
    }

    #[test]
    fn bad_public_keys_are_crypto_errors() {
        assert!(matches!(
            parse_public_key("not base64!"),
            Err(Error::Crypto { .. })
        ));
        assert!(matches!(
            parse_public_key("AAAA"),
            Err(Error::Crypto { .. })
        ));
    }
}
