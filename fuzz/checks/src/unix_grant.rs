//! Unix socket grants (`--allow-unix`): parsing any UTF-8 never panics; a path grant is absolute
//! and normalized (no `.` or `..`), displays as a string that parses back to the same grant, and
//! covers what it names: a file grant its own path, a directory grant a new name inside it (whether
//! the directory exists yet or not) but not a new name in the directory above it (`dir/../name`,
//! resolved as the kernel does); an abstract grant covers its own name and no path.
//!
//! Parsing and checking look at the file system (existing directories, symlinks; the check holds
//! directories open and compares them by identity), which the fuzzer does not change, so the checks
//! are deterministic.

use std::path::{Component, Path};

use wasio_host_config::unix_grants::{UnixGrant, allowed};

/// A name no directory holds (checked), for "a new name inside a granted directory".
const FRESH: &str = "wasio-fuzz-fresh.sock";

fn normalized(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| !matches!(c, Component::CurDir | Component::ParentDir))
}

/// Parses `data` (when UTF-8) and checks the grant.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(grant) = UnixGrant::parse(text) else {
        return;
    };
    let grants = std::slice::from_ref(&grant);
    match &grant {
        UnixGrant::File(path) | UnixGrant::Dir(path) => {
            assert!(
                normalized(path),
                "{text:?}: grant path {path:?} not normalized"
            );
            let shown = grant.to_string();
            match UnixGrant::parse(&shown) {
                Ok(again) => assert_eq!(again, grant, "{text:?} displays as {shown:?}"),
                Err(e) => panic!("{text:?} displays as {shown:?}, which does not parse: {e}"),
            }
            // Abstract addresses are never covered by a path grant.
            assert!(!allowed(grants, "\0x"), "{text:?} allows an abstract name");
        }
        UnixGrant::Abstract(name) => {
            if let Ok(name) = std::str::from_utf8(name) {
                assert!(allowed(grants, &format!("\0{name}")), "{text:?}: own name");
            }
            assert!(!allowed(grants, "/tmp/x.sock"), "{text:?} allows a path");
        }
        UnixGrant::AnyAbstract => {
            assert!(allowed(grants, "\0anything"), "{text:?}: any abstract name");
            assert!(!allowed(grants, "/tmp/x.sock"), "{text:?} allows a path");
        }
    }
    match &grant {
        UnixGrant::File(path) => {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            if let Some(path) = path.to_str()
                && !is_link
            {
                assert!(
                    allowed(grants, path),
                    "{text:?} does not allow its own path {path}"
                );
            }
        }
        UnixGrant::Dir(path) => {
            let inside = path.join(FRESH);
            let absent = std::fs::symlink_metadata(&inside).is_err();
            if let Some(inside) = inside.to_str()
                && absent
            {
                assert!(allowed(grants, inside), "{text:?} does not allow {inside}");
            }
            let above = path.join("..").join(FRESH);
            if let Some(above) = above.to_str()
                && path.parent().is_some()
            {
                assert!(!allowed(grants, above), "{text:?} allows {above}");
            }
        }
        UnixGrant::Abstract(_) | UnixGrant::AnyAbstract => {}
    }
}
