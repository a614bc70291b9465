//! An on-disk cache of compiled components, so a run starts from machine code instead of
//! compiling the composed app with Cranelift each time (about 0.3 s for an app and the provider
//! on the benchmark machine).
//!
//! It is wasmtime's own cache: the key hashes the component's bytes, the engine's compilation
//! settings and wasmtime's version, so a changed app, provider or flag compiles afresh and a
//! stale entry is never loaded; entries are written atomically, so concurrent runs can share a
//! directory. `wasio run` and `wasio demo` use [`default_dir`] unless `--no-cache` is given.
//! Library users opt in with [`enable`] on the configuration they pass to
//! [`crate::Runtime::from_config`].

use std::path::{Path, PathBuf};

use wasmtime::{Cache, CacheConfig, Config};

use crate::WasmtimeContext as _;

/// Where `wasio run` keeps compiled code: `$WASIO_CACHE_DIR`, else `$XDG_CACHE_HOME/wasio`, else
/// `$HOME/.cache/wasio`; `None` when none of these is set.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("WASIO_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("wasio")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("wasio")))
}

/// Makes engines built from `config` look up and store compiled components in `dir/compiled`
/// (created if missing). wasmtime's cache worker deletes files it does not recognise in its
/// directory, so it gets a subdirectory of its own: other entries of `dir` (the Python apps
/// `wasio run app.py` built, in `dir/python`) are left alone.
pub fn enable(config: &mut Config, dir: &Path) -> anyhow::Result<()> {
    let mut cache = CacheConfig::new();
    cache.with_directory(dir.join("compiled"));
    let cache =
        Cache::new(cache).wcontext(format!("setting up the compile cache in {}", dir.display()))?;
    config.cache(Some(cache));
    Ok(())
}
