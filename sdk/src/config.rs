//! Reading a module's configuration.

use serde::de::DeserializeOwned;

/// Parse a module's JSON configuration into `T`, with a message that names
/// the offending key and what was expected.
///
/// Give `T` `#[serde(deny_unknown_fields)]` so that a typo in the admin's
/// config is an error rather than silently ignored, and `#[serde(default)]`
/// so that `{}` configures the module with its defaults.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| format!("invalid configuration: {e}"))
}
