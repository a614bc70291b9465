//! Python scripts as apps: `wasio run app.py` and `wasio build app.py` build the script into an
//! app component with the wasio-asyncio package (python/ in the repository) and componentize-py,
//! both found through `python3` in the environment, and keep the built component in the compile
//! cache directory, keyed by the script's bytes and name, its own modules beside it (those it
//! imports), the package's version and files, componentize-py's version and the provider, so
//! later runs skip the build (about 10 s).

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use crate::embedded::PROVIDER;

/// The one-line hint shown when the package or componentize-py is missing.
const INSTALL: &str = "install them with `python3 -m pip install ./python` from the wasio repository \
     (the wasio-asyncio package, which pins componentize-py==0.25.1)";

/// True for a path `wasio run` treats as a Python script (by its `.py` extension).
pub fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

/// What a built script depends on besides its own bytes, as one line (wasio-asyncio's
/// `build.identity`): the installed package's version and files (so an edited package, as in a
/// development install, is never served from the cache), the componentize-py version beside it
/// (the build runs that one, from the same `python3`) and the script's own modules imported
/// from `script_dir`; an error naming the install command when the package or componentize-py
/// is missing.
fn identity(script_dir: &Path, source: &[u8]) -> anyhow::Result<String> {
    // `-P`: no module from the current directory runs natively (`python3 -c` would import
    // them first), as in the build below.
    let child = Command::new("python3")
        .args([
            "-P",
            "-c",
            "import sys\n\
             from wasio_asyncio import build\n\
             source = sys.stdin.buffer.read().decode('utf-8', 'replace')\n\
             print(build.identity(source, sys.argv[1:]))",
        ])
        .arg(script_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            bail!("running a Python script needs python3, which could not be started: {e}")
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A python3 that exits early (no package) closes its input: its status says why.
        let _ = stdin.write_all(source);
    }
    let out = child.wait_with_output().context("waiting for python3")?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
        // The package's own sentence (a module of the script that cannot be read).
        Some(line) if line.starts_with("wasio: ") => bail!("{}", &line["wasio: ".len()..]),
        _ => bail!(
            "running a Python script needs componentize-py and the wasio-asyncio package: {INSTALL}"
        ),
    }
}

/// The directory a script's own modules are imported from: its own.
fn script_dir(script: &Path) -> PathBuf {
    script
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The cache key of a built script.
fn cache_key(identity: &str, name: &str, source: &[u8]) -> String {
    let mut hash = Sha256::new();
    for part in [identity.as_bytes(), name.as_bytes(), PROVIDER, source] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The component for `script` (whose bytes are `source`): from `cache` when built before, else
/// built (and stored in `cache` when given).
pub fn component(script: &Path, source: &[u8], cache: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let dir = script_dir(script);
    let identity = identity(&dir, source)?;
    let name = script
        .file_name()
        .map_or_else(|| "app.py".into(), |n| n.to_string_lossy().into_owned());
    let cache_dir = cache.map(|dir| dir.join("python"));
    if let Some(cache_dir) = &cache_dir
        && let Some(bytes) = load(&entry(cache_dir, &identity, &name, source))
    {
        return Ok(bytes);
    }
    let work = tempfile::tempdir().context("creating a temporary directory for the build")?;
    let out = work.path().join("app.wasm");
    let local = build_into(script, &dir, &name, source, work.path(), &out)?;
    let bytes = std::fs::read(&out).context("reading the built component")?;
    if let Some(cache_dir) = cache_dir {
        // Keyed on the modules the build copied (which may have changed since `identity` read
        // them). A cache that cannot be written only costs the next run a build.
        let built = match identity.rsplit_once("+local-") {
            Some((rest, _)) => format!("{rest}+{local}"),
            None => identity,
        };
        let _ = store(&entry(&cache_dir, &built, &name, source), &bytes);
    }
    Ok(bytes)
}

/// The cache file of a built script.
fn entry(cache_dir: &Path, identity: &str, name: &str, source: &[u8]) -> PathBuf {
    cache_dir.join(format!("{}.entry", cache_key(identity, name, source)))
}

/// A cache entry's component, checked against the digest stored after it; None when the entry
/// is missing or damaged (truncated, overwritten), so the script is built again and the entry
/// replaced.
fn load(path: &Path) -> Option<Vec<u8>> {
    let mut bytes = std::fs::read(path).ok()?;
    let split = bytes.len().checked_sub(32)?;
    let digest = bytes.split_off(split);
    (Sha256::digest(&bytes).as_slice() == digest.as_slice()).then_some(bytes)
}

/// Writes `bytes` and their digest to `path` atomically (a temporary file renamed), so
/// concurrent runs share it.
fn store(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("no cache directory")?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.write_all(&Sha256::digest(bytes))?;
    tmp.persist(path)?;
    Ok(())
}

/// The process group of the build running now, if any (`stop_build`).
static BUILDING: Mutex<Option<u32>> = Mutex::new(None);

/// Whether `stop_build` was called: no build starts after it.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// Stops Python script builds for good, for a process that is ending (a SIGINT or SIGTERM
/// during `wasio run app.py` or `wasio build`): the one running now, if any, has its processes
/// (python3, componentize-py) killed and fails, removing its temporary files; later ones fail
/// at once. True if one was running.
pub fn stop_build() -> bool {
    let building = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    STOPPED.store(true, Ordering::SeqCst);
    let Some(group) = *building else {
        return false;
    };
    if let Some(group) = i32::try_from(group)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    true
}

/// Builds `source` (the bytes read from `script`, copied so that what is built is what was
/// hashed) into `out`, with the script's own modules imported from `dir`; returns the digest of
/// those modules as the build copied them (`local-...`, as in `identity`).
fn build_into(
    script: &Path,
    dir: &Path,
    name: &str,
    source: &[u8],
    work: &Path,
    out: &Path,
) -> anyhow::Result<String> {
    let copy_dir = work.join("src");
    std::fs::create_dir(&copy_dir)?;
    let copy = copy_dir.join(name);
    std::fs::write(&copy, source)?;
    let tmp = work.join("tmp");
    std::fs::create_dir(&tmp)?;
    let mut building = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if STOPPED.load(Ordering::SeqCst) {
        bail!("the build of {} was stopped", script.display());
    }
    let child = Command::new("python3")
        .args(["-P", "-m", "wasio_asyncio.build", "--print-digest"])
        .arg(&copy)
        .arg("-o")
        .arg(out)
        .arg("-p")
        .arg(dir)
        // Every temporary file of the build (python3's, componentize-py's) under `work`, which
        // is removed however the build ends; its own process group, which `stop_build` kills
        // (and which a terminal's Ctrl-C, meant for wasio, does not reach).
        .env("TMPDIR", &tmp)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting python3")?;
    *building = Some(child.id());
    drop(building);
    let done = child.wait_with_output();
    *BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    if STOPPED.load(Ordering::SeqCst) {
        bail!("the build of {} was stopped", script.display());
    }
    let done = done.context("waiting for the build")?;
    if !done.status.success() {
        // A closed stderr loses the build's messages, not the build.
        let _ = std::io::Write::write_all(&mut std::io::stderr(), &done.stderr);
        bail!("building {} into a component failed", script.display());
    }
    String::from_utf8_lossy(&done.stdout)
        .lines()
        .find(|l| l.starts_with("local-"))
        .map(str::to_owned)
        .context("the build printed no digest of the script's modules")
}

/// `wasio build SCRIPT -o OUT`: the component for `script`, written to `output` (never over the
/// script itself: the output file is opened without truncating and compared with it first).
pub fn build(
    script: &Path,
    source: &[u8],
    output: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<()> {
    // Before the build too, so that the mistake costs no build (the check after it is the one
    // made on the file that is written).
    if same_file(std::fs::metadata(output).ok(), script) {
        bail!(
            "the output {} is the script itself; give another file with -o",
            output.display()
        );
    }
    let bytes = component(script, source, cache)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(output)
        .with_context(|| format!("opening {} to write the component", output.display()))?;
    if same_file(file.metadata().ok(), script) {
        bail!(
            "the output {} is the script itself; give another file with -o",
            output.display()
        );
    }
    file.set_len(0)?;
    file.write_all(&bytes)
        .with_context(|| format!("writing {}", output.display()))
}

/// Whether `output` (a file's metadata) is the file at `script`.
fn same_file(output: Option<std::fs::Metadata>, script: &Path) -> bool {
    match (output, std::fs::metadata(script)) {
        (Some(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}
