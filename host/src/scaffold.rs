//! `palisade new`: a module project that builds, loads and passes its own
//! tests as soon as it is made, in Rust, Python or JavaScript.

use std::path::{Path, PathBuf};

/// The languages a module can be started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

/// The contract, as the guests' tools need it.
const WIT: &str = include_str!("../../wit/policy.wit");

/// Template files: (path in the project, text), both with placeholders:
/// `{{name}}`, `{{crate}}` (the name with underscores), `{{sdk}}` (the Rust
/// SDK's folder), `{{contract}}` (the contract version), `{{palisade}}`
/// (this program, which the tests run).
fn templates(lang: Lang) -> Vec<(&'static str, &'static str)> {
    match lang {
        Lang::Rust => vec![
            (
                "Cargo.toml",
                include_str!("../templates/rust/Cargo.toml.tmpl"),
            ),
            (
                "src/lib.rs",
                include_str!("../templates/rust/src/lib.rs.tmpl"),
            ),
            (
                "README.md",
                include_str!("../templates/rust/README.md.tmpl"),
            ),
            (
                ".gitignore",
                include_str!("../templates/rust/gitignore.tmpl"),
            ),
        ],
        Lang::Python => vec![
            (
                "{{crate}}.py",
                include_str!("../templates/python/module.py.tmpl"),
            ),
            (
                "test_module.py",
                include_str!("../templates/python/test_module.py.tmpl"),
            ),
            (
                "build.sh",
                include_str!("../templates/python/build.sh.tmpl"),
            ),
            (
                "requirements.txt",
                include_str!("../templates/python/requirements.txt.tmpl"),
            ),
            (
                "wit/world.wit",
                include_str!("../templates/python/world.wit.tmpl"),
            ),
            (
                "README.md",
                include_str!("../templates/python/README.md.tmpl"),
            ),
            (
                ".gitignore",
                include_str!("../templates/python/gitignore.tmpl"),
            ),
        ],
        Lang::Js => vec![
            (
                "{{name}}.js",
                include_str!("../templates/js/module.js.tmpl"),
            ),
            ("test.mjs", include_str!("../templates/js/test.mjs.tmpl")),
            ("build.sh", include_str!("../templates/js/build.sh.tmpl")),
            (
                "package.json",
                include_str!("../templates/js/package.json.tmpl"),
            ),
            (
                "package-lock.json",
                include_str!("../templates/js/package-lock.json.tmpl"),
            ),
            (
                "wit/world.wit",
                include_str!("../templates/js/world.wit.tmpl"),
            ),
            ("README.md", include_str!("../templates/js/README.md.tmpl")),
            (".gitignore", include_str!("../templates/js/gitignore.tmpl")),
        ],
    }
}

/// Why a project could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScaffoldError(pub String);

/// Whether `name` can name a module: lower-case letters, digits and
/// dashes, starting with a letter (the host's rule for module names).
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError(format!(
            "`{name}` cannot name a module: use lower-case letters, digits and dashes, starting with a letter"
        )))
    }
}

/// Make project `name` in `dir` (which must not exist). `sdk` is the Rust
/// SDK's folder, for Rust projects. Returns the files written.
pub fn create(
    dir: &Path,
    name: &str,
    lang: Lang,
    sdk: Option<&Path>,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(name)?;
    if dir.exists() {
        return Err(ScaffoldError(format!(
            "{} exists: choose a new folder",
            dir.display()
        )));
    }
    let sdk = match lang {
        Lang::Rust => {
            let sdk = sdk.ok_or_else(|| {
                ScaffoldError(
                    "where is the Rust SDK? pass --sdk PATH (the `sdk` folder of a Palisade checkout)".into(),
                )
            })?;
            if !sdk.join("Cargo.toml").is_file() {
                return Err(ScaffoldError(format!(
                    "{} is not the Rust SDK (no Cargo.toml): pass --sdk PATH",
                    sdk.display()
                )));
            }
            std::path::absolute(sdk).map_err(|e| ScaffoldError(e.to_string()))?
        }
        _ => PathBuf::new(),
    };
    let crate_name = name.replace('-', "_");
    let palisade = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "palisade".into());
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{sdk}}", &sdk.display().to_string())
            .replace("{{contract}}", contract_version())
            .replace("{{palisade}}", &palisade)
    };
    let mut written = Vec::new();
    let mut files: Vec<(String, String)> = templates(lang)
        .into_iter()
        .map(|(path, text)| (fill(path), fill(text)))
        .collect();
    if lang != Lang::Rust {
        files.push(("wit/deps/policy/policy.wit".into(), WIT.to_owned()));
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ScaffoldError(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| ScaffoldError(format!("cannot write {}: {e}", path.display())))?;
        #[cfg(unix)]
        if path.extension().is_some_and(|x| x == "sh") {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
        }
        written.push(path);
    }
    Ok(written)
}

/// The contract version this Palisade's WIT declares (`0.4.0`).
pub fn contract_version() -> &'static str {
    WIT.lines()
        .find_map(|l| l.trim().strip_prefix("package palisade:policy@"))
        .and_then(|v| v.strip_suffix(';'))
        .unwrap_or("0.0.0")
}

/// The Rust SDK of the checkout this binary was built from, if it is still
/// there.
pub fn built_in_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    sdk.join("Cargo.toml")
        .is_file()
        .then(|| sdk.canonicalize().unwrap_or(sdk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_version_is_read_from_the_wit() {
        assert!(
            contract_version().starts_with("0."),
            "{}",
            contract_version()
        );
        assert_ne!(contract_version(), "0.0.0");
    }

    #[test]
    fn names_follow_the_module_name_rule() {
        for good in ["spam-filter", "a", "link2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Spam", "2fast", "spam_filter", "spam filter", "-x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
