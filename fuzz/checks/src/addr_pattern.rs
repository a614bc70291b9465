//! Address patterns (`--allow-connect`, `--allow-listen`): parsing any UTF-8 never panics; an
//! accepted pattern displays as a string that parses back to the same pattern; a pattern holds its
//! IP in canonical form (no IPv4-mapped IPv6); a concrete pattern matches its own address; and
//! every pattern built from parts (any IP, port) survives display and parse with the same matches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Unstructured;
use wasio_host_config::pattern::{AddrPattern, HostPattern, PortPattern};

/// Displays and parses `pattern`; the result displays and parses to itself (a pattern built with
/// an IPv4-mapped IP comes back in IPv4 form, hence not always `pattern` itself).
fn round_trip(pattern: AddrPattern, origin: &dyn std::fmt::Debug) -> AddrPattern {
    let shown = pattern.to_string();
    match shown.parse::<AddrPattern>() {
        Ok(again) => {
            let shown_again = again.to_string();
            assert_eq!(
                shown_again.parse::<AddrPattern>().ok(),
                Some(again),
                "{origin:?}: {shown:?} -> {again:?} -> {shown_again:?} is not a fixed point"
            );
            again
        }
        Err(e) => panic!("{origin:?} displays as {shown:?}, which does not parse: {e}"),
    }
}

fn ip(u: &mut Unstructured<'_>) -> arbitrary::Result<IpAddr> {
    Ok(match u.int_in_range(0..=3)? {
        0 => IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?)),
        // An IPv4-mapped IPv6 address, which patterns treat as its IPv4 form.
        1 => IpAddr::V6(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?).to_ipv6_mapped()),
        _ => IpAddr::V6(Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?)),
    })
}

fn is_canonical(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_none(),
    }
}

/// Checks the text of `data` (when UTF-8) and a pattern and an address built from its bytes.
pub fn check(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(pattern) = text.parse::<AddrPattern>()
    {
        assert_eq!(round_trip(pattern, &text), pattern, "{text:?}: round trip");
        if let HostPattern::Ip(ip) = pattern.host {
            assert!(is_canonical(ip), "{text:?}: {ip} kept in IPv4-mapped form");
            if let PortPattern::Port(port) = pattern.port {
                let own = SocketAddr::new(ip, port);
                assert!(pattern.matches(own), "{text:?} does not match {own}");
                assert_eq!(AddrPattern::exact(own), pattern, "{text:?}: exact({own})");
            }
        }
    }

    let mut u = Unstructured::new(data);
    let parts = (|| -> arbitrary::Result<(AddrPattern, SocketAddr)> {
        let host = if u.ratio(1, 4)? {
            HostPattern::Any
        } else {
            HostPattern::Ip(ip(&mut u)?)
        };
        let port = if u.ratio(1, 4)? {
            PortPattern::Any
        } else {
            PortPattern::Port(u.arbitrary()?)
        };
        let target = SocketAddr::new(ip(&mut u)?, u.arbitrary()?);
        Ok((AddrPattern { host, port }, target))
    })();
    let Ok((built, target)) = parts else {
        return;
    };
    let again = round_trip(built, &built);
    assert_eq!(again.port, built.port, "{built:?}: port");
    match (built.host, again.host) {
        (HostPattern::Any, HostPattern::Any) => {}
        (HostPattern::Ip(a), HostPattern::Ip(b)) => {
            assert!(is_canonical(b), "{built:?}: parsed back as {b}");
            let own = SocketAddr::new(a, 1);
            assert!(
                AddrPattern::exact(own).matches(SocketAddr::new(b, 1)),
                "{built:?}: {a} vs {b}"
            );
        }
        (a, b) => panic!("{built:?}: host {a:?} parsed back as {b:?}"),
    }
    assert_eq!(
        built.matches(target),
        again.matches(target),
        "{built:?} and its parsed display {again:?} disagree on {target}"
    );
    if built.matches(target) {
        assert!(
            built.matches_listening(target),
            "{built:?}: matches {target} but not listening"
        );
    }
}
