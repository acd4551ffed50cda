"""A real Mosquitto broker on a free loopback port, for tests, benchmarks and the fleet simulator.

It uses the production ACL (deploy/mosquitto/acl) and a password file made with mosquitto_passwd,
so what the tests prove about who may publish what holds for the deployed broker too.
"""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, folder: Path, users: dict[str, str], port: int | None = None, extra: str = "",
                 tls: dict | None = None):
        """tls: {"ca", "cert", "key"} paths: a second listener (tls_port) that requires a client
        certificate signed by that CA, as deploy/mosquitto/mosquitto.conf does in production."""
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: run deploy/install.sh (Debian package 'mosquitto')")
        self.dir = Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.users = users
        self.port = port or free_port()
        self.extra = extra
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.proc: subprocess.Popen | None = None
        self._write_files()

    def _write_files(self) -> None:
        passwd = self.dir / "passwd"
        passwd.unlink(missing_ok=True)
        passwd.touch()
        # one mosquitto_passwd for all (-U hashes a file of user:password lines in place): a
        # thousand simulated stores are a thousand users
        passwd.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))
        subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)
        shutil.copy(DEPLOY / "acl", self.dir / "acl")
        conf = (DEPLOY / "test.conf.template").read_text().format(
            passwd=passwd, acl=self.dir / "acl", port=self.port, data=self.dir)
        # Started as root, mosquitto drops to the 'mosquitto' user and then cannot write its
        # persistence into our folder: tell it to stay the user that started it.
        conf += f"\nuser {getpass.getuser()}\n" + self.extra
        if self.tls:
            conf += (f"\nlistener {self.tls_port} 127.0.0.1\ncafile {self.tls['ca']}\ncertfile {self.tls['cert']}\n"
                     f"keyfile {self.tls['key']}\nrequire_certificate true\ntls_version tlsv1.2\n")
        (self.dir / "mosquitto.conf").write_text(conf)
        for f in ("passwd", "acl"):
            os.chmod(self.dir / f, 0o600)

    def start(self, timeout: float = 10.0) -> "Broker":
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "ab"))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.dir / 'stderr.log').read_text()[-1000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def reconfigure(self, extra: str) -> None:
        """Restart with other extra config (e.g. without its bridge: the store's uplink cut)."""
        self.stop()
        self.extra = extra
        self._write_files()
        self.start()

    def restart(self, kill: bool = False) -> None:
        self.stop(kill)
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
