//! `wasio compose`: an app composed with the built-in provider, written to a file.

use std::path::Path;

use anyhow::Context as _;
use wasio_host::compose::compose;
use wasio_host::embedded::PROVIDER;

use crate::files::read;

/// `wasio compose`.
pub(crate) fn compose_app(app: &Path, output: &Path) -> anyhow::Result<i32> {
    let bytes = read(app)?;
    let composed = compose(&bytes, PROVIDER)
        .with_context(|| format!("composing {} with the provider", app.display()))?;
    std::fs::write(output, composed).with_context(|| format!("writing {}", output.display()))?;
    Ok(0)
}
