"""A TCP relay that can black-hole its connections: the network failure a browser can't see.

When a route dies without a FIN or RST (a NAT drops the mapping, a laptop sleeps, a proxy
wedges), the socket stays "open" on both ends and data just stops. Only a heartbeat notices.
`cut()` makes the relay swallow everything on the connections it holds and hold new ones
unconnected; `heal()` lets new connections through again.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.servers import free_port


class Relay:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self.generation = 0
        self.healthy = threading.Event()
        self.healthy.set()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def cut(self) -> None:
        with self.lock:
            self.generation += 1
            self.healthy.clear()

    def heal(self) -> None:
        self.healthy.set()

    def close(self) -> None:
        self.closed = True
        self.healthy.set()
        with self.lock:
            for sock in [self.listener, *self.sockets]:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self.lock:
            self.sockets.append(client)
        self.healthy.wait()  # a cut route: the connection hangs, unanswered
        if self.closed:
            return
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self.lock:
            self.sockets.append(server)
            generation = self.generation
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(a, b, generation), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, generation: int) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            if generation != self.generation:
                continue  # black-holed: read and drop, never close
            try:
                dst.sendall(data)
            except OSError:
                return
