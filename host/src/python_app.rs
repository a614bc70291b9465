//! Python scripts as apps: `wasio run app.py` and `wasio build app.py` build the script into an
//! app component with the wasio-asyncio package (python/ in the repository) and componentize-py,
//! both found through `python3` in the environment, and keep the built component in the compile
//! cache directory, keyed by the script's bytes and name, the package's version and files,
//! componentize-py's version and the provider, so later runs skip the build (about 10 s).

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The installed wasio-asyncio version, the componentize-py version beside it (the build runs
/// that one, from the same `python3`) and a digest of the package's files (so an edited package,
/// as in a development install, is never served from the cache); an error naming the install
/// command when the package or componentize-py is missing.
fn package_identity() -> anyhow::Result<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m, hashlib, pathlib\n\
             v = m.version('wasio-asyncio') + '+componentize-py-' + m.version('componentize-py')\n\
             import wasio_asyncio\n\
             root = pathlib.Path(wasio_asyncio.__file__).parent\n\
             h = hashlib.sha256()\n\
             for p in sorted(root.rglob('*')):\n\
             \x20   if p.suffix in ('.py', '.wit', '.toml') and p.parts[len(root.parts)] != 'bindings':\n\
             \x20       h.update(str(p.relative_to(root)).encode() + b'\\0' + p.read_bytes() + b'\\0')\n\
             print(v + '+' + h.hexdigest()[:16])",
        ])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(_) => bail!(
            "running a Python script needs componentize-py and the wasio-asyncio package: {INSTALL}"
        ),
        Err(e) => bail!("running a Python script needs python3, which could not be started: {e}"),
    }
}

/// The component for `script` (whose bytes are `source`): from `cache` when built before, else
/// built (and stored in `cache` when given).
pub fn component(script: &Path, source: &[u8], cache: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    let version = package_identity()?;
    let name = script
        .file_name()
        .map_or_else(|| "app.py".into(), |n| n.to_string_lossy().into_owned());
    let mut hash = Sha256::new();
    for part in [version.as_bytes(), name.as_bytes(), PROVIDER, source] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let cached = cache.map(|dir| dir.join("python").join(format!("{key}.wasm")));
    if let Some(path) = &cached
        && let Ok(bytes) = std::fs::read(path)
    {
        return Ok(bytes);
    }
    let work = tempfile::tempdir().context("creating a temporary directory for the build")?;
    let out = work.path().join("app.wasm");
    build_into(script, &name, source, work.path(), &out)?;
    let bytes = std::fs::read(&out).context("reading the built component")?;
    if let Some(path) = cached {
        // A cache that cannot be written only costs the next run a build.
        let _ = store(&path, &bytes);
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically (a temporary file renamed), so concurrent runs share it.
fn store(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("no cache directory")?;
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(tmp.path(), bytes)?;
    tmp.persist(path)?;
    Ok(())
}

/// Builds `source` (the bytes read from `script`, copied so that what is built is what was
/// hashed) into `out`; the script's directory stays on the import path for its own modules.
fn build_into(
    script: &Path,
    name: &str,
    source: &[u8],
    work: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let copy_dir = work.join("src");
    std::fs::create_dir(&copy_dir)?;
    let copy = copy_dir.join(name);
    std::fs::write(&copy, source)?;
    let script_dir: PathBuf = script
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let done = Command::new("python3")
        .args(["-m", "wasio_asyncio.build"])
        .arg(&copy)
        .arg("-o")
        .arg(out)
        .arg("-p")
        .arg(&script_dir)
        .output()
        .context("starting python3")?;
    if !done.status.success() {
        // A closed stderr loses the build's messages, not the build.
        let _ = std::io::Write::write_all(&mut std::io::stderr(), &done.stderr);
        bail!("building {} into a component failed", script.display());
    }
    Ok(())
}

/// `wasio build SCRIPT -o OUT`: the component for `script`, written to `output`.
pub fn build(
    script: &Path,
    source: &[u8],
    output: &Path,
    cache: Option<&Path>,
) -> anyhow::Result<()> {
    let bytes = component(script, source, cache)?;
    std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))
}
