//! obshell's "API hybrid encryption", server side: the RSA key, header and body decryption.
//!
//! The client encrypts a JSON header with the server's RSA public key (PKCS#1 v1.5, in chunks)
//! and the body with AES-128-CBC under a per-request key that travels inside the header.

#[cfg(test)]
use aes::cipher::BlockEncryptMut;
use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use serde_json::Value;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;
#[cfg(test)]
type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

/// Generates the server key of `bits` bits from the simulator's seeded generator.
pub(crate) fn generate_key(rng: &mut ChaCha20Rng, bits: usize) -> RsaPrivateKey {
    // Key generation only fails for absurd sizes; 512 and 1024 are fixed by the version table.
    RsaPrivateKey::new(rng, bits).expect("rsa key generation for 512 or 1024 bits")
}

/// The `public_key` of `GET /api/v1/secret`: base64 of the PKCS#1 DER `RSAPublicKey`.
pub(crate) fn public_key_base64(key: &RsaPrivateKey) -> String {
    let der = RsaPublicKey::from(key)
        .to_pkcs1_der()
        .expect("a generated public key always encodes as PKCS#1 DER");
    STANDARD.encode(der.as_bytes())
}

/// The decrypted `X-OCS-Header`, with Go's zero values for absent fields.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct AuthHeader {
    /// The password (`auth`).
    pub(crate) auth: String,
    /// The expiry time (`ts`), still as text.
    pub(crate) ts: String,
    /// The request target the client signed (`uri`).
    pub(crate) uri: String,
    /// The AES key and IV (`keys`), decoded from base64.
    pub(crate) keys: Vec<u8>,
}

impl std::fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthHeader")
            .field("ts", &self.ts)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// Decrypts and parses an `X-OCS-Header` value; the error text follows Go's wording loosely.
pub(crate) fn decrypt_header(key: &RsaPrivateKey, header: &str) -> Result<AuthHeader, String> {
    let ciphertext = STANDARD
        .decode(header.trim())
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    let block = key.size();
    if ciphertext.is_empty() || ciphertext.len() % block != 0 {
        return Err("crypto/rsa: decryption error".to_owned());
    }
    let mut plaintext = Vec::new();
    for chunk in ciphertext.chunks(block) {
        let part = key
            .decrypt(Pkcs1v15Encrypt, chunk)
            .map_err(|_| "crypto/rsa: decryption error".to_owned())?;
        plaintext.extend_from_slice(&part);
    }
    parse_header_json(&plaintext)
}

/// Unmarshals the header JSON as Go's `encoding/json` does into `secure.HttpHeader`:
/// keys match case-insensitively, `ts` must be a string, `keys` a base64 string.
fn parse_header_json(plaintext: &[u8]) -> Result<AuthHeader, String> {
    let value: Value = serde_json::from_slice(plaintext)
        .map_err(|e| format!("invalid character in header json: {e}"))?;
    let Value::Object(fields) = value else {
        if value.is_null() {
            return Ok(AuthHeader::default());
        }
        return Err("json: cannot unmarshal into Go value of type secure.HttpHeader".to_owned());
    };
    let mut header = AuthHeader::default();
    for (name, field) in &fields {
        let slot = match name.to_ascii_lowercase().as_str() {
            "auth" => &mut header.auth,
            "ts" => &mut header.ts,
            "uri" => &mut header.uri,
            "keys" => {
                match field {
                    Value::Null => {}
                    Value::String(text) => {
                        header.keys = STANDARD
                            .decode(text)
                            .map_err(|e| format!("illegal base64 data in keys: {e}"))?;
                    }
                    _ => return Err(type_error(name, field, "[]uint8")),
                }
                continue;
            }
            _ => continue,
        };
        match field {
            Value::Null => {}
            Value::String(text) => *slot = text.clone(),
            _ => return Err(type_error(name, field, "string")),
        }
    }
    Ok(header)
}

fn type_error(name: &str, value: &Value, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field HttpHeader.{name} of type {go_type}",
        json_kind(value)
    )
}

/// Go's name for the JSON kind of `value`, as in its unmarshal errors.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Why a request body could not be decrypted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyDecryptError {
    /// `keys` is shorter than 16 bytes (500 `Request.Body.Decrypt.AES.KeyAndIv.Invalid`).
    KeyAndIvInvalid,
    /// The ciphertext is not a whole number of blocks (500 `...AES.ContentLength.Invalid`).
    ContentLength,
    /// Anything Go would panic or fail on (bad base64, an IV that is not 16 bytes, bad padding).
    Other(String),
}

/// Decrypts a body as obshell's `BodyDecrypt` does: base64, AES-128-CBC, padding stripped unchecked.
pub(crate) fn decrypt_body(keys: &[u8], body: &[u8]) -> Result<Vec<u8>, BodyDecryptError> {
    if keys.len() < 16 {
        return Err(BodyDecryptError::KeyAndIvInvalid);
    }
    let (key, iv) = keys.split_at(16);
    if iv.len() != 16 {
        return Err(BodyDecryptError::Other(
            "crypto/cipher: NewCBCDecrypter: IV length must equal block size".into(),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| BodyDecryptError::Other("illegal base64 data".into()))?;
    let mut buffer = STANDARD
        .decode(text.trim())
        .map_err(|e| BodyDecryptError::Other(format!("illegal base64 data: {e}")))?;
    if buffer.len() % 16 != 0 {
        return Err(BodyDecryptError::ContentLength);
    }
    if buffer.is_empty() {
        return Ok(buffer);
    }
    let decryptor = Aes128CbcDec::new_from_slices(key, iv)
        .map_err(|e| BodyDecryptError::Other(e.to_string()))?;
    let plain_len = decryptor
        .decrypt_padded_mut::<NoPadding>(&mut buffer)
        .map_err(|e| BodyDecryptError::Other(e.to_string()))?
        .len();
    buffer.truncate(plain_len);
    // obshell's PKCS5UnPadding trusts the last byte; a value past the start makes Go panic.
    let pad = usize::from(*buffer.last().unwrap_or(&0));
    if pad > buffer.len() {
        return Err(BodyDecryptError::Other(
            "runtime error: slice bounds out of range".into(),
        ));
    }
    buffer.truncate(buffer.len() - pad);
    Ok(buffer)
}

#[cfg(test)]
/// Client side, for tests: AES-128-CBC with PKCS#7 padding, base64 of the ciphertext.
pub(crate) fn encrypt_body(keys: &[u8; 32], plaintext: &[u8]) -> String {
    let encryptor =
        Aes128CbcEnc::new_from_slices(&keys[..16], &keys[16..]).expect("16-byte key and iv");
    let ciphertext =
        encryptor.encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(plaintext);
    STANDARD.encode(ciphertext)
}

#[cfg(test)]
/// Client side, for tests: RSA-encrypts header JSON in `k-11` byte chunks, base64 of the result.
pub(crate) fn encrypt_header(
    public_key: &RsaPublicKey,
    rng: &mut ChaCha20Rng,
    header_json: &[u8],
) -> String {
    let chunk = public_key.size() - 11;
    let mut out = Vec::new();
    for part in header_json.chunks(chunk) {
        out.extend(
            public_key
                .encrypt(rng, Pkcs1v15Encrypt, part)
                .expect("chunk fits the key"),
        );
    }
    STANDARD.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const VECTOR_KEYS: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const VECTOR_PLAIN: &str = r#"{"backup_base_uri":"file:///data/backup","binding":"optional"}"#;
    const VECTOR_BODY: &str =
        "6gE1//d/5FRVHdouOq4elSot5faXqL9jWICNKcMYqUKwEFz9lVrkvP609yGhvXDB/WbMFOIQgkFqO86uSGvV6Q==";

    #[test]
    fn aes_known_vector_both_ways() {
        let keys = STANDARD.decode(VECTOR_KEYS).unwrap();
        assert_eq!(
            decrypt_body(&keys, VECTOR_BODY.as_bytes()).unwrap(),
            VECTOR_PLAIN.as_bytes()
        );
        let keys: [u8; 32] = keys.try_into().unwrap();
        assert_eq!(encrypt_body(&keys, VECTOR_PLAIN.as_bytes()), VECTOR_BODY);
    }

    #[test]
    fn aes_errors() {
        assert_eq!(
            decrypt_body(&[0; 8], b"AAAA"),
            Err(BodyDecryptError::KeyAndIvInvalid)
        );
        let keys = STANDARD.decode(VECTOR_KEYS).unwrap();
        // 12 bytes of ciphertext.
        assert_eq!(
            decrypt_body(&keys, b"AAAAAAAAAAAAAAAA"),
            Err(BodyDecryptError::ContentLength)
        );
        assert!(matches!(
            decrypt_body(&keys[..20], VECTOR_BODY.as_bytes()),
            Err(BodyDecryptError::Other(_))
        ));
        assert!(matches!(
            decrypt_body(&keys, b"%%%"),
            Err(BodyDecryptError::Other(_))
        ));
    }

    #[test]
    fn header_round_trip_for_both_key_sizes_and_chunkings() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for bits in [512, 1024] {
            let key = generate_key(&mut rng, bits);
            let public = RsaPublicKey::from(&key);
            let json = format!(
                r#"{{"auth":"pw","ts":"123","uri":"/api/v1/x?a=1","keys":"{VECTOR_KEYS}","padding":"{}"}}"#,
                "x".repeat(150)
            );
            let header = encrypt_header(&public, &mut rng, json.as_bytes());
            let parsed = decrypt_header(&key, &header).unwrap();
            assert_eq!(parsed.auth, "pw");
            assert_eq!(parsed.ts, "123");
            assert_eq!(parsed.uri, "/api/v1/x?a=1");
            assert_eq!(parsed.keys.len(), 32);
            // The SDKs' fixed 53-byte chunks also decrypt on a 1024-bit key.
            let mut out = Vec::new();
            for part in json.as_bytes().chunks(53) {
                out.extend(public.encrypt(&mut rng, Pkcs1v15Encrypt, part).unwrap());
            }
            assert_eq!(
                decrypt_header(&key, &STANDARD.encode(out)).unwrap().uri,
                "/api/v1/x?a=1"
            );
            // The public key is PKCS#1 DER.
            let der = STANDARD.decode(public_key_base64(&key)).unwrap();
            use rsa::pkcs1::DecodeRsaPublicKey;
            assert_eq!(RsaPublicKey::from_pkcs1_der(&der).unwrap(), public);
        }
    }

    #[test]
    fn header_json_like_go() {
        assert_eq!(
            parse_header_json(br#"{"AUTH":"a","Ts":"1"}"#).unwrap().auth,
            "a"
        );
        assert!(parse_header_json(br#"{"ts":123}"#).is_err());
        assert!(parse_header_json(br#"{"keys":"%%"}"#).is_err());
        assert!(parse_header_json(b"not json").is_err());
        assert_eq!(
            parse_header_json(br#"{"other":1}"#).unwrap(),
            AuthHeader::default()
        );
    }

    #[test]
    fn wrong_key_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = generate_key(&mut rng, 512);
        let other = generate_key(&mut rng, 512);
        let header = encrypt_header(&RsaPublicKey::from(&other), &mut rng, br#"{"auth":"x"}"#);
        assert!(decrypt_header(&key, &header).is_err());
        assert!(decrypt_header(&key, "!!!").is_err());
    }
}
