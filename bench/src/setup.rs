//! The benchmark's own set-up: a Python virtual environment with uvloop from PyPI, under
//! `bench/work/venv` (ignored by git), made on first use.

use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::process::Command;

/// The python3 to run the asyncio / uvloop servers with; with `uvloop`, one that can import it.
pub fn python_with_uvloop(uvloop: bool) -> anyhow::Result<PathBuf> {
    if !uvloop {
        return Ok(PathBuf::from("python3"));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("work")
        .join("venv");
    let python = venv.join("bin").join("python3");
    if python.exists() && imports_uvloop(&python) {
        return Ok(python);
    }
    eprintln!("setting up {} with uvloop (pip)", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "uvloop"]))?;
    if !imports_uvloop(&python) {
        bail!("uvloop did not install into {}", venv.display());
    }
    Ok(python)
}

fn imports_uvloop(python: &PathBuf) -> bool {
    Command::new(python)
        .args(["-c", "import uvloop"])
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
