//! `--listen` specs: parsing any UTF-8 never panics, and an accepted spec displays as a string
//! that parses back to the same spec and displays the same again.

use wasio_host_config::listen::ListenSpec;

/// Parses `data` (when it is UTF-8) and checks the round trip.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = text.parse::<ListenSpec>() else {
        return;
    };
    match &spec {
        ListenSpec::Tcp(addr) => {
            assert!(addr.contains(':'), "{text:?}: TCP address without a port")
        }
        ListenSpec::Unix(path) => assert!(!path.is_empty(), "{text:?}: empty Unix path"),
    }
    let shown = spec.to_string();
    match shown.parse::<ListenSpec>() {
        Ok(again) => {
            assert_eq!(
                again, spec,
                "{text:?} displays as {shown:?}, which parses differently"
            );
            assert_eq!(again.to_string(), shown, "{text:?}: display is not stable");
        }
        Err(e) => panic!("{text:?} displays as {shown:?}, which does not parse: {e}"),
    }
}
