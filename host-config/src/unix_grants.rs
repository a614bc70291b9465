//! Deny-by-default Unix socket path grants (`--allow-unix PATH`).
//!
//! A grant is one of:
//!
//! | grant            | allows                                                        |
//! |------------------|---------------------------------------------------------------|
//! | `/run/app.sock`  | exactly that path (a file that need not exist yet)            |
//! | `/run/app/`      | that directory and every path under it (an existing directory |
//! |                  | is a directory grant with or without the trailing `/`)        |
//! | `@name`          | the Linux abstract-namespace address `\0name`                 |
//! | `@*`             | every abstract-namespace address                              |
//!
//! Paths are compared after making them absolute (against the host's current directory),
//! removing `.` and `..` lexically and resolving symlinks in the directories that exist, so
//! `/run/app/../etc/x` is not under `/run/app/`, and neither is a symlink inside `/run/app/`
//! that points elsewhere: when the last component is an existing symlink, its target must be
//! granted too.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// One Unix socket grant (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixGrant {
    /// Exactly this (absolute, normalized) path.
    File(PathBuf),
    /// This directory and everything under it.
    Dir(PathBuf),
    /// One abstract-namespace name (without the leading NUL).
    Abstract(Vec<u8>),
    /// Every abstract-namespace name.
    AnyAbstract,
}

impl UnixGrant {
    /// Parses a `--allow-unix` value: `@*`, `@NAME`, or a path (a directory when it ends in `/`
    /// or names an existing directory).
    pub fn parse(spec: &str) -> Result<Self, String> {
        if spec == "@*" {
            return Ok(Self::AnyAbstract);
        }
        if let Some(name) = spec.strip_prefix('@') {
            return Ok(Self::Abstract(name.as_bytes().to_vec()));
        }
        if spec.is_empty() {
            return Err("the Unix socket path is empty".to_owned());
        }
        if spec.contains('\0') {
            return Err(format!(
                "`{}` contains a NUL byte; write an abstract address as @NAME",
                spec.escape_debug()
            ));
        }
        let path = resolve(Path::new(spec));
        if spec.ends_with('/') || path.is_dir() {
            // Checked paths have their directories resolved, so the granted directory must be
            // resolved all the way too: a directory that is a symlink (`/var/run` -> `/run`)
            // grants what lies in its target.
            Ok(Self::Dir(std::fs::canonicalize(&path).unwrap_or(path)))
        } else {
            Ok(Self::File(path))
        }
    }

    /// Whether this grant covers the resolved path `path`.
    fn covers(&self, path: &Path) -> bool {
        match self {
            Self::File(granted) => granted == path,
            Self::Dir(granted) => path.starts_with(granted),
            Self::Abstract(_) | Self::AnyAbstract => false,
        }
    }

    /// Whether this grant covers the abstract name `name`.
    fn covers_abstract(&self, name: &[u8]) -> bool {
        match self {
            Self::Abstract(granted) => granted == name,
            Self::AnyAbstract => true,
            Self::File(_) | Self::Dir(_) => false,
        }
    }
}

impl fmt::Display for UnixGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Dir(path) => write!(f, "{}/", path.display()),
            Self::Abstract(name) => write!(f, "@{}", name.escape_ascii()),
            Self::AnyAbstract => f.write_str("@*"),
        }
    }
}

/// Whether `grants` allow the Unix socket address `address` (a path, or `\0name` for the
/// abstract namespace).
pub fn allowed(grants: &[UnixGrant], address: &str) -> bool {
    if let Some(name) = address.strip_prefix('\0') {
        return grants.iter().any(|g| g.covers_abstract(name.as_bytes()));
    }
    if address.is_empty() || address.contains('\0') {
        return false;
    }
    let path = resolve(Path::new(address));
    if !grants.iter().any(|g| g.covers(&path)) {
        return false;
    }
    // A symlink as the last component: where it leads must be granted as well.
    let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        return match std::fs::canonicalize(&path) {
            Ok(target) => grants.iter().any(|g| g.covers(&target)),
            // A dangling link: the OS would follow it to a path we cannot check.
            Err(_) => false,
        };
    }
    true
}

/// `path` made absolute, `.`/`..` removed lexically, and the symlinks of its existing parent
/// directories resolved. The last component is kept as is.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let lexical = normalize(&absolute);
    let (Some(parent), Some(name)) = (lexical.parent(), lexical.file_name()) else {
        return lexical;
    };
    // Resolve the longest existing ancestor; the rest does not exist and has no links.
    let mut existing = parent.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            out.extend(rest.iter().rev());
            out.push(name);
            return out;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(last), Some(up)) => {
                rest.push(last.to_os_string());
                existing = up.to_path_buf();
            }
            _ => return lexical,
        }
    }
}

/// Removes `.` and `..` components without touching the file system (`..` at the root stays
/// at the root).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(UnixGrant::parse("@*"), Ok(UnixGrant::AnyAbstract));
        assert_eq!(
            UnixGrant::parse("@app"),
            Ok(UnixGrant::Abstract(b"app".to_vec()))
        );
        assert!(UnixGrant::parse("").is_err());
        assert!(UnixGrant::parse("a\0b").is_err());
        assert_eq!(
            UnixGrant::parse("/nonexistent/wasio/x.sock"),
            Ok(UnixGrant::File(PathBuf::from("/nonexistent/wasio/x.sock")))
        );
        assert_eq!(
            UnixGrant::parse("/nonexistent/wasio/dir/"),
            Ok(UnixGrant::Dir(PathBuf::from("/nonexistent/wasio/dir")))
        );
    }

    #[test]
    fn files_dirs_and_escapes() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        let sub = root.join("sub");
        std::fs::create_dir(&sub)?;
        let dir_grant = UnixGrant::parse(&sub.display().to_string())?;
        assert_eq!(dir_grant, UnixGrant::Dir(sub.clone()));
        let file_grant = UnixGrant::parse(&root.join("one.sock").display().to_string())?;
        let grants = [dir_grant, file_grant];
        let text = |p: &Path| p.display().to_string();
        assert!(allowed(&grants, &text(&sub.join("a.sock"))));
        assert!(allowed(&grants, &text(&sub.join("deeper/new/b.sock"))));
        assert!(allowed(&grants, &text(&root.join("one.sock"))));
        assert!(!allowed(&grants, &text(&root.join("two.sock"))));
        assert!(!allowed(&grants, &text(&sub.join("../two.sock"))));
        assert!(!allowed(&grants, "\0abstract"));
        assert!(!allowed(&grants, ""));
        // A symlink inside the granted directory that leads outside it.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("two.sock"), sub.join("link.sock"))?;
            std::fs::write(root.join("two.sock"), b"")?;
            assert!(!allowed(&grants, &text(&sub.join("link.sock"))));
            // A symlinked directory is resolved, so its real location counts.
            std::os::unix::fs::symlink(&root, sub.join("up"))?;
            assert!(!allowed(&grants, &text(&sub.join("up/three.sock"))));
            assert!(allowed(&grants, &text(&sub.join("up/sub/c.sock"))));
        }
        Ok(())
    }

    /// Regression (found by the `unix_grant` fuzz target's seed `/var/run/`): a granted directory
    /// that is a symlink covered nothing, because the paths under it resolve to its target.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_directory_grant_covers_its_target() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        let real = root.join("real");
        std::fs::create_dir(&real)?;
        let link = root.join("link");
        std::os::unix::fs::symlink(&real, &link)?;
        for spec in [format!("{}/", link.display()), link.display().to_string()] {
            let grant = UnixGrant::parse(&spec)?;
            assert_eq!(grant, UnixGrant::Dir(real.clone()), "{spec}");
            let grants = [grant];
            assert!(allowed(&grants, &link.join("a.sock").display().to_string()));
            assert!(allowed(&grants, &real.join("b.sock").display().to_string()));
            assert!(!allowed(
                &grants,
                &root.join("c.sock").display().to_string()
            ));
        }
        Ok(())
    }

    #[test]
    fn abstract_names() {
        let grants = [UnixGrant::Abstract(b"app".to_vec())];
        assert!(allowed(&grants, "\0app"));
        assert!(!allowed(&grants, "\0other"));
        assert!(!allowed(&grants, "app"));
        assert!(allowed(&[UnixGrant::AnyAbstract], "\0anything"));
    }
}
