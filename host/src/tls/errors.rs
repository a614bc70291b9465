//! TLS failures in words: rustls errors (certificates, alerts, protocol) become `error-code.tls`,
//! a transport that ends early gets its own message, other I/O errors go through the host's
//! usual io::Error conversion.

use std::io;

use crate::host_impl::bindings::types::ErrorCode;

/// What happened when a TLS read or handshake failed.
#[derive(Clone, Copy, Debug)]
pub enum Stage {
    /// During the handshake.
    Handshake,
    /// Reading application data after the handshake.
    Receive,
    /// Writing application data or close_notify.
    Send,
}

/// Converts an I/O error of a tokio-rustls stream (which wraps rustls errors) into an error code.
pub fn from_io(error: io::Error, stage: Stage) -> ErrorCode {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return from_rustls(tls, stage);
    }
    match (error.kind(), stage) {
        (io::ErrorKind::UnexpectedEof, Stage::Handshake) => {
            ErrorCode::Tls("the peer closed the connection during the TLS handshake".to_owned())
        }
        (io::ErrorKind::UnexpectedEof, _) => ErrorCode::Tls(
            "the peer closed the connection without a TLS close_notify (the data may be truncated)"
                .to_owned(),
        ),
        _ => ErrorCode::from(error),
    }
}

/// A rustls error as `error-code.tls`, with the stage in front.
pub fn from_rustls(error: &rustls::Error, stage: Stage) -> ErrorCode {
    let stage = match stage {
        Stage::Handshake => "TLS handshake failed",
        Stage::Receive => "TLS receive failed",
        Stage::Send => "TLS send failed",
    };
    ErrorCode::Tls(format!("{stage}: {error}"))
}

/// A bad configuration value (PEM, names, ALPN) as `invalid-argument`.
pub fn invalid(what: impl Into<String>) -> ErrorCode {
    ErrorCode::InvalidArgument(what.into())
}
