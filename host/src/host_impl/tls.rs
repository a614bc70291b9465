//! `wasio:host/tls`: TLS sessions over byte streams, client and server side, on rustls (see
//! [`crate::tls`]). This file only connects the guest's streams and futures to a
//! [`TlsSession`]'s pipes.

use std::time::Duration;

use tokio::sync::oneshot;
use wasmtime::component::{Access, Accessor, FutureReader, Resource, StreamReader};

use super::WasioHost;
use super::bindings::tls::{
    ClientConfig, ErrorCode, Host, HostSession, HostSessionWithStore, ServerConfig, SessionInfo,
};
use super::conv::HostError;
use crate::ctx::WasioHostView;
use crate::streams_io::{AsyncSink, AsyncSource, ByteConsumer, ByteProducer};
use crate::tls::TlsSession;
use crate::tls::session::{CiphertextEnds, receive_outcome};

impl Host for WasioHostView<'_> {}

impl HostSession for WasioHostView<'_> {
    fn drop(&mut self, rep: Resource<TlsSession>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// What `session.client` / `session.server` return: the session and its ciphertext output.
type Started = Result<(Resource<TlsSession>, StreamReader<u8>), HostError>;

/// Wires a freshly made session's ciphertext pipes to the guest's streams.
fn start<T>(
    mut host: Access<T, WasioHost>,
    made: Result<(TlsSession, CiphertextEnds), ErrorCode>,
    mut ciphertext_in: StreamReader<u8>,
) -> Started {
    let (session, ends) = match made {
        Ok(made) => made,
        Err(e) => {
            ciphertext_in.close(&mut host)?;
            return Err(e.into());
        }
    };
    ciphertext_in.pipe(&mut host, ByteConsumer::new(AsyncSink::new(ends.incoming)))?;
    let outgoing = AsyncSource::new(ends.outgoing, drop);
    let out = StreamReader::new(&mut host, ByteProducer::new(outgoing))?;
    let session = host.get().table.push(session)?;
    Ok((session, out))
}

/// A future that is already resolved with `error`.
fn failed<T>(
    host: &mut Access<T, WasioHost>,
    error: ErrorCode,
) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
    FutureReader::new(host, async move { wasmtime::error::Ok(Err(error)) })
}

impl<T> HostSessionWithStore<T> for WasioHost {
    fn client(
        host: Access<T, Self>,
        config: ClientConfig,
        ciphertext_in: StreamReader<u8>,
        received: Vec<u8>,
    ) -> Started {
        start(host, TlsSession::client(&config, received), ciphertext_in)
    }

    fn server(
        host: Access<T, Self>,
        config: ServerConfig,
        ciphertext_in: StreamReader<u8>,
        received: Vec<u8>,
    ) -> Started {
        start(host, TlsSession::server(&config, received), ciphertext_in)
    }

    async fn handshake(
        accessor: &Accessor<T, Self>,
        self_: Resource<TlsSession>,
        timeout: Option<u64>,
    ) -> Result<SessionInfo, HostError> {
        let handshake = accessor.with(|mut access| -> Result<_, HostError> {
            Ok(access.get().table.get_mut(&self_)?.take_handshake()?)
        })?;
        // Never hold the store across the wait.
        let (stream, info) = handshake.run(timeout.map(Duration::from_nanos)).await?;
        accessor.with(|mut access| -> Result<(), HostError> {
            access.get().table.get_mut(&self_)?.established(stream);
            Ok(())
        })?;
        Ok(info)
    }

    fn receive(
        mut host: Access<T, Self>,
        self_: Resource<TlsSession>,
    ) -> wasmtime::Result<(StreamReader<u8>, FutureReader<Result<(), ErrorCode>>)> {
        let reader = host.get().table.get_mut(&self_)?.take_reader();
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                let empty = StreamReader::new(&mut host, std::iter::empty())?;
                return Ok((empty, failed(&mut host, e)?));
            }
        };
        let (tx, rx) = oneshot::channel();
        let source = AsyncSource::new(reader, move |result| {
            let _ = tx.send(receive_outcome(result));
        });
        let stream = StreamReader::new(&mut host, ByteProducer::new(source))?;
        // The producer reports its end however it goes (a dropped stream is `Ok`).
        let done = FutureReader::new(&mut host, async move {
            wasmtime::error::Ok(rx.await.unwrap_or(Ok(())))
        })?;
        Ok((stream, done))
    }

    fn send(
        mut host: Access<T, Self>,
        self_: Resource<TlsSession>,
        mut data: StreamReader<u8>,
        shutdown_timeout: Option<u64>,
    ) -> wasmtime::Result<FutureReader<Result<(), ErrorCode>>> {
        let started = host
            .get()
            .table
            .get_mut(&self_)?
            .start_sending(shutdown_timeout.map(Duration::from_nanos));
        match started {
            Ok((cleartext_in, outcome)) => {
                data.pipe(&mut host, ByteConsumer::new(AsyncSink::new(cleartext_in)))?;
                FutureReader::new(&mut host, async move { wasmtime::error::Ok(outcome.await) })
            }
            Err(e) => {
                data.close(&mut host)?;
                failed(&mut host, e)
            }
        }
    }
}
