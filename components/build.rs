//! Builds the wasm32-wasip2 workspace in guest/ (the provider and the examples) with a nested cargo
//! and hands the component paths to `src/lib.rs`. The nested build has its own target directory
//! under OUT_DIR so it never waits on the outer build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Each component: (cargo package, wasm file stem, name of the env var set for lib.rs).
const COMPONENTS: &[(&str, &str, &str)] = &[
    ("wasio-provider", "wasio_provider", "WASIO_PROVIDER_WASM"),
    ("echo-server", "echo_server", "WASIO_ECHO_SERVER_WASM"),
    ("echo-client", "echo_client", "WASIO_ECHO_CLIENT_WASM"),
    ("http-headers", "http_headers", "WASIO_HTTP_HEADERS_WASM"),
    ("socketpair", "socketpair", "WASIO_SOCKETPAIR_WASM"),
    ("wasio-probe", "wasio_probe", "WASIO_PROBE_WASM"),
    ("wasio-tls-app", "wasio_tls_app", "WASIO_TLS_APP_WASM"),
    (
        "wasio-streams-tests",
        "wasio_streams_tests",
        "WASIO_STREAMS_TESTS_WASM",
    ),
    ("line-echo", "line_echo", "WASIO_LINE_ECHO_WASM"),
    ("wasio-sdk-app", "wasio_sdk_app", "WASIO_SDK_APP_WASM"),
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    for dir in [
        "wit",
        "guest/src",
        "guest/Cargo.toml",
        "examples",
        "tests/probe/src",
        "tests/probe/Cargo.toml",
        "tests/tls-app/src",
        "tests/tls-app/Cargo.toml",
        "tests/streams-app/src",
        "tests/streams-app/Cargo.toml",
        "bench/line-echo/src",
        "bench/line-echo/Cargo.toml",
        "sdk/src",
        "sdk/Cargo.toml",
        "tests/sdk-app/src",
        "tests/sdk-app/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let target_dir = PathBuf::from(env("OUT_DIR")).join("wasm-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root.join("guest"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--workspace",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host build (and clippy's driver) must not leak into the guest build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_BUILD_TARGET");
    let status = match cmd.status() {
        Ok(status) => status,
        Err(e) => fail(&format!("could not start cargo for the guest build: {e}")),
    };
    if !status.success() {
        fail(
            "building the wasm32-wasip2 components failed (is the target installed? `rustup target add wasm32-wasip2`)",
        );
    }
    for (package, stem, var) in COMPONENTS {
        let path = target_dir
            .join("wasm32-wasip2")
            .join("release")
            .join(format!("{stem}.wasm"));
        if !Path::new(&path).exists() {
            fail(&format!(
                "the guest build did not produce {package} at {}",
                path.display()
            ));
        }
        println!("cargo:rustc-env={var}={}", path.display());
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("cargo did not set {name}")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
