//! `wasio:host/unix`: Unix domain sockets, served by [`crate::net::unix`] (which checks every
//! path against the run's `--allow-unix` grants). Each new socket takes a place in the run's
//! socket budget.

use wasmtime::component::{Accessor, Resource};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::bindings::types::ErrorCode;
use super::bindings::unix::{Host, HostWithStore};
use super::types::socket_permit;
use crate::ctx::WasioHostView;
use crate::net::socket::HostSocket;
use crate::net::unix;

impl Host for WasioHostView<'_> {
    fn listen(
        &mut self,
        path: String,
        backlog: u32,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        if let Err(e) = unix::check_form(&path) {
            return Ok(Err(e.into()));
        }
        let permit = match socket_permit(self) {
            Ok(permit) => permit,
            Err(e) => return Ok(Err(e)),
        };
        let listened = unix::listen(
            self.ctx.unix_grants(),
            self.ctx.denials(),
            self.ctx.sharing(),
            &path,
            backlog,
        );
        let (listener, file) = match listened {
            Ok(listened) => listened,
            Err(e) => return Ok(Err(e.into())),
        };
        // Kept run-wide too, so the file goes however the run ends (see `socket_files`).
        let file = file.map(|file| self.ctx.socket_files().register(file));
        let socket = HostSocket::unix_listener(listener, &path, file);
        let resource = self.table.push(socket).context("pushing a Unix listener")?;
        self.ctx.hold_permit(resource.rep(), permit);
        Ok(Ok(resource))
    }

    fn socketpair(
        &mut self,
    ) -> wasmtime::Result<Result<(Resource<HostSocket>, Resource<HostSocket>), ErrorCode>> {
        let permits = socket_permit(self).and_then(|a| Ok((a, socket_permit(self)?)));
        let (permit_a, permit_b) = match permits {
            Ok(permits) => permits,
            Err(e) => return Ok(Err(e)),
        };
        let (a, b) = match unix::pair() {
            Ok(pair) => pair,
            Err(e) => return Ok(Err(e.into())),
        };
        let a = self.table.push(a).context("pushing a socketpair end")?;
        let b = self.table.push(b).context("pushing a socketpair end")?;
        self.ctx.hold_permit(a.rep(), permit_a);
        self.ctx.hold_permit(b.rep(), permit_b);
        Ok(Ok((a, b)))
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn connect(
        accessor: &Accessor<T, Self>,
        path: String,
    ) -> wasmtime::Result<Result<Resource<HostSocket>, ErrorCode>> {
        // The socket file itself, held open (`None` for an abstract name), and the socket's place
        // under --max-connections.
        let checked = accessor.with(|mut access| {
            let view = access.get();
            let file = unix::check_connect(view.ctx.unix_grants(), view.ctx.denials(), &path)?;
            Ok::<_, ErrorCode>((file, socket_permit(&view)?))
        });
        let (file, permit) = match checked {
            Ok(checked) => checked,
            Err(e) => return Ok(Err(e)),
        };
        // Never hold the store across the wait.
        let socket = match unix::connect(&path, file).await {
            Ok(socket) => socket,
            Err(e) => return Ok(Err(e.into())),
        };
        accessor.with(|mut access| {
            let view = access.get();
            let resource = view
                .table
                .push(socket)
                .context("pushing a Unix connection")?;
            view.ctx.hold_permit(resource.rep(), permit);
            Ok(Ok(resource))
        })
    }
}
