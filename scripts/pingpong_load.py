"""Ping-pong load for scripts/instructions-per-request.sh: CONNS connections to 127.0.0.1:PORT,
each sending SIZE bytes and reading them back REQUESTS times (blocking sockets, one thread per
connection, TCP_NODELAY). Prints the requests per second it saw."""

import socket
import sys
import threading
import time


def main() -> None:
    port, conns, requests, size = (int(a) for a in sys.argv[1:5])
    message = b"x" * size

    failed = []

    def run() -> None:
        try:
            exchange()
        except OSError as e:
            failed.append(e)

    def exchange() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for _ in range(requests):
                s.sendall(message)
                got = 0
                while got < size:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise ConnectionError("the server closed the connection")
                    got += len(chunk)

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise SystemExit(f"pingpong_load: {failed[0]}")
    print(f"{conns * requests / (time.monotonic() - started):.0f} requests/s")


if __name__ == "__main__":
    main()
