"""`deploy/install.sh --system` for a store PC, as far as a CI machine allows: into a folder taken as
/ (--root), where no user is created and systemctl is not run, and then checked for real: the
config loads, the units verify and point at what exists, the staff PIN is set and only hashed, the
store's broker starts from the written config and takes the store's credentials."""
import getpass
import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None, reason="deploy/install.sh installs mosquitto")


def install(dest: Path, *extra: str) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", str(ROOT / "deploy" / "install.sh"), "--system", "--root", str(dest), *extra],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return res


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_system_install_into_a_root(tmp_path):
    from edge.config import load_config
    from edge.staff import pin_matches
    dest = tmp_path / "root"
    first = install(dest, "--store", "s042", "--catalog", "maison")
    etc = dest / "etc" / "signage"
    cfg = load_config(etc / "signage.yaml")
    assert cfg.sync.store_id == "s042" and cfg.sync.catalog_id == "maison"
    assert cfg.catalog_dir == dest / "var" / "lib" / "signage" / "catalog" and cfg.catalog_dir.is_dir()
    assert cfg.kiosk.source == "0" and cfg.kiosk.fullscreen
    # the models compiled for this CPU at install, where the kiosk may write (ReadWritePaths)
    assert cfg.model_cache == dest / "var" / "lib" / "signage" / "model-cache"
    assert "compiled detector, pose, embedder" in first.stdout and any(cfg.model_cache.glob("*.blob"))
    # the PIN: printed once, kept only as a hash, readable by its owner only
    pin = re.search(r"staff PIN: (\d{6})", first.stdout).group(1)
    record = json.loads((etc / "staff-pin").read_text())
    assert pin not in (etc / "staff-pin").read_text() and pin_matches(record, pin)
    assert oct((etc / "staff-pin").stat().st_mode & 0o777) == "0o600"
    # the units run this code with this config, and systemd accepts them
    units = dest / "etc" / "systemd" / "system"
    for name in ("signage-kiosk.service", "signage-sync.service"):
        text = (units / name).read_text()
        exe = Path(re.search(r"^ExecStart=(\S+)", text, re.M).group(1))
        assert exe.is_file() and exe.stat().st_mode & 0o111, exe
        assert f"SIGNAGE_CONFIG={etc / 'signage.yaml'}" in text and "/opt/signage" not in text
    # the kiosk: cage on tty1 through its own PAM service, the session script of this code
    kiosk = (units / "signage-kiosk.service").read_text()
    assert "PAMName=signage-kiosk" in kiosk and (dest / "etc" / "pam.d" / "signage-kiosk").is_file()
    assert f"ExecStart={ROOT}/deploy/kiosk-session {etc / 'signage.yaml'}" in kiosk
    if shutil.which("systemd-analyze"):
        v = subprocess.run(["systemd-analyze", "verify", *map(str, sorted(units.glob("*.service")))],
                           capture_output=True, text=True)
        assert v.returncode == 0, v.stderr
    # the store's broker: Debian's main config (persistence, conf.d) plus what was written
    mq = dest / "etc" / "mosquitto"
    port = free_port()
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    (conf_d / "signage-store.conf").write_text((mq / "conf.d" / "signage-store.conf").read_text()
                                               .replace("listener 1883 ", f"listener {port} "))
    (tmp_path / "main.conf").write_text(f"persistence true\npersistence_location {tmp_path}/\n"
                                        f"include_dir {conf_d}\nuser {getpass.getuser()}\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "main.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and broker.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        assert broker.poll() is None, broker.stderr.read()
        results = {}
        for who, password in (("s042", (etc / "broker.password").read_text().strip()), ("s042", "wrong")):
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            c.username_pw_set(who, password)
            c.on_connect = lambda cl, u, f, rc, p, pw=password: results.setdefault(pw, rc)
            c.connect("127.0.0.1", port)
            c.loop_start()
            end = time.monotonic() + 5
            while password not in results and time.monotonic() < end:
                time.sleep(0.05)
            c.loop_stop()
            c.disconnect()
        assert not results[(etc / "broker.password").read_text().strip()].is_failure
        assert results["wrong"].is_failure
    finally:
        broker.terminate()
        broker.wait(5)
    # a second run keeps what is configured and prints no new PIN
    before = {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    again = install(dest, "--store", "s042", "--catalog", "maison")
    assert "staff PIN:" not in again.stdout and "kept" in again.stdout
    assert {p: p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before


def test_system_install_bridges_to_head_office(tmp_path):
    dest = tmp_path / "root"
    install(dest, "--store", "s042", "--catalog", "maison", "--hq", "hq.example.net:8883,hq2.example.net:8883")
    conf = (dest / "etc" / "mosquitto" / "conf.d" / "signage-store.conf").read_text()
    # head office's primary broker first, its standby next: Mosquitto's bridge failover
    assert "\naddress hq.example.net:8883 hq2.example.net:8883\n" in conf and "remote_username s042" in conf
    assert "\nround_robin false\n" in conf and "notification_topic signage/maison/s042/bridge" in conf
    assert "topic signage/maison/s042/delta/# in 1" in conf and "STORE_ID" not in conf and "CATALOG" not in conf
    assert f"bridge_certfile {dest}/etc/mosquitto/certs/s042.crt" in conf
    # mosquitto takes no comment after a value: every comment is on its own line
    assert not [line for line in conf.splitlines() if "#" in line and not line.startswith("#")
                and not line.startswith("topic ")]
