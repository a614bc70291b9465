//! Shared by the build scripts of `wasio-components` (components/build.rs) and
//! `wasio-test-components` (tests/components/build.rs): reads the members of the wasm32-wasip2
//! workspace (wasm/Cargo.toml) with `cargo metadata`, builds one kind of them with a nested cargo
//! and writes `$OUT_DIR/components.rs`, a `pub static NAME: &[u8]` for each, which the crate's
//! lib.rs includes. The member list in wasm/Cargo.toml is thus the only list of components.
//!
//! The nested build uses the wasm workspace's own target directory (wasm/target): it is not the
//! outer build's, so it never waits on the outer build's lock, and the product's and the tests'
//! builds (and a developer's `cargo build` in wasm/) share every artifact they have in common.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Which components a build script embeds; every component is of exactly one kind.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// What wasio ships: the provider and the examples (every member outside tests/ and bench/).
    Product,
    /// The test and bench components (members under tests/ or bench/).
    Test,
}

/// One component of the wasm workspace.
struct Member {
    package: String,
    description: String,
    dir: PathBuf,
    /// The directories of its path dependencies (the SDK, core/), which it is rebuilt for too.
    path_deps: Vec<PathBuf>,
}

impl Member {
    /// The name of its static: the package name without a `wasio-` prefix, in upper snake case
    /// (`wasio-probe` is `PROBE`, `line-echo` is `LINE_ECHO`).
    fn static_name(&self) -> String {
        let name = self.package.strip_prefix("wasio-").unwrap_or(&self.package);
        name.replace('-', "_").to_uppercase()
    }

    /// The file stem cargo gives its cdylib.
    fn wasm_stem(&self) -> String {
        self.package.replace('-', "_")
    }
}

/// Builds the components of `kind` and writes `$OUT_DIR/components.rs`.
pub fn build(kind: Kind) {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = find_root(&manifest_dir);
    let workspace = root.join("wasm");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let members: Vec<Member> = members(&cargo, &root, &workspace)
        .into_iter()
        .filter(|m| kind_of(&root, &m.dir) == kind)
        .collect();
    if members.is_empty() {
        fail("the wasm workspace (wasm/Cargo.toml) has no component of this kind");
    }

    let mut watched = BTreeSet::from([
        root.join("wit"),
        root.join("components/wasm_workspace.rs"),
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
    ]);
    for member in &members {
        // The folder a glob of wasm/Cargo.toml finds a member in: a new example or test app
        // there is a new component.
        if let Some(parent) = member.dir.parent().filter(|p| *p != root) {
            watched.insert(parent.to_path_buf());
        }
        for dir in std::iter::once(&member.dir).chain(&member.path_deps) {
            watched.insert(dir.join("src"));
            watched.insert(dir.join("Cargo.toml"));
        }
    }
    for path in &watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }

    let target_dir = workspace.join("target");
    let mut cmd = nested(&cargo, &workspace);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target_dir);
    for member in &members {
        cmd.args(["-p", &member.package]);
    }
    let status = match cmd.status() {
        Ok(status) => status,
        Err(e) => fail(&format!("could not start cargo for the wasm build: {e}")),
    };
    if !status.success() {
        fail(
            "building the wasm32-wasip2 components failed (is the target installed? `rustup target add wasm32-wasip2`)",
        );
    }

    let mut code = String::new();
    for member in &members {
        let path = target_dir
            .join("wasm32-wasip2")
            .join("release")
            .join(format!("{}.wasm", member.wasm_stem()));
        if !path.exists() {
            fail(&format!(
                "the wasm build did not produce {} at {}",
                member.package,
                path.display()
            ));
        }
        let relative = member.dir.strip_prefix(&root).unwrap_or(&member.dir);
        code.push_str(&format!(
            "/// {} (`{}`, package `{}`).\npub static {}: &[u8] = include_bytes!({:?});\n\n",
            member.description.trim_end_matches('.'),
            relative.display(),
            member.package,
            member.static_name(),
            path.display().to_string(),
        ));
    }
    let out = PathBuf::from(env("OUT_DIR")).join("components.rs");
    if let Err(e) = std::fs::write(&out, code) {
        fail(&format!("could not write {}: {e}", out.display()));
    }
}

/// The repository's root: the nearest ancestor of `dir` holding wasm/Cargo.toml.
fn find_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join("wasm").join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| fail("no wasm/Cargo.toml above this crate"))
}

/// Products live anywhere but tests/ and bench/; test and bench components live there.
fn kind_of(root: &Path, dir: &Path) -> Kind {
    let relative = dir.strip_prefix(root).unwrap_or(dir);
    if relative.starts_with("tests") || relative.starts_with("bench") {
        Kind::Test
    } else {
        Kind::Product
    }
}

/// A cargo command run in the wasm workspace, without the outer build's settings: flags meant for
/// the host build (and clippy's driver) must not leak into the wasm build.
fn nested(cargo: &str, workspace: &Path) -> Command {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

/// The workspace's components (its cdylib members), from `cargo metadata`.
fn members(cargo: &str, root: &Path, workspace: &Path) -> Vec<Member> {
    let output = nested(cargo, workspace)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .unwrap_or_else(|e| fail(&format!("could not start cargo metadata: {e}")));
    if !output.status.success() {
        fail(&format!(
            "cargo metadata failed on wasm/Cargo.toml: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| fail(&format!("cargo metadata printed no JSON: {e}")));
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let mut members = Vec::new();
    for package in &packages {
        let is_component = package["targets"].as_array().is_some_and(|targets| {
            targets.iter().any(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
            })
        });
        if !is_component {
            continue;
        }
        let text = |key: &str| package[key].as_str().unwrap_or_default().to_string();
        let manifest = PathBuf::from(text("manifest_path"));
        let Some(dir) = manifest.parent() else {
            fail(&format!(
                "cargo metadata gave no folder for {}",
                text("name")
            ));
        };
        let mut path_deps = Vec::new();
        collect_path_deps(&packages, package, root, &mut path_deps);
        members.push(Member {
            package: text("name"),
            description: text("description"),
            dir: dir.to_path_buf(),
            path_deps,
        });
    }
    members
}

/// The folders of `package`'s path dependencies, and of theirs when they are workspace members.
fn collect_path_deps(packages: &[Value], package: &Value, root: &Path, out: &mut Vec<PathBuf>) {
    let deps = package["dependencies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for dep in deps {
        let Some(path) = dep["path"].as_str() else {
            continue;
        };
        let path = PathBuf::from(path);
        if out.contains(&path) || !path.starts_with(root) {
            continue;
        }
        out.push(path.clone());
        let nested = packages.iter().find(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| Path::new(m).parent() == Some(path.as_path()))
        });
        if let Some(nested) = nested {
            collect_path_deps(packages, nested, root, out);
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
