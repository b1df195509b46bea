//! Reading a module's configuration.

use serde::de::DeserializeOwned;

/// Parse a module's JSON configuration into `T`, with a message that names
/// the offending key and what was expected.
///
/// Give `T` `#[serde(deny_unknown_fields)]` so that a typo in the admin's
/// config is an error rather than silently ignored, and `#[serde(default)]`
/// so that `{}` configures the module with its defaults.
///
/// ```
/// #[derive(serde::Deserialize, Debug)]
/// #[serde(deny_unknown_fields)]
/// struct Cfg { limits: Limits }
/// #[derive(serde::Deserialize, Debug)]
/// struct Limits { max: u32 }
///
/// let e = palisade_sdk::config::parse::<Cfg>(r#"{"limits": {"max": "five"}}"#).unwrap_err();
/// assert!(e.starts_with("invalid configuration at `limits.max`: invalid type"), "{e}");
/// ```
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        // The admin wrote TOML; a position in the JSON the host made of it
        // would only mislead.
        let inner = e.inner().to_string();
        let message = inner
            .rfind(" at line ")
            .map_or(inner.as_str(), |i| &inner[..i]);
        if path == "." {
            format!("invalid configuration: {message}")
        } else {
            format!("invalid configuration at `{path}`: {message}")
        }
    })
}
