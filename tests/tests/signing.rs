//! Signed modules: with signatures required, only modules signed by a
//! trusted key load, a tampered one is refused with a reason, and the
//! status of each shows.

use std::path::Path;

use palisade::signing;
use palisade_e2e::{TempDir, fixture, palisade};

/// A key pair in `dir`: NAME.pub, NAME.key.
fn keypair(dir: &Path, name: &str) -> String {
    let (id, public, secret) = signing::generate().unwrap();
    std::fs::write(dir.join(format!("{name}.pub")), public).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), secret).unwrap();
    id
}

fn errors(p: &palisade::Palisade) -> Vec<(String, String)> {
    p.policies()
        .failures()
        .iter()
        .map(|f| (f.source.clone(), f.error.clone()))
        .collect()
}

#[test]
fn with_signatures_required_only_trusted_signed_modules_load() {
    let dir = TempDir::new("signed");
    std::fs::create_dir_all(dir.0.join("policies.d")).unwrap();
    let vendor = keypair(&dir.0, "vendor");
    keypair(&dir.0, "stranger");
    let wasm = std::fs::read(fixture("hashtag-stuffing")).unwrap();
    let put = |name: &str, bytes: &[u8], key: Option<&str>| {
        let path = dir.0.join("policies.d").join(format!("{name}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        if let Some(key) = key {
            let sig = signing::sign(&wasm, &dir.0.join(format!("{key}.key")), name).unwrap();
            std::fs::write(signing::signature_path(&path), sig).unwrap();
        }
        std::fs::write(path.with_extension("toml"), format!("name = \"{name}\"\n")).unwrap();
    };
    put("signed", &wasm, Some("vendor"));
    put("unsigned", &wasm, None);
    put("stranger", &wasm, Some("stranger"));
    let mut tampered = wasm.clone();
    tampered.extend_from_slice(b"\0\x05extra"); // signed bytes + a custom section
    put("tampered", &tampered, Some("vendor"));

    let config = r#"
        [signatures]
        required = true
        trusted_key_files = ["vendor.pub"]
    "#;
    let p = palisade(config, &dir.0);
    let names: Vec<String> = p
        .policies()
        .modules()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    // The bundled modules need no signature; of the dropped-in ones, only
    // the one the vendor signed loads.
    assert!(names.contains(&"signed".to_owned()), "{names:?}");
    assert!(names.contains(&"mention-limit".to_owned()), "{names:?}");
    for refused in ["unsigned", "stranger", "tampered"] {
        assert!(!names.contains(&refused.to_owned()), "{refused} loaded");
    }
    let set = p.policies();
    let signed = set.modules().iter().find(|m| m.name() == "signed").unwrap();
    assert_eq!(
        signed.signature(),
        &signing::SignatureStatus::Trusted {
            key_id: vendor,
            trusted_comment: "signed".into()
        }
    );
    let errors = errors(&p);
    let error = |name: &str| {
        errors
            .iter()
            .find(|(s, _)| s.ends_with(&format!("{name}.wasm")))
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("no failure for {name}: {errors:?}"))
    };
    assert!(error("unsigned").contains("is unsigned, and signatures.required is on"));
    assert!(error("stranger").contains("not in signatures.trusted_keys"));
    assert!(error("tampered").contains("signature does not verify"));

    // Not required: unsigned and unknown-key modules load (and say so); a
    // signature that does not verify is still refused.
    let p = palisade(
        "[signatures]\ntrusted_key_files = [\"vendor.pub\"]\n",
        &dir.0,
    );
    let set = p.policies();
    let status = |name: &str| {
        set.modules()
            .iter()
            .find(|m| m.name() == name)
            .map(|m| m.signature().describe())
    };
    assert_eq!(status("unsigned").as_deref(), Some("unsigned"));
    assert!(
        status("stranger")
            .unwrap()
            .starts_with("signed by untrusted key")
    );
    assert_eq!(status("tampered"), None);
    assert_eq!(status("mention-limit").as_deref(), Some("bundled"));
}
