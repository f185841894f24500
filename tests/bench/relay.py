"""A byte-counting TCP relay for tests/bench/bench.py: what an agent sends its collector, in bytes.

The agent is configured with the relay's port as its collector; every connection it opens is
forwarded to the real collector and the bytes are counted each way. CURVE keeps them opaque, which
is fine: only their number matters. A byte is counted before it is forwarded, so whatever the
collector has acted on has been counted. Python 3 standard library only.
"""

import socket
import threading


class Relay:
    """Listens on 127.0.0.1 at a free port (self.port) and forwards to 127.0.0.1:target_port."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lock = threading.Lock()
        self.counts = {"sent": 0, "received": 0}  # sent: client to target; received: back
        self.socks = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def sent(self):
        """Bytes the clients (the agent) sent towards the target so far."""
        with self.lock:
            return self.counts["sent"]

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the collector is not listening (yet): ZeroMQ connects again
                continue
            with self.lock:
                self.socks += [client, upstream]
            for src, dst, way in ((client, upstream, "sent"), (upstream, client, "received")):
                threading.Thread(target=self._pump, args=(src, dst, way), daemon=True).start()

    def _pump(self, src, dst, way):
        try:
            while data := src.recv(65536):
                with self.lock:
                    self.counts[way] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        # One side closed: close the other, as a direct connection would see it.
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        for s in [self.listener] + self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
