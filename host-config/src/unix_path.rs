//! Unix socket paths held by descriptor, so that what a grant is checked against is exactly what
//! is then connected to, bound or removed: no path string is resolved by the kernel twice.
//!
//! A path is split into its directory part and its last component (its name). The directory part
//! is opened once, the way the kernel resolves it (symlinks and `..` in the order they come), as
//! an `O_PATH` descriptor ([`Place`]). That directory is where the name is then looked up (never
//! following a symlink), created by `bind` (through `/proc/self/fd/N/name`, [`fd_path`]) or
//! removed (`unlinkat`), all through the descriptor. When directories at the end of the directory
//! part do not exist, the deepest one that does is held and the missing names are kept, so that a
//! grant can still tell "does not exist, in a granted place" from "not granted".
//!
//! Linux only: it relies on `O_PATH` and `/proc/self/fd`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// The longest Unix socket path, in bytes: a `sockaddr_un` holds 108 with the closing NUL.
pub const MAX_PATH_LEN: usize = 107;

/// How many symlinks in a row a connect follows in the last component (the kernel's own limit).
pub const MAX_LINKS: usize = 40;

/// How deep [`lineage`] walks up before giving up (far deeper than any real tree).
const MAX_DEPTH: usize = 4096;

/// The identity of a file: its device and inode number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

impl FileId {
    /// The identity of the file `fd` holds.
    pub fn of(fd: impl AsFd) -> io::Result<Self> {
        let stat = rustix::fs::fstat(fd)?;
        Ok(Self::from_stat(&stat))
    }

    /// The identity in a `stat` result.
    pub fn from_stat(stat: &rustix::fs::Stat) -> Self {
        Self {
            dev: stat.st_dev,
            ino: stat.st_ino,
        }
    }
}

/// Where a Unix socket path leads, held by descriptor.
#[derive(Debug)]
pub struct Place {
    /// The directory the path's directory part names or, when that does not exist, the deepest
    /// existing directory along it (an `O_PATH` descriptor).
    pub dir: OwnedFd,
    /// The names of the directory part below [`dir`](Self::dir) that could not be opened, in
    /// order; empty when the whole directory part was opened.
    pub missing: Vec<OsString>,
    /// Why the directory part could not be opened fully (`None` when it was).
    pub error: Option<io::Error>,
    /// The last component: the socket's own name in [`dir`](Self::dir).
    pub name: OsString,
}

impl Place {
    /// Opens the directory part of `path` (relative to `base` when `path` is relative; pass
    /// [`rustix::fs::CWD`] for the current directory). The path must end in a file name.
    pub fn open(base: BorrowedFd<'_>, path: &Path) -> Result<Self, PathError> {
        let (dir, name) = split(path)?;
        let (dir, missing, error) = open_dir(base, &dir).map_err(PathError::Io)?;
        Ok(Self {
            dir,
            missing,
            error,
            name,
        })
    }

    /// The error to report when the directory part is missing: what the kernel said, or
    /// "not found".
    pub fn missing_error(&mut self) -> Option<io::Error> {
        if self.missing.is_empty() {
            return None;
        }
        Some(
            self.error
                .take()
                .unwrap_or_else(|| io::Error::from(io::ErrorKind::NotFound)),
        )
    }
}

/// Why a path cannot be held.
#[derive(Debug)]
pub enum PathError {
    /// Not a usable Unix socket path; the text says why.
    Invalid(String),
    /// Not even the first directory of the path could be opened.
    Io(io::Error),
}

/// Splits `path` into its directory part (`.` for a bare name) and its last component, which
/// must be a file name: not empty, `.` or `..`, and not followed by `/`.
pub fn split(path: &Path) -> Result<(PathBuf, OsString), PathError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(PathError::Invalid(
            "the Unix socket path is empty".to_owned(),
        ));
    }
    if bytes.ends_with(b"/") {
        return Err(PathError::Invalid(format!(
            "the Unix socket path {} ends in `/`: it must name a file",
            path.display()
        )));
    }
    // `components()` drops a trailing `.`, which the kernel would not.
    let raw_last = bytes.rsplit(|b| *b == b'/').next().unwrap_or_default();
    let Some(Component::Normal(name)) = path
        .components()
        .next_back()
        .filter(|c| c.as_os_str().as_bytes() == raw_last)
    else {
        return Err(PathError::Invalid(format!(
            "the Unix socket path {} does not end in a file name",
            path.display()
        )));
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_os_string()))
}

/// Opens the directory `dir` (relative to `base`) as the kernel resolves it, or, when that
/// fails, the deepest directory along it that opens. Returns the descriptor, the names after it
/// that did not open, and the first error met (`None` when `dir` itself opened). Fails only when
/// no directory along the path opens at all.
pub fn open_dir(
    base: BorrowedFd<'_>,
    dir: &Path,
) -> io::Result<(OwnedFd, Vec<OsString>, Option<io::Error>)> {
    let components: Vec<Component<'_>> = dir.components().collect();
    // An absolute path never falls back past its root to `base`.
    let least = usize::from(dir.has_root());
    let mut first_error = None;
    for k in (least..=components.len()).rev() {
        let prefix: PathBuf = components[..k].iter().collect();
        let prefix = if prefix.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            prefix
        };
        match open_path_dir(base, &prefix) {
            Ok(fd) => {
                let missing = components[k..]
                    .iter()
                    .map(|c| c.as_os_str().to_os_string())
                    .collect();
                return Ok((fd, missing, first_error));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::NotFound)))
}

/// Opens a directory as an `O_PATH` descriptor, following symlinks.
fn open_path_dir(base: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        base,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the entry `name` of `dir` itself (never following a symlink) as an `O_PATH`
/// descriptor, with its file type.
pub fn open_entry(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<(OwnedFd, FileType)> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode);
    Ok((fd, kind))
}

/// The target of the symlink `link` holds (an `O_PATH | O_NOFOLLOW` descriptor of it): read
/// from that very link, not from its name again.
pub fn read_link(link: BorrowedFd<'_>) -> io::Result<PathBuf> {
    let target = rustix::fs::readlinkat(link, "", Vec::new())?;
    Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
}

/// The identities of `dir` and of every directory above it, up to the root, as `..` leads from
/// the held directory (not from any path string).
pub fn lineage(dir: BorrowedFd<'_>) -> io::Result<Vec<FileId>> {
    let mut ids = vec![FileId::of(dir)?];
    let mut current = open_path_dir(dir, Path::new(".."))?;
    for _ in 0..MAX_DEPTH {
        let id = FileId::of(&current)?;
        if ids.last() == Some(&id) {
            return Ok(ids);
        }
        ids.push(id);
        current = open_path_dir(current.as_fd(), Path::new(".."))?;
    }
    Err(io::Error::other(
        "the directory is nested too deeply to check its Unix socket grant",
    ))
}

/// The path through which the kernel reaches exactly the file `fd` holds: `/proc/self/fd/N`.
/// `bind` to `fd_path(dir)/name` creates `name` in that directory; `connect` to `fd_path(file)`
/// reaches that socket file.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What [`stat_entry`] finds: a directory entry itself (a symlink is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its identity.
    pub id: FileId,
    /// Its type.
    pub kind: FileType,
    /// Its birth time (seconds, nanoseconds), when the file system records it.
    pub born: Option<(i64, u32)>,
}

/// The entry `name` of `dir`; `None` when it does not exist.
pub fn stat_entry(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<Entry>> {
    let stat = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let born = rustix::fs::statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        rustix::fs::StatxFlags::BTIME,
    )
    .ok()
    .filter(|x| {
        rustix::fs::StatxFlags::from_bits_retain(x.stx_mask).contains(rustix::fs::StatxFlags::BTIME)
    })
    .map(|x| (x.stx_btime.tv_sec, x.stx_btime.tv_nsec));
    Ok(Some(Entry {
        id: FileId::from_stat(&stat),
        kind: FileType::from_raw_mode(stat.st_mode),
        born,
    }))
}

/// Removes the entry `name` of `dir` (not a directory).
pub fn remove_entry(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let ok = |p: &str| split(Path::new(p)).ok();
        assert_eq!(
            ok("/a/b.sock"),
            Some((PathBuf::from("/a"), OsString::from("b.sock")))
        );
        assert_eq!(
            ok("b.sock"),
            Some((PathBuf::from("."), OsString::from("b.sock")))
        );
        assert_eq!(
            ok("/x.sock"),
            Some((PathBuf::from("/"), OsString::from("x.sock")))
        );
        assert_eq!(
            ok("a/../b"),
            Some((PathBuf::from("a/.."), OsString::from("b")))
        );
        for bad in ["", "/", "/a/", "a/..", ".", "..", "/a/b/."] {
            assert!(ok(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn opens_the_deepest_existing_directory() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let root = std::fs::canonicalize(dir.path())?;
        std::fs::create_dir(root.join("a"))?;
        let mut place = Place::open(rustix::fs::CWD, &root.join("a/b/c/x.sock"))
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(
            FileId::of(&place.dir)?,
            FileId::of(std::fs::File::open(root.join("a"))?)?
        );
        assert_eq!(
            place.missing,
            vec![OsString::from("b"), OsString::from("c")]
        );
        assert_eq!(place.name, OsString::from("x.sock"));
        assert!(
            place
                .missing_error()
                .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
        );
        let place =
            Place::open(rustix::fs::CWD, &root.join("a/x.sock")).map_err(|e| format!("{e:?}"))?;
        assert!(place.missing.is_empty() && place.error.is_none());
        Ok(())
    }

    #[test]
    fn lineage_reaches_the_root() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let fd = open_path_dir(rustix::fs::CWD, dir.path())?;
        let ids = lineage(fd.as_fd())?;
        let root = FileId::of(std::fs::File::open("/")?)?;
        assert_eq!(ids.last(), Some(&root));
        assert_eq!(ids.first(), Some(&FileId::of(&fd)?));
        Ok(())
    }
}
