"""Many paho clients on one thread, through an epoll selector instead of paho's own select().

paho's loop_start() thread uses select(), which cannot watch a file descriptor numbered above
1,024: a simulator with a few hundred stores in one process stalls there (docs/fleet.md). paho
supports an external loop (its on_socket_* callbacks say when a socket opens, closes, or has
something to write); this drives every client with `selectors.DefaultSelector` (epoll), which
has no such limit. Used by the fleet simulator only; a store runs its one client with paho's loop.
"""
from __future__ import annotations

import selectors
import threading
import time

import paho.mqtt.client as mqtt


class ClientLoop(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.clients: list[mqtt.Client] = []
        self._lock = threading.Lock()
        self._halt = threading.Event()
        # a client with standbys: its addresses (the primary first), the one it is on, how it connects
        self.addresses: dict[int, tuple[list[tuple[str, int]], int, dict]] = {}

    def add(self, client: mqtt.Client, host: str, port: int, standbys: list[tuple[str, int]] = (), **connect) -> None:
        """Connect the client (blocking TCP connect) and drive it from this loop from now on. With
        standbys it does what a store bridge with several addresses does: when the one it is on
        cannot be reached it tries the next."""
        client.on_socket_open = self._open
        client.on_socket_close = self._close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._no_write
        with self._lock:
            self.clients.append(client)
            if standbys:
                self.addresses[id(client)] = ([(host, port), *standbys], 0, connect)
        client.connect(host, port, **connect)

    def _reconnect(self, client: mqtt.Client) -> None:
        try:
            client.reconnect()
            return
        except OSError:
            pass
        if id(client) not in self.addresses:
            return
        addresses, k, connect = self.addresses[id(client)]
        k = (k + 1) % len(addresses)
        self.addresses[id(client)] = (addresses, k, connect)
        try:
            client.connect(*addresses[k], **connect)
        except OSError:
            pass

    def _open(self, client, userdata, sock):
        with self._lock:
            self.sel.register(sock, selectors.EVENT_READ, client)

    def _close(self, client, userdata, sock):
        with self._lock:
            try:
                self.sel.unregister(sock)
            except (KeyError, ValueError):
                pass

    def _want_write(self, client, userdata, sock):
        with self._lock:
            try:
                self.sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
            except (KeyError, ValueError):
                pass

    def _no_write(self, client, userdata, sock):
        with self._lock:
            try:
                self.sel.modify(sock, selectors.EVENT_READ, client)
            except (KeyError, ValueError):
                pass

    def run(self) -> None:
        next_misc = time.monotonic() + 1.0
        while not self._halt.is_set():
            for key, mask in self.sel.select(timeout=0.2):      # epoll waits even with nothing registered
                client = key.data
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            if time.monotonic() >= next_misc:      # keepalive pings, and a reconnect where one dropped
                next_misc = time.monotonic() + 1.0
                for client in list(self.clients):
                    if client.loop_misc() == mqtt.MQTT_ERR_NO_CONN and not self._halt.is_set():
                        self._reconnect(client)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)
