//! The bundled reference modules, built from `policies/` at compile time
//! (see `build.rs`) and addressed as `builtin:NAME`.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The component bytes of bundled module `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The names of all bundled modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
