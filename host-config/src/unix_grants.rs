//! Deny-by-default Unix socket path grants (`--allow-unix PATH`).
//!
//! A grant is one of:
//!
//! | grant            | allows                                                        |
//! |------------------|---------------------------------------------------------------|
//! | `/run/app.sock`  | exactly that name in that directory (need not exist yet)      |
//! | `/run/app/`      | every path under that directory (an existing directory is a   |
//! |                  | directory grant with or without the trailing `/`)             |
//! | `@name`          | the Linux abstract-namespace address `\0name`                 |
//! | `@*`             | every abstract-namespace address                              |
//!
//! A grant's path is resolved when it is parsed, as the kernel would resolve it (symlinks first,
//! then `..`, in order; see [`UnixGrant::parse`]). A run then holds each granted directory (a file
//! grant's directory) open from the moment it exists ([`HeldGrants`]) and checks the places apps
//! name by identity, never by comparing path strings:
//!
//! - an app's path is split into directory part and name; the directory part is opened once,
//!   as the kernel resolves it ([`crate::unix_path::Place`]), and the held directory must be a
//!   granted directory or lie below one (walking `..` from the held directory up to the root), or,
//!   for a file grant, be the granted file's directory with the same name;
//! - connect, bind and stale-socket removal then act on that held directory, so `..` and
//!   symlinks (in the app's path or swapped in meanwhile) can only lead to what was checked;
//! - a symlink as the last component is never followed by the kernel: a connect reads it and
//!   checks and follows its target the same way, a bind treats it as an existing file.
//!
//! So `/run/app/link/../x` is covered only if the directory the kernel finds there is under
//! `/run/app/`, and a symlinked directory inside the grant is covered only where it really leads.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustix::fs::FileType;

use crate::unix_path::{self, FileId, PathError, Place};

/// One Unix socket grant (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixGrant {
    /// Exactly this name in this directory (absolute; the directory resolved, the name kept).
    File(PathBuf),
    /// This directory (absolute, resolved) and everything really under it.
    Dir(PathBuf),
    /// One abstract-namespace name (without the leading NUL).
    Abstract(Vec<u8>),
    /// Every abstract-namespace name.
    AnyAbstract,
}

impl UnixGrant {
    /// Parses a `--allow-unix` value: `@*`, `@NAME`, or a path (a directory when it ends in `/`
    /// or names an existing directory).
    ///
    /// A path is made absolute (against the current directory) and its existing part resolved
    /// as the kernel does (`realpath`: symlinks, then `..` relative to where they led); a
    /// directory grant is resolved all the way (granting `/var/run/` where `/var/run` -> `/run`
    /// grants `/run/`), a file grant up to its directory (its own name is kept, not followed).
    /// Names after the existing part are kept as given; `..` among them is refused, as the
    /// kernel could not resolve it either.
    pub fn parse(spec: &str) -> Result<Self, String> {
        if spec == "@*" {
            return Ok(Self::AnyAbstract);
        }
        if let Some(name) = spec.strip_prefix('@') {
            if name.is_empty() {
                return Err(
                    "`@` names no abstract address (an empty name would make the \
                            system pick one at random); write @NAME, or @* for any"
                        .to_owned(),
                );
            }
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
        let absolute = std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(spec);
        if spec.ends_with('/') || absolute.is_dir() {
            return Ok(Self::Dir(real_path(&absolute, spec)?));
        }
        let (Some(parent), Some(Component::Normal(name))) =
            (absolute.parent(), absolute.components().next_back())
        else {
            return Err(format!(
                "`{spec}` does not end in a file name (a directory grant ends in `/`)"
            ));
        };
        let mut path = real_path(parent, spec)?;
        path.push(name);
        Ok(Self::File(path))
    }

    /// The directory this grant is about: the granted directory, or a file grant's directory.
    fn dir(&self) -> Option<&Path> {
        match self {
            Self::Dir(path) => Some(path),
            Self::File(path) => path.parent(),
            Self::Abstract(_) | Self::AnyAbstract => None,
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

/// `path` (absolute) with its longest existing prefix resolved by `realpath` and the rest
/// appended as is; `..` in the rest is an error (`spec` is the grant, for the message).
fn real_path(path: &Path, spec: &str) -> Result<PathBuf, String> {
    let components: Vec<Component<'_>> = path.components().collect();
    for k in (1..=components.len()).rev() {
        let prefix: PathBuf = components[..k].iter().collect();
        let Ok(mut real) = std::fs::canonicalize(&prefix) else {
            continue;
        };
        for rest in &components[k..] {
            match rest {
                Component::Normal(name) => real.push(name),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "`{spec}` has `..` after a directory that does not exist ({}); \
                         grant the directory it means",
                        prefix.display()
                    ));
                }
            }
        }
        return Ok(real);
    }
    // Not even `/` resolves: keep the path as given, without `.` (it covers nothing).
    Ok(components
        .iter()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect())
}

impl fmt::Display for UnixGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Dir(path) if path.as_os_str() == "/" => f.write_str("/"),
            Self::Dir(path) => write!(f, "{}/", path.display()),
            Self::Abstract(name) => write!(f, "@{}", name.escape_ascii()),
            Self::AnyAbstract => f.write_str("@*"),
        }
    }
}

/// Why a Unix socket path may not be used.
#[derive(Debug)]
pub enum Refusal {
    /// Not a usable Unix socket path; the text says why.
    Invalid(String),
    /// No grant covers it.
    NotGranted,
    /// It is granted, but it (or a directory on the way) does not exist: the OS error.
    Missing(io::Error),
    /// The OS failed otherwise while locating it.
    Io(io::Error),
}

impl From<PathError> for Refusal {
    fn from(e: PathError) -> Self {
        match e {
            PathError::Invalid(why) => Self::Invalid(why),
            PathError::Io(e) => Self::Io(e),
        }
    }
}

/// The grants of one run, with the granted directories held open from the moment they exist:
/// the check behind every Unix path a run connects to, binds or removes (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct HeldGrants {
    held: Vec<Held>,
}

/// One grant and, once it exists, its directory held open (fixed from then on: a directory
/// removed and created again is not the granted one any more).
#[derive(Debug)]
struct Held {
    grant: UnixGrant,
    found: Mutex<Option<(OwnedFd, FileId)>>,
}

/// Where a path grant's directory is: found (its identity), or the deepest existing directory
/// above it and the names below that do not exist yet.
enum Anchor {
    Found(FileId),
    Missing(FileId, Vec<OsString>),
}

impl Held {
    /// Where this grant's directory is now; `None` for abstract grants or when nothing along its
    /// path opens.
    fn anchor(&self) -> Option<Anchor> {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, id)) = &*found {
            return Some(Anchor::Found(*id));
        }
        let path = self.grant.dir()?;
        let (fd, missing, _) = unix_path::open_dir(rustix::fs::CWD, path).ok()?;
        let id = FileId::of(&fd).ok()?;
        if missing.is_empty() {
            *found = Some((fd, id));
            Some(Anchor::Found(id))
        } else {
            Some(Anchor::Missing(id, missing))
        }
    }
}

impl HeldGrants {
    /// Holds `grants`, opening the granted directories that exist now (the others when they
    /// first exist at a check).
    pub fn new(grants: &[UnixGrant]) -> Self {
        let held: Vec<Held> = grants
            .iter()
            .map(|grant| Held {
                grant: grant.clone(),
                found: Mutex::new(None),
            })
            .collect();
        for h in &held {
            h.anchor();
        }
        Self { held }
    }

    /// Whether the abstract-namespace name `name` (without the leading NUL) is granted.
    pub fn allows_abstract(&self, name: &[u8]) -> bool {
        self.held.iter().any(|h| h.grant.covers_abstract(name))
    }

    /// Whether the grants cover `place`: its held directory is a granted directory or below
    /// one (and the missing names are plain names), or it is a file grant's directory with the
    /// same name (and the same missing names).
    pub fn covers(&self, place: &Place) -> io::Result<bool> {
        let here = FileId::of(&place.dir)?;
        let plain = place
            .missing
            .iter()
            .all(|n| n.as_os_str() != ".." && n.as_os_str() != ".");
        let mut above: Option<Vec<FileId>> = None;
        for held in &self.held {
            let Some(anchor) = held.anchor() else {
                continue;
            };
            let covered = match (&held.grant, anchor) {
                (UnixGrant::Dir(_), Anchor::Found(granted)) => {
                    if !plain {
                        false
                    } else {
                        if above.is_none() {
                            above = Some(unix_path::lineage(place.dir.as_fd())?);
                        }
                        above.as_ref().is_some_and(|ids| ids.contains(&granted))
                    }
                }
                (UnixGrant::Dir(_), Anchor::Missing(at, names)) => {
                    plain && here == at && place.missing.starts_with(&names)
                }
                (UnixGrant::File(path), anchor) => {
                    let (at, names) = match anchor {
                        Anchor::Found(at) => (at, Vec::new()),
                        Anchor::Missing(at, names) => (at, names),
                    };
                    here == at
                        && place.missing == names
                        && path.file_name() == Some(place.name.as_os_str())
                }
                (UnixGrant::Abstract(_) | UnixGrant::AnyAbstract, _) => false,
            };
            if covered {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Holds the directory of `path` (relative to `base` when relative) and checks that the
    /// grants cover it and that it exists. The last component is not looked at.
    pub fn locate(&self, base: BorrowedFd<'_>, path: &Path) -> Result<Place, Refusal> {
        let mut place = Place::open(base, path)?;
        // Fails closed: a place whose coverage cannot be decided is not granted.
        if !self.covers(&place).unwrap_or(false) {
            return Err(Refusal::NotGranted);
        }
        if let Some(e) = place.missing_error() {
            return Err(Refusal::Missing(e));
        }
        Ok(place)
    }

    /// Opens the existing file `path` names (an `O_PATH` descriptor: what a connect reaches),
    /// checking each step: a symlink as the last component is read from its held directory and
    /// its target located and checked the same way, up to [`unix_path::MAX_LINKS`] times.
    pub fn open_granted(&self, path: &Path) -> Result<OwnedFd, Refusal> {
        let mut base: Option<OwnedFd> = None;
        let mut path = path.to_path_buf();
        for _ in 0..=unix_path::MAX_LINKS {
            let from = base.as_ref().map_or(rustix::fs::CWD, |fd| fd.as_fd());
            let place = self.locate(from, &path)?;
            let (file, kind) =
                unix_path::open_entry(place.dir.as_fd(), &place.name).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        Refusal::Missing(e)
                    } else {
                        Refusal::Io(e)
                    }
                })?;
            if kind != FileType::Symlink {
                return Ok(file);
            }
            path = unix_path::read_link(file.as_fd()).map_err(Refusal::Io)?;
            base = Some(place.dir);
        }
        Err(Refusal::Io(rustix::io::Errno::LOOP.into()))
    }
}

/// Whether `grants` allow the Unix socket address `address` (a path, or `\0name` for the
/// abstract namespace): a path must be covered, and when its last component is a symlink, so
/// must be where it leads. A granted path that does not exist (yet), or that the OS refuses to
/// look into, is allowed: the operation itself then fails with the OS's error.
pub fn allowed(grants: &[UnixGrant], address: &str) -> bool {
    let held = HeldGrants::new(grants);
    if let Some(name) = address.strip_prefix('\0') {
        return held.allows_abstract(name.as_bytes());
    }
    if address.is_empty() || address.contains('\0') {
        return false;
    }
    !matches!(
        held.open_granted(Path::new(address)),
        Err(Refusal::NotGranted | Refusal::Invalid(_))
    )
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

    /// Regression (issue 16): `..` was removed lexically before symlinks were resolved, so
    /// `granted/link/../x` passed as `granted/x` while the kernel reached `target-of-link/../x`.
    #[test]
    fn dotdot_after_a_symlink_goes_where_the_kernel_goes() -> Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        let granted = root.join("granted");
        let outside = root.join("outside/deep");
        std::fs::create_dir_all(&granted)?;
        std::fs::create_dir_all(&outside)?;
        std::os::unix::fs::symlink(&outside, granted.join("link"))?;
        let text = |p: &Path| p.display().to_string();
        let dir_grant = [UnixGrant::parse(&format!("{}/", granted.display()))?];
        assert!(!allowed(&dir_grant, &text(&granted.join("link/../x.sock"))));
        assert!(!allowed(
            &dir_grant,
            &text(&granted.join("link/../../x.sock"))
        ));
        assert!(!allowed(&dir_grant, &text(&granted.join("link/x.sock"))));
        assert!(allowed(&dir_grant, &text(&granted.join("x.sock"))));
        // A file grant is not reached through `..` after a symlink either.
        let file_grant = [UnixGrant::parse(&text(&root.join("outside/app.sock")))?];
        assert!(allowed(&file_grant, &text(&root.join("outside/app.sock"))));
        let lexical_twin = [UnixGrant::parse(&text(&granted.join("app.sock")))?];
        assert!(!allowed(
            &lexical_twin,
            &text(&granted.join("link/../app.sock"))
        ));
        // ... while the kernel's way there is the granted file.
        assert!(allowed(
            &file_grant,
            &text(&granted.join("link/../app.sock"))
        ));
        // A symlink in the last component pointing at the granted file's twin outside.
        std::os::unix::fs::symlink(root.join("outside/app.sock"), granted.join("app.sock"))?;
        assert!(!allowed(&lexical_twin, &text(&granted.join("app.sock"))));
        Ok(())
    }

    /// Granting `/var/` where `/var/run` -> `/run` grants only what is really under `/var`.
    #[test]
    fn a_grant_covers_only_what_is_really_under_it() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        std::fs::create_dir_all(root.join("var/lib"))?;
        std::fs::create_dir_all(root.join("run/inner"))?;
        std::os::unix::fs::symlink(root.join("run"), root.join("var/run"))?;
        std::os::unix::fs::symlink("lib", root.join("var/alias"))?;
        let grants = [UnixGrant::parse(&format!(
            "{}/",
            root.join("var").display()
        ))?];
        let text = |p: &Path| p.display().to_string();
        assert!(!allowed(&grants, &text(&root.join("var/run/x.sock"))));
        assert!(!allowed(&grants, &text(&root.join("var/run/inner/x.sock"))));
        // A symlink that stays inside keeps working.
        assert!(allowed(&grants, &text(&root.join("var/alias/x.sock"))));
        assert!(allowed(&grants, &text(&root.join("var/lib/x.sock"))));
        Ok(())
    }

    #[test]
    fn grant_paths_resolve_like_the_kernel() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        std::fs::create_dir_all(root.join("a/b"))?;
        std::fs::create_dir_all(root.join("c"))?;
        std::os::unix::fs::symlink(root.join("a/b"), root.join("c/link"))?;
        // `c/link/..` is `a`, not `c`.
        let grant = UnixGrant::parse(&format!("{}/", root.join("c/link/..").display()))?;
        assert_eq!(grant, UnixGrant::Dir(root.join("a")));
        let grant = UnixGrant::parse(&root.join("c/link/../x.sock").display().to_string())?;
        assert_eq!(grant, UnixGrant::File(root.join("a/x.sock")));
        assert!(UnixGrant::parse(&format!("{}/", root.join("missing/../a").display())).is_err());
        assert!(UnixGrant::parse(&root.join("missing/..").display().to_string()).is_err());
        Ok(())
    }

    /// A granted directory that does not exist yet: paths under it are "missing", not denied,
    /// and once it exists it is held.
    #[test]
    fn a_grant_that_does_not_exist_yet() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        let later = root.join("later");
        let held = HeldGrants::new(&[UnixGrant::parse(&format!("{}/", later.display()))?]);
        let path = later.join("x.sock");
        assert!(matches!(
            held.locate(rustix::fs::CWD, &path),
            Err(Refusal::Missing(e)) if e.kind() == io::ErrorKind::NotFound
        ));
        assert!(matches!(
            held.locate(rustix::fs::CWD, &root.join("other/x.sock")),
            Err(Refusal::NotGranted)
        ));
        std::fs::create_dir(&later)?;
        assert!(held.locate(rustix::fs::CWD, &path).is_ok());
        Ok(())
    }

    #[test]
    fn abstract_names() {
        let grants = [UnixGrant::Abstract(b"app".to_vec())];
        assert!(allowed(&grants, "\0app"));
        assert!(!allowed(&grants, "\0other"));
        assert!(!allowed(&grants, "app"));
        assert!(allowed(&[UnixGrant::AnyAbstract], "\0anything"));
        // An empty name is no address: binding it makes the system pick one.
        assert!(UnixGrant::parse("@").is_err());
    }
}
