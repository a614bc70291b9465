//! `wasio:host/unix`: Unix domain sockets, served by [`crate::net::unix`] (which checks every
//! path against the run's `--allow-unix` grants). Each new socket takes a place in the run's
//! socket budget.

use wasmtime::component::{Accessor, Resource};
use wasmtime::error::Context as _;

use super::WasioHost;
use super::bindings::unix::{Host, HostWithStore};
use super::conv::HostError;
use super::types::socket_permit;
use crate::ctx::WasioHostView;
use crate::net::socket::HostSocket;
use crate::net::unix;

impl Host for WasioHostView<'_> {
    fn listen(&mut self, path: String, backlog: u32) -> Result<Resource<HostSocket>, HostError> {
        unix::check_form(&path)?;
        let permit = socket_permit(self)?;
        let (listener, file) = unix::listen(
            self.ctx.unix_grants(),
            self.ctx.denials(),
            self.ctx.sharing(),
            &path,
            backlog,
        )?;
        // Kept run-wide too, so the file goes however the run ends (see `socket_files`).
        let file = file.map(|file| self.ctx.socket_files().register(file));
        let socket = HostSocket::unix_listener(listener, &path, file);
        let resource = self.table.push(socket).context("pushing a Unix listener")?;
        self.ctx.hold_permit(resource.rep(), permit);
        Ok(resource)
    }

    fn socketpair(&mut self) -> Result<(Resource<HostSocket>, Resource<HostSocket>), HostError> {
        let permit_a = socket_permit(self)?;
        let permit_b = socket_permit(self)?;
        let (a, b) = unix::pair()?;
        let a = self.table.push(a).context("pushing a socketpair end")?;
        let b = self.table.push(b).context("pushing a socketpair end")?;
        self.ctx.hold_permit(a.rep(), permit_a);
        self.ctx.hold_permit(b.rep(), permit_b);
        Ok((a, b))
    }
}

impl<T> HostWithStore<T> for WasioHost {
    async fn connect(
        accessor: &Accessor<T, Self>,
        path: String,
    ) -> Result<Resource<HostSocket>, HostError> {
        // The socket file itself, held open (`None` for an abstract name), and the socket's place
        // under --max-connections.
        let (file, permit) = accessor.with(|mut access| {
            let view = access.get();
            let file = unix::check_connect(view.ctx.unix_grants(), view.ctx.denials(), &path)?;
            Ok::<_, HostError>((file, socket_permit(&view)?))
        })?;
        // Never hold the store across the wait.
        let socket = unix::connect(&path, file).await?;
        accessor.with(|mut access| {
            let view = access.get();
            let resource = view
                .table
                .push(socket)
                .context("pushing a Unix connection")?;
            view.ctx.hold_permit(resource.rep(), permit);
            Ok(resource)
        })
    }
}
