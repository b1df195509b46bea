//! Signed modules, in minisign's format (ed25519; `NAME.wasm.minisig`
//! beside the module), so that vendors can use `palisade sign` or the
//! `minisign` tool alike, and admins decide whose modules run.
//!
//! A signature that does not verify always refuses the module (the file
//! was altered, or the signature belongs to another file). With
//! `signatures.required`, a module must also carry a signature by one of
//! `signatures.trusted_keys`. Bundled modules are part of the binary and
//! need none.

use std::path::Path;

use minisign::{PublicKey, PublicKeyBox, SecretKey, SecretKeyBox, SignatureBox};
use serde::Serialize;

/// Public keys whose signatures an admin trusts.
#[derive(Default, Clone)]
pub struct TrustedKeys {
    keys: Vec<(String, PublicKey)>,
}

/// A key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// What a module's signature says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Part of the Palisade binary.
    Bundled,
    /// No `.minisig` beside it.
    Unsigned,
    /// Verified with a trusted key.
    Trusted {
        key_id: String,
        trusted_comment: String,
    },
    /// A valid signature format by a key not among the trusted ones (not
    /// checkable without the key).
    UntrustedKey { key_id: String },
    /// The signature does not verify, or cannot be read.
    Invalid { reason: String },
}

impl SignatureStatus {
    /// One line for tables and logs.
    pub fn describe(&self) -> String {
        match self {
            SignatureStatus::Bundled => "bundled".into(),
            SignatureStatus::Unsigned => "unsigned".into(),
            SignatureStatus::Trusted { key_id, .. } => format!("signed by trusted key {key_id}"),
            SignatureStatus::UntrustedKey { key_id } => format!("signed by untrusted key {key_id}"),
            SignatureStatus::Invalid { reason } => format!("invalid signature: {reason}"),
        }
    }

    /// Why a module with this status may not load, if it may not.
    pub fn refusal(&self, required: bool) -> Option<String> {
        match self {
            SignatureStatus::Invalid { reason } => Some(format!(
                "its signature does not verify ({reason}): the file or its .minisig was altered or they do not belong together"
            )),
            SignatureStatus::Unsigned if required => Some(
                "is unsigned, and signatures.required is on: ask its vendor for NAME.wasm.minisig, or sign it yourself with `palisade sign`"
                    .into(),
            ),
            SignatureStatus::UntrustedKey { key_id } if required => Some(format!(
                "is signed by key {key_id}, which is not in signatures.trusted_keys: add the vendor's public key if you trust it"
            )),
            _ => None,
        }
    }
}

/// A key's id as minisign prints it: 16 hex digits.
fn key_id(keynum: &[u8]) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(id))
}

impl TrustedKeys {
    /// Keys given as minisign public key lines (`RW…`) or files holding
    /// them (minisign's `.pub` files, comment line and all).
    pub fn load(lines: &[String], files: &[std::path::PathBuf]) -> Result<TrustedKeys, KeyError> {
        let mut keys = TrustedKeys::default();
        for line in lines {
            keys.add(line)
                .map_err(|e| KeyError(format!("signatures.trusted_keys: `{line}`: {e}")))?;
        }
        for file in files {
            let text = std::fs::read_to_string(file).map_err(|e| {
                KeyError(format!(
                    "cannot read the public key {}: {e}",
                    file.display()
                ))
            })?;
            let key = PublicKeyBox::from_string(&text)
                .and_then(PublicKeyBox::into_public_key)
                .map_err(|e| {
                    KeyError(format!(
                        "{} is not a minisign public key: {e}",
                        file.display()
                    ))
                })?;
            keys.keys.push((key_id(key.keynum()), key));
        }
        Ok(keys)
    }

    /// Add one key (`RW…`, base64).
    pub fn add(&mut self, base64: &str) -> Result<String, String> {
        let key = PublicKey::from_base64(base64.trim())
            .map_err(|e| format!("not a minisign public key: {e}"))?;
        let id = key_id(key.keynum());
        self.keys.push((id.clone(), key));
        Ok(id)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Check `signature` (a `.minisig` file's text; None when there is
    /// none) over `module`.
    pub fn check(&self, module: &[u8], signature: Option<&str>) -> SignatureStatus {
        let Some(text) = signature else {
            return SignatureStatus::Unsigned;
        };
        let sig = match SignatureBox::from_string(text) {
            Ok(sig) => sig,
            Err(e) => {
                return SignatureStatus::Invalid {
                    reason: format!("not a minisign signature: {e}"),
                };
            }
        };
        let id = key_id(sig.keynum());
        let Some((_, key)) = self.keys.iter().find(|(k, _)| *k == id) else {
            return SignatureStatus::UntrustedKey { key_id: id };
        };
        match minisign::verify(key, &sig, std::io::Cursor::new(module), true, false, false) {
            Ok(()) => SignatureStatus::Trusted {
                key_id: id,
                trusted_comment: sig.trusted_comment().unwrap_or_default(),
            },
            Err(e) => SignatureStatus::Invalid {
                reason: e.to_string(),
            },
        }
    }
}

/// The signature file of a module: `PATH.minisig`.
pub fn signature_path(module: &Path) -> std::path::PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".minisig");
    name.into()
}

/// A new key pair: the public key file's text and the secret key file's
/// text (unencrypted: keep it private).
pub fn generate() -> Result<(String, String, String), KeyError> {
    let pair =
        minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| KeyError(e.to_string()))?;
    let public = pair
        .pk
        .to_box()
        .map_err(|e| KeyError(e.to_string()))?
        .into_string();
    let secret = pair
        .sk
        .to_box(Some("palisade module signing key"))
        .map_err(|e| KeyError(e.to_string()))?
        .into_string();
    Ok((key_id(pair.pk.keynum()), public, secret))
}

/// Sign `module` with the secret key in `key_file` (minisign's format;
/// an encrypted key asks for its password on the terminal).
pub fn sign(module: &[u8], key_file: &Path, trusted_comment: &str) -> Result<String, KeyError> {
    let failed = |e: &dyn std::fmt::Display| {
        KeyError(format!(
            "cannot use the secret key {}: {e}",
            key_file.display()
        ))
    };
    let text = std::fs::read_to_string(key_file).map_err(|e| failed(&e))?;
    let parse = || SecretKeyBox::from_string(&text).map_err(|e| failed(&e));
    // Unencrypted (as `palisade keygen` writes), or encrypted (as minisign
    // writes by default): then its password is asked for.
    let sk: SecretKey = match parse()?.into_unencrypted_secret_key() {
        Ok(sk) => sk,
        Err(_) => parse()?.into_secret_key(None).map_err(|e| failed(&e))?,
    };
    let public = PublicKey::from_secret_key(&sk).ok();
    let sig = minisign::sign(
        public.as_ref(),
        &sk,
        std::io::Cursor::new(module),
        Some(trusted_comment),
        Some("signature from a Palisade module vendor"),
    )
    .map_err(|e| KeyError(e.to_string()))?;
    Ok(sig.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (String, std::path::PathBuf, std::path::PathBuf) {
        let (id, public, secret) = generate().unwrap();
        let dir = std::env::temp_dir().join(format!("palisade-sign-{}-{id}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("k.pub"), public).unwrap();
        std::fs::write(dir.join("k.key"), secret).unwrap();
        (id, dir.join("k.pub"), dir.join("k.key"))
    }

    #[test]
    fn signatures_verify_only_for_the_signed_bytes_and_trusted_keys() {
        let (id, public, secret) = pair();
        let module = b"\0asm pretend module bytes".to_vec();
        let sig = sign(&module, &secret, "hashtag-stuffing 0.1.0").unwrap();
        let trusted = TrustedKeys::load(&[], std::slice::from_ref(&public)).unwrap();
        assert_eq!(
            trusted.check(&module, Some(&sig)),
            SignatureStatus::Trusted {
                key_id: id.clone(),
                trusted_comment: "hashtag-stuffing 0.1.0".into()
            }
        );
        let mut altered = module.clone();
        altered[5] ^= 1;
        assert!(matches!(
            trusted.check(&altered, Some(&sig)),
            SignatureStatus::Invalid { .. }
        ));
        assert!(
            trusted.check(&altered, Some(&sig)).refusal(false).is_some(),
            "a bad signature refuses even when not required"
        );
        assert_eq!(
            TrustedKeys::default().check(&module, Some(&sig)),
            SignatureStatus::UntrustedKey { key_id: id }
        );
        assert_eq!(trusted.check(&module, None), SignatureStatus::Unsigned);
        assert!(
            SignatureStatus::Unsigned
                .refusal(true)
                .unwrap()
                .contains("unsigned")
        );
        assert!(SignatureStatus::Unsigned.refusal(false).is_none());
        assert!(matches!(
            trusted.check(&module, Some("garbage")),
            SignatureStatus::Invalid { .. }
        ));
        std::fs::remove_dir_all(public.parent().unwrap()).ok();
    }

    #[test]
    fn a_public_key_line_is_accepted_and_a_bad_one_named() {
        let (_, public, _) = pair();
        let text = std::fs::read_to_string(&public).unwrap();
        let line = text.lines().nth(1).unwrap().to_owned();
        assert!(TrustedKeys::load(std::slice::from_ref(&line), &[]).is_ok());
        let bad = TrustedKeys::load(&["RWnotakey".into()], &[]).err().unwrap();
        assert!(
            bad.0.contains("signatures.trusted_keys: `RWnotakey`"),
            "{bad}"
        );
        std::fs::remove_dir_all(public.parent().unwrap()).ok();
    }
}
