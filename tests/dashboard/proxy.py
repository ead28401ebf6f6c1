"""A loopback TCP relay the tests can cut: a dropped network, as a page sees one."""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """Forwards ``127.0.0.1:<port>`` to ``target_port``; ``drop`` closes every open
    connection at once (new ones are taken as before)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.n_dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def drop(self) -> int:
        """Cut every connection open now; returns how many sockets were cut."""
        with self.lock:
            cut = list(self.open)
        for sock in cut:
            self._close(sock)
        self.n_dropped += len(cut)
        return len(cut)

    def close(self) -> None:
        self.server.close()
        self.drop()
