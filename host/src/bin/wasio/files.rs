//! Reading the files the command line names (apps, Python scripts, PEM files), bounded in size and
//! refusing what is not a file or a pipe.

use std::path::Path;

use anyhow::{Context as _, bail};
use wasio_host::limits::Size;

/// The largest app file wasio reads (`run`, `compose`): far above any real component (wasio's
/// composed examples are a few MiB), low enough that a wrong path (`/dev/zero`, a disk image)
/// is refused instead of filling memory.
const MAX_APP_FILE: u64 = 256 << 20;

/// The largest PEM file wasio reads (`--tls-cert`, `--tls-key`, `--tls-ca`); a large CA bundle
/// is about 200 KiB.
const MAX_PEM_FILE: u64 = 16 << 20;

/// A PEM file's text (a component reads no files: the demo hands PEM texts in as arguments).
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = read_bounded(path, MAX_PEM_FILE, "a PEM file")?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not a PEM text file (not UTF-8)", path.display()))
}

/// A Python script's bytes (at most 1 MiB).
pub(crate) fn read_script(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, 1 << 20, "a Python script (.py)")
}

/// An app file's bytes (at most [`MAX_APP_FILE`]).
pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    read_bounded(path, MAX_APP_FILE, "an app component (.wasm)")
}

/// Reads at most `max` bytes of a regular file or a pipe (`<(...)`), refusing anything else
/// (a directory, a device such as /dev/zero, a socket) and anything larger, in one line. The
/// kind and size are checked on the opened file itself, which is the one read.
fn read_bounded(path: &Path, max: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("reading {shown}"))?;
    let kind = meta.file_type();
    let not = if kind.is_dir() {
        Some("a directory")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(not) = not {
        bail!("{shown} is {not}, not a file: give {what}");
    }
    let too_large = || {
        anyhow::anyhow!(
            "{shown} is larger than {}, the most wasio reads for {what}",
            Size(max)
        )
    };
    if kind.is_file() && meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {shown}"))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}
