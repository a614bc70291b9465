//! The asyncio docs' "Register an open socket to wait for data using streams" example as a wasio
//! app component:
//!
//! ```python
//! rsock, wsock = socket.socketpair()
//! reader, writer = await asyncio.open_connection(sock=rsock)
//! loop.call_soon(wsock.send, 'abc'.encode())
//! data = await reader.read(100)
//! print("Received:", data.decode())
//! writer.close()
//! await writer.wait_closed()
//! wsock.close()
//! ```
//!
//! The socket pair comes from the host (`wasio_sdk::socketpair`); both ends are ordinary
//! connections. It prints `Received: abc`.

wasio_sdk::main!(wait_for_data);

async fn wait_for_data() -> wasio_sdk::Result<()> {
    let ((mut reader, writer), (_wreader, wwriter)) = wasio_sdk::socketpair().await?;

    // loop.call_soon(wsock.send, 'abc'.encode()): the write is queued and sent in the background.
    wwriter.write(b"abc")?;

    let data = reader.read(100).await?;
    println!("Received: {}", String::from_utf8_lossy(&data));

    writer.close();
    writer.wait_closed().await?;
    wwriter.close();
    wwriter.wait_closed().await
}
