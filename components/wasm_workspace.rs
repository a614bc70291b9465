//! Shared by the build scripts of `wasio-components` (components/build.rs) and
//! `wasio-test-components` (tests/components/build.rs): reads the members of the wasm32-wasip2
//! workspace (wasm/Cargo.toml) with `cargo metadata`, builds one kind of them with a nested cargo
//! and writes `$OUT_DIR/components.rs`, a `pub static NAME: &[u8]` for each, which the crate's
//! lib.rs includes. The member list in wasm/Cargo.toml is thus the only list of components.
//!
//! The test build also builds every component that uses wasio-sdk (test apps and examples) a
//! second time with the SDK's `composed` feature (`composed::NAME`, `composed_variant`), so the
//! tests run in both of the SDK's modes and the benchmark compares them.
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
    /// It depends on wasio-sdk, so it has a linked (default) and a composed build.
    uses_sdk: bool,
    /// It has a `composed` feature of its own, which its composed build turns on.
    composed_feature: bool,
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
    let (members, others): (Vec<Member>, Vec<Member>) = members(&cargo, &root, &workspace)
        .into_iter()
        .partition(|m| kind_of(&root, &m.dir) == kind);
    if members.is_empty() {
        fail("the wasm workspace (wasm/Cargo.toml) has no component of this kind");
    }
    // The test build also builds the product's SDK apps (the examples) in composed mode.
    let composed_too: Vec<&Member> = match kind {
        Kind::Product => Vec::new(),
        Kind::Test => members
            .iter()
            .chain(&others)
            .filter(|m| m.uses_sdk)
            .collect(),
    };

    let mut watched = BTreeSet::from([
        root.join("wit"),
        root.join("components/wasm_workspace.rs"),
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
    ]);
    for member in members.iter().chain(composed_too.iter().copied()) {
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
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let mut code = String::new();
    for (member, wasm) in build_pass(&cargo, &workspace, &target_dir, &members, None, &out_dir) {
        code.push_str(&static_item(&root, member, &wasm));
    }
    if kind == Kind::Test {
        // Every test of an SDK app runs in both of the SDK's modes (tests/src/lib.rs picks one),
        // and the benchmark runs the examples in both.
        let sdk_apps = composed_too;
        let mut features = vec!["wasio-sdk/composed".to_string()];
        for member in sdk_apps.iter().filter(|m| m.composed_feature) {
            features.push(format!("{}/composed", member.package));
        }
        let composed = build_pass(
            &cargo,
            &workspace,
            &target_dir,
            &sdk_apps,
            Some(&features.join(",")),
            &out_dir,
        );
        code.push_str(
            "/// The components that use wasio-sdk (test apps and examples), built with its\n\
             /// `composed` feature: they import `wasio:streams` and run composed with the provider.\n\
             pub mod composed {\n",
        );
        for (member, wasm) in &composed {
            code.push_str(&static_item(&root, member, wasm));
        }
        code.push_str(
            "}\n\n/// `app`'s build with wasio-sdk's `composed` feature if it uses the SDK, \
             else `app` itself.\npub fn composed_variant(app: &'static [u8]) -> &'static [u8] {\n",
        );
        for (member, _) in composed
            .iter()
            .filter(|(m, _)| kind_of(&root, &m.dir) == kind)
        {
            let name = member.static_name();
            code.push_str(&format!(
                "    if std::ptr::eq(app, {name}) {{\n        return composed::{name};\n    }}\n"
            ));
        }
        code.push_str("    app\n}\n");
    }
    let out = out_dir.join("components.rs");
    if let Err(e) = std::fs::write(&out, code) {
        fail(&format!("could not write {}: {e}", out.display()));
    }
}

/// Builds `members` (in release, with `features` if given) and copies each component into
/// `out_dir` (a later pass with other features overwrites cargo's own output file): the
/// members with the copies' paths.
fn build_pass<'m, M: std::borrow::Borrow<Member>>(
    cargo: &str,
    workspace: &Path,
    target_dir: &Path,
    members: &'m [M],
    features: Option<&str>,
    out_dir: &Path,
) -> Vec<(&'m Member, PathBuf)> {
    let mut cmd = nested(cargo, workspace);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", target_dir);
    if let Some(features) = features {
        cmd.args(["--features", features]);
    }
    for member in members {
        cmd.args(["-p", &member.borrow().package]);
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
    let mode = if features.is_some() {
        "composed"
    } else {
        "default"
    };
    members
        .iter()
        .map(|member| {
            let member = member.borrow();
            let built = target_dir
                .join("wasm32-wasip2")
                .join("release")
                .join(format!("{}.wasm", member.wasm_stem()));
            if !built.exists() {
                fail(&format!(
                    "the wasm build did not produce {} at {}",
                    member.package,
                    built.display()
                ));
            }
            let copy = out_dir.join(format!("{}.{mode}.wasm", member.wasm_stem()));
            if let Err(e) = std::fs::copy(&built, &copy) {
                fail(&format!(
                    "could not copy {} to {}: {e}",
                    built.display(),
                    copy.display()
                ));
            }
            (member, copy)
        })
        .collect()
}

/// The `pub static` that embeds `member`'s component from `wasm`.
fn static_item(root: &Path, member: &Member, wasm: &Path) -> String {
    let relative = member.dir.strip_prefix(root).unwrap_or(&member.dir);
    format!(
        "/// {} (`{}`, package `{}`).\npub static {}: &[u8] = include_bytes!({:?});\n\n",
        member.description.trim_end_matches('.'),
        relative.display(),
        member.package,
        member.static_name(),
        wasm.display().to_string(),
    )
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
        let uses_sdk = package["dependencies"]
            .as_array()
            .is_some_and(|deps| deps.iter().any(|d| d["name"] == "wasio-sdk"));
        let composed_feature = package["features"].get("composed").is_some();
        members.push(Member {
            package: text("name"),
            description: text("description"),
            dir: dir.to_path_buf(),
            path_deps,
            uses_sdk,
            composed_feature,
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
