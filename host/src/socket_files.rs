//! The Unix socket files the host created for a run: those of the app's Unix servers
//! (`wasio:host/unix.listen`) and of `--listen unix:` pre-opened listeners.
//!
//! They are kept here, outside the store, so that they can be removed however the run ends:
//! `wasio` removes them when a run interrupted by a signal ends, and also when a second signal
//! (or a run that does not end within its grace period) makes it exit at once, without
//! dropping the store. A file is removed only if it is still the one the host created
//! ([`SocketFile::remove_if_ours`]), so a file that the app's own close already removed, or
//! that something else put at the path since, is left alone.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::net::unix::SocketFile;

/// `files` is not pruned below this length.
const MIN_PRUNE: usize = 64;

/// A run's socket files (a shared handle: clones see the same files). Give the same one to
/// several runs' contexts ([`WasioCtxBuilder::socket_files`](crate::WasioCtxBuilder::socket_files))
/// to remove all of their files at once.
#[derive(Clone, Debug, Default)]
pub struct SocketFiles(Arc<Mutex<Registry>>);

#[derive(Debug, Default)]
struct Registry {
    files: Vec<Arc<SocketFile>>,
    /// Prune `files` once it is this long (twice its length after the last prune, so a run
    /// that binds and closes servers again and again keeps O(live files) entries).
    prune_at: usize,
}

impl SocketFiles {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The registry stays consistent whatever a panicking holder did: a Vec push or retain.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `file` for [`remove_all`](Self::remove_all); returns the shared file for its
    /// listener's own `cleanup`.
    pub(crate) fn register(&self, file: SocketFile) -> Arc<SocketFile> {
        let file = Arc::new(file);
        self.add(file.clone());
        file
    }

    /// Keeps an already shared `file`.
    pub(crate) fn add(&self, file: Arc<SocketFile>) {
        let mut registry = self.lock();
        if registry.files.len() >= registry.prune_at.max(MIN_PRUNE) {
            // Files removed or replaced since are not ours any more, for good.
            registry.files.retain(|f| f.is_ours());
            registry.prune_at = registry.files.len().saturating_mul(2);
        }
        registry.files.push(file);
    }

    /// Removes every socket file that is still the one the host created; returns how many it
    /// removed. Later calls find nothing more to remove.
    pub fn remove_all(&self) -> usize {
        let files = std::mem::take(&mut self.lock().files);
        files.iter().filter(|f| f.remove_if_ours()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The socket file just bound at `path`, as the host notes it.
    fn file_at(path: &Path) -> std::io::Result<SocketFile> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let dir = rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let name = path.file_name().unwrap_or_default().to_os_string();
        SocketFile::of(dir, name)
    }

    #[test]
    fn only_files_still_ours_are_removed() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let files = SocketFiles::new();
        let kept = dir.path().join("kept.sock");
        let replaced = dir.path().join("replaced.sock");
        let _a = std::os::unix::net::UnixListener::bind(&kept)?;
        let _b = std::os::unix::net::UnixListener::bind(&replaced)?;
        files.register(file_at(&kept)?);
        files.clone().register(file_at(&replaced)?);
        std::fs::remove_file(&replaced)?;
        std::fs::write(&replaced, b"someone else's")?;
        assert_eq!(files.remove_all(), 1);
        assert!(!kept.exists());
        assert_eq!(std::fs::read(&replaced)?, b"someone else's");
        assert_eq!(files.remove_all(), 0);
        Ok(())
    }

    #[test]
    fn files_no_longer_ours_are_pruned() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let files = SocketFiles::new();
        let path = dir.path().join("again.sock");
        for _ in 0..3 * MIN_PRUNE {
            let listener = std::os::unix::net::UnixListener::bind(&path)?;
            let file = files.register(file_at(&path)?);
            drop(listener);
            assert!(file.remove_if_ours());
        }
        assert!(
            files.lock().files.len() <= MIN_PRUNE,
            "kept every closed server's file"
        );
        Ok(())
    }
}
