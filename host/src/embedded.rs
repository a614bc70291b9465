//! The components built into this crate (feature `embed`): the provider and the examples, and
//! the one step `wasio run` applies to an app before running it.

use std::borrow::Cow;

use crate::compose::{compose, imports_streams};

/// Every component `wasio-components` embeds: `PROVIDER` and the examples (`ECHO_SERVER`,
/// `ECHO_CLIENT`, `HTTP_HEADERS`, `SOCKETPAIR`, and any new one, by the name of its package).
pub use wasio_components::*;

/// `app` ready to run: composed with the embedded [`PROVIDER`] if it imports `wasio:streams`,
/// otherwise unchanged.
pub fn prepare(app: &[u8]) -> anyhow::Result<Cow<'_, [u8]>> {
    if imports_streams(app)? {
        Ok(Cow::Owned(compose(app, PROVIDER)?))
    } else {
        Ok(Cow::Borrowed(app))
    }
}
