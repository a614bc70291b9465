//! Building Python scripts (`wasio run app.py`, `wasio build`): what the build may touch, what
//! its cache is keyed on, how it reads sources and reports their errors, and stopping it.
//! Like python.rs, these need componentize-py and the package installed, and fail without them.
#![cfg(feature = "embed")]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

use crate::python::text;

/// `wasio ARGS` in `dir`, with the compile cache in `cache`.
fn wasio(dir: &Path, cache: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(args)
        .current_dir(dir)
        .env("WASIO_CACHE_DIR", cache)
        .output()?)
}

/// A module of the app that, when the build imports it, tries to leave a file in every
/// directory it can see (its own, the package's) and records what it managed.
const PRYING_MODULE: &str = r#"import os
VALUE = 1
wrote = []
for top in ["/"] + ["/%d" % i for i in range(10)]:
    try:
        names = os.listdir(top)
    except OSError:
        continue
    for d in [top] + [os.path.join(top, n) for n in names]:
        try:
            with open(os.path.join(d, "pried.txt"), "w") as f:
                f.write("written at build time")
            wrote.append(d)
        except OSError:
            pass
"#;

#[test]
fn a_build_sees_copies_only_and_its_cache_follows_the_scripts_modules() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let project = dir.path().join("project");
    let cache = dir.path().join("cache");
    std::fs::create_dir(&project)?;
    std::fs::write(
        project.join("app.py"),
        "import helper\nprint('helper', helper.VALUE, 'wrote', len(helper.wrote) > 0)\n",
    )?;
    std::fs::write(project.join("helper.py"), PRYING_MODULE)?;
    // What must not matter: a virtual environment in the project (its lib64 -> lib link made
    // componentize-py find the package's componentize-py.toml twice and fail), and a module
    // named like wasio's own in the current directory (a `python3 -c` run there imports it).
    let site = project.join(".venv/lib/site-packages/pkg");
    std::fs::create_dir_all(&site)?;
    std::fs::write(
        site.join("componentize-py.toml"),
        "bindings = \"bindings\"\n",
    )?;
    std::os::unix::fs::symlink("lib", project.join(".venv/lib64"))?;
    let native = project.join("NATIVE_CODE_RAN");
    std::fs::write(
        project.join("wasio_asyncio.py"),
        format!("open({:?}, 'w').close()\n", native.display()),
    )?;
    let package = Command::new("python3")
        .args([
            "-c",
            "import wasio_asyncio, os; print(os.path.dirname(wasio_asyncio.__file__))",
        ])
        .current_dir(dir.path())
        .output()?;
    let package = text(&package.stdout).trim().to_owned();
    let before = listing(&project)?;

    let out = wasio(&project, &cache, &["run", "app.py"])?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The module wrote, but into the build's copies.
    assert_eq!(text(&out.stdout), "helper 1 wrote True\n");
    assert_eq!(
        listing(&project)?,
        before,
        "the build changed the project directory"
    );
    assert!(
        !native.exists(),
        "a module from the current directory ran natively"
    );
    for d in [
        Path::new(&package),
        Path::new(&package).parent().unwrap_or(Path::new("/")),
    ] {
        assert!(
            !d.join("pried.txt").exists(),
            "the build wrote into {}",
            d.display()
        );
    }

    // A changed module of the script is a new build, not the cached one.
    std::fs::write(
        project.join("helper.py"),
        PRYING_MODULE.replace("VALUE = 1", "VALUE = 2"),
    )?;
    runs_printing(&project, &cache, "helper 2 wrote True\n")?;

    // A damaged cache entry is built again, not reported for ever.
    let entries: Vec<_> = std::fs::read_dir(cache.join("python"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for entry in &entries {
        std::fs::OpenOptions::new()
            .write(true)
            .open(entry)?
            .set_len(1000)?;
    }
    runs_printing(&project, &cache, "helper 2 wrote True\n")?;
    assert!(
        !native.exists(),
        "a module from the current directory ran natively"
    );
    Ok(())
}

/// Runs app.py in `project` and checks what it printed.
fn runs_printing(project: &Path, cache: &Path, printed: &str) -> anyhow::Result<()> {
    let out = wasio(project, cache, &["run", "app.py"])?;
    assert_eq!(text(&out.stdout), printed, "{}", text(&out.stderr));
    Ok(())
}

/// The names and sizes of the files under `dir`, in order.
fn listing(dir: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                todo.push(entry.path());
            }
            found.push((entry.path().display().to_string(), meta.len()));
        }
    }
    found.sort();
    Ok(found)
}

#[test]
fn sources_are_decoded_as_cpython_does_and_errors_are_one_sentence() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("cache");
    // A coding comment (CPython decodes the file as Latin-1) and a byte order mark.
    let mut latin = b"# -*- coding: latin-1 -*-\nprint('caf\xe9', len('\xe9'))\n".to_vec();
    std::fs::write(dir.path().join("latin.py"), &latin)?;
    latin.clear();
    latin.extend_from_slice(b"\xef\xbb\xbfprint('bom', len('\xc3\xa9'))\n");
    std::fs::write(dir.path().join("bom.py"), &latin)?;
    for (script, printed) in [("latin.py", "caf\u{e9} 1\n"), ("bom.py", "bom 1\n")] {
        let native = Command::new("python3")
            .arg(script)
            .current_dir(dir.path())
            .output()?;
        assert_eq!(text(&native.stdout), printed);
        let out = wasio(dir.path(), &cache, &["run", script])?;
        assert_eq!(
            text(&out.stdout),
            printed,
            "{script}: {}",
            text(&out.stderr)
        );
    }

    std::fs::write(
        dir.path().join("broken.py"),
        "print('fine')\ndef f(:\n    pass\n",
    )?;
    let out = wasio(dir.path(), &cache, &["run", "broken.py"])?;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.lines().count() <= 2, "{err}");
    assert!(
        err.starts_with("wasio: cannot build broken.py: line 2: invalid syntax"),
        "{err}"
    );
    Ok(())
}

#[test]
fn build_never_writes_over_its_script() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("cache");
    std::fs::write(dir.path().join("app.py"), "print('hello')\n")?;
    std::os::unix::fs::symlink("app.py", dir.path().join("link.py"))?;
    for output in ["app.py", "link.py", "./app.py"] {
        let started = Instant::now();
        let out = wasio(dir.path(), &cache, &["build", "app.py", "-o", output])?;
        assert_eq!(out.status.code(), Some(1), "{output}");
        assert!(
            text(&out.stderr).contains("is the script itself"),
            "{}",
            text(&out.stderr)
        );
        // Refused before building (a build takes seconds).
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            std::fs::read(dir.path().join("app.py"))?,
            b"print('hello')\n"
        );
    }
    Ok(())
}

#[test]
fn a_signal_during_a_build_stops_it_and_leaves_nothing_behind() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp)?;
    // A script no cache holds: this run builds it (several seconds).
    std::fs::write(dir.path().join("app.py"), "print('never runs')\n")?;
    let child = Command::new(env!("CARGO_BIN_EXE_wasio"))
        .args(["run", "--no-cache", "app.py"])
        .current_dir(dir.path())
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut child = crate::python::Kill(child);
    // Until the build is under way (its temporary directory exists, and python3 in it).
    let started = Instant::now();
    while std::fs::read_dir(&tmp)?.next().is_none() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no build started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    kill_process(Pid::from_child(&child.0), Signal::TERM)?;
    let stopped = Instant::now();
    let status = child.0.wait()?;
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(143));
    let mut err = String::new();
    if let Some(mut stderr) = child.0.stderr.take() {
        std::io::Read::read_to_string(&mut stderr, &mut err)?;
    }
    assert!(
        err.contains("SIGTERM received: stopping the build"),
        "{err}"
    );
    assert!(!err.contains("closing the app's servers"), "{err}");
    // The build's processes were killed with it: nothing writes into `tmp` any more, and
    // what the build had written there is gone.
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<_> = std::fs::read_dir(&tmp)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}
