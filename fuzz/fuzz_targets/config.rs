//! The configuration parser on arbitrary TOML text: it must never panic
//! (an admin's typo is an error message, never a crash), and a configuration
//! it accepts must survive the round trip `palisade serve` makes — written
//! back out with `toml::to_string` and parsed again, as `serve` does to
//! re-check its flags — unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    // What `Palisade::new` derives from it must not panic either.
    let _ = config.limits.runtime_limits();
    let _ = config.policies_dir(None);
    for policy in &config.policy {
        let _ = policy.config_json();
    }
    let Ok(written) = toml::to_string(&config) else {
        return;
    };
    let reread = Config::parse(&written).unwrap_or_else(|e| {
        panic!("an accepted configuration, written back, is refused: {e}\n{written}")
    });
    let rewritten = toml::to_string(&reread).expect("a re-read configuration serialises");
    assert_eq!(
        written, rewritten,
        "the configuration changed on a round trip"
    );
});
