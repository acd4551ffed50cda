"""The store PC's kiosk session, as close to the store as this machine allows: the kiosk unit's own
ExecStart line (deploy/kiosk-session: cage, the kiosk its only client on Qt's Wayland platform),
run as the unprivileged 'signage' user, judged from the pixels grim takes of cage's output.

Where it differs from a store PC: no systemd here (the unit itself is checked by systemd-analyze),
and cage's output is a window on an Xvfb screen (wlroots' x11 backend) instead of a monitor. Not
the headless backend: with Debian's cage 0.1.4 (wlroots 0.15) every output commit there fails its
basic test, so after the first frame the output never changes (measured: a Qt window turned from
red to blue stays a red 640x480 corner), which no store would see.

SIGNAGE_SESSION_SHOTS=DIR keeps the screenshots (deploy/screenshots.sh: docs/screenshots/)."""
from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from edge.config import BrandConfig

USER = "signage"
TOOLS = ("cage", "grim", "Xvfb", "xdotool", "xwininfo", "runuser")
UNIT = ROOT / "deploy" / "systemd" / "signage-kiosk.service"
# brand.accent_color's default (the test's config sets no brand): the chosen mode's button, prices
ACCENT = tuple(int(BrandConfig().accent_color[i:i + 2], 16) for i in (1, 3, 5))


def _needs():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root (to run the session as the 'signage' user)")
    if missing:
        if os.environ.get("SIGNAGE_TEST_ALL") == "1":
            pytest.fail(f"the kiosk session test needs {', '.join(missing)} (deploy/install.sh installs the tools)")
        pytest.skip(f"needs {', '.join(missing)}")
    try:
        pwd.getpwnam(USER)
    except KeyError:          # as install.sh --system makes it on a store PC
        subprocess.run(["useradd", "--system", "--home-dir", "/var/lib/signage", "--shell", "/usr/sbin/nologin",
                        "--groups", "video", USER], check=True)


def as_user(*cmd, env=None):
    env = {"PATH": "/usr/bin:/bin", **(env or {})}
    return ["runuser", "-u", USER, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *cmd]


def unit_command(code: Path, config: Path) -> tuple[list[str], Path, dict]:
    """The unit's ExecStart, WorkingDirectory and Environment, with the paths install.sh writes."""
    text = UNIT.read_text().replace("/opt/signage", str(code)).replace("/etc/signage/signage.yaml", str(config))
    field = lambda k: re.search(rf"^{k}=(.*)$", text, re.M).group(1)        # noqa: E731
    env = dict(e.split("=", 1) for e in re.findall(r"^Environment=(.*)$", text, re.M))
    return field("ExecStart").split(), Path(field("WorkingDirectory")), env


def store_code(tmp: Path) -> Path:
    """The code as the 'signage' user can reach it: this checkout if it can, else a copy of it
    (hard links: instant) where it can (CI's clone may lie under /root, mode 0700)."""
    probe = subprocess.run(as_user(str(ROOT / ".venv" / "bin" / "python"), "-c", "import openvino, PySide6"),
                           cwd="/", capture_output=True)
    if probe.returncode == 0:
        return ROOT
    code = tmp / "opt" / "signage"
    code.mkdir(parents=True)
    for sub in [p for p in ROOT.iterdir() if p.name not in (".git", "var")]:
        if subprocess.run(["cp", "-al", str(sub), str(code / sub.name)], capture_output=True).returncode != 0:
            subprocess.run(["cp", "-a", str(sub), str(code / sub.name)], check=True)      # another file system
    return code


class Session:
    """cage and the kiosk as the unit starts them, on an Xvfb screen of the given size."""

    def __init__(self, tmp: Path, demo_catalog: Path, size=(1920, 1080), rotate=0):
        self.tmp, self.size = tmp, size
        uid = pwd.getpwnam(USER).pw_uid
        self.xdg = tmp / "xdg"
        data = tmp / "data"
        self.xdg.mkdir(mode=0o700)
        data.mkdir()
        shutil.copytree(demo_catalog, data / "catalog")
        self.code = store_code(tmp)
        self.config = tmp / "signage.yaml"
        # no camera plugged in yet: the kiosk retries it while the attract loop shows
        self.write_config(source="/dev/video63", rotate=rotate)
        subprocess.run(["chown", "-R", f"{uid}", str(self.xdg), str(data)], check=True)
        os.chmod(tmp, 0o755)
        self.xvfb = subprocess.Popen(as_user("Xvfb", "-displayfd", "1", "-screen", "0", f"{size[0]}x{size[1]}x24",
                                             "-nolisten", "tcp"), stdout=subprocess.PIPE, cwd="/")
        self.display = ":" + self.xvfb.stdout.readline().decode().strip()
        self.log = open(tmp / "session.log", "wb")
        self.env = {"HOME": str(data), "XDG_RUNTIME_DIR": str(self.xdg), "DISPLAY": self.display,
                    "WLR_BACKENDS": "x11", "WLR_RENDERER": "pixman", "WLR_LIBINPUT_NO_DEVICES": "1"}
        self.start()

    def start(self) -> None:
        """The unit's ExecStart, as systemd runs it at boot and again after the session ended."""
        argv, workdir, unit_env = unit_command(self.code, self.config)
        self.proc = subprocess.Popen(as_user(*argv, env={**self.env, **unit_env}), cwd=workdir,
                                     stdout=self.log, stderr=self.log)
        self.fit_output()

    def write_config(self, source: Path | str, rotate: int, language: str = "en") -> None:
        data = self.tmp / "data"
        self.config.write_text(
            f"models_dir: {self.code / 'models'}\ncatalog_dir: {data / 'catalog'}\nmodel_cache: {data / 'model-cache'}\n"
            f"kiosk:\n  source: {source}\n  rotate: {rotate}\n  language: {language}\n"
            f"  staff_pin_file: {data / 'staff-pin'}\n")
        os.chmod(self.config, 0o644)

    def fit_output(self) -> None:
        """cage's output window, made the size of the screen (no window manager here does it)."""
        x = lambda *c: subprocess.run(as_user(*c, env={"DISPLAY": self.display}), capture_output=True, text=True, cwd="/")  # noqa: E731
        end = time.monotonic() + 30
        while time.monotonic() < end:
            found = re.findall(r"^\s+(0x[0-9a-f]+) .*\b\d+x\d+\+0\+0", x("xwininfo", "-root", "-children").stdout, re.M)
            if found:
                x("xdotool", "windowsize", found[0], str(self.size[0]), str(self.size[1]))
                return
            time.sleep(0.2)
        raise AssertionError(f"cage opened no output window: {self.output()}")

    def shot(self) -> np.ndarray:
        import cv2
        path = self.xdg / "shot.png"
        subprocess.run(as_user("grim", str(path), env={"XDG_RUNTIME_DIR": str(self.xdg), "WAYLAND_DISPLAY": "wayland-0"}),
                       check=True, capture_output=True, cwd="/")
        img = cv2.imread(str(path))
        path.unlink()
        return img

    def wait_for(self, what, timeout: float, keep: str | None = None) -> np.ndarray:
        """The first screenshot that shows `what`; with SIGNAGE_SESSION_SHOTS that one is kept as
        `keep` (for docs/: half size is enough)."""
        import cv2
        t0, img = time.monotonic(), None
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"the session ended ({self.proc.returncode}): {self.output()}")
            img = self.shot()
            if what(img):
                if keep and os.environ.get("SIGNAGE_SESSION_SHOTS"):
                    cv2.imwrite(str(Path(os.environ["SIGNAGE_SESSION_SHOTS"]) / keep),
                                cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA))
                return img
            time.sleep(0.3)
        if img is not None and os.environ.get("SIGNAGE_SESSION_SHOTS"):
            import cv2
            cv2.imwrite(str(Path(os.environ["SIGNAGE_SESSION_SHOTS"]) / "session-failed.png"), img)
        seen = None if img is None else {"shape": img.shape, "black bands": black_bands(img),
                                         "white": round(white_share(img), 4), "button px": chosen_button(img)}
        raise AssertionError(f"not on screen within {timeout} s: {what.__doc__}; the screen: {seen} "
                             f"({self.output()[-800:]})")

    def kill_kiosk(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", USER, "-f", "signage.cli"], check=True)

    def restart_kiosk(self, source, rotate: int, language: str, shows, keep: str) -> float:
        """New settings, the kiosk killed: the session starts it again with them. Seconds until
        the output is filled again."""
        self.write_config(source, rotate, language)
        t0 = time.monotonic()
        self.kill_kiosk()
        self.wait_for(lambda im: not fills(im), 5)          # cage: no client, nothing on the output
        self.wait_for(fills, 10 - (time.monotonic() - t0))
        back = time.monotonic() - t0
        self.wait_for(shows, 90, keep=keep)
        return back

    def kiosks(self) -> list[str]:
        return subprocess.run(["pgrep", "-u", USER, "-f", "signage.cli"], capture_output=True, text=True).stdout.split()

    def output(self) -> str:
        self.log.flush()
        return (self.tmp / "session.log").read_text(errors="replace")

    def close(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", USER, "-f", "kiosk-session|signage.cli|cage"], capture_output=True)
        for p in (self.proc, self.xvfb):
            p.kill()
            p.wait(10)
        subprocess.run(["pkill", "-KILL", "-u", USER, "-x", "Xvfb"], capture_output=True)
        self.log.close()


# ---- what the pixels say ---------------------------------------------------------------------------
def black_bands(img: np.ndarray) -> dict:
    """Rows or columns of nothing at each edge (a window that does not fill the output)."""
    dark = img.max(axis=2) < 12
    out = {}
    for side, lines in (("top", dark), ("bottom", dark[::-1]), ("left", dark.T), ("right", dark.T[::-1])):
        full = lines.mean(axis=1) > 0.98
        out[side] = int(np.argmin(full)) if not full.all() else len(full)
    return out


def fills(img) -> bool:
    """the kiosk filling the output (no black band at any edge)"""
    return all(v == 0 for v in black_bands(img).values())


def accent_mask(img) -> np.ndarray:
    b, g, r = (img[..., k].astype(int) for k in range(3))
    return (abs(r - ACCENT[0]) < 25) & (abs(g - ACCENT[1]) < 25) & (abs(b - ACCENT[2]) < 25)


def chosen_button(img) -> int:
    """Area in px of the largest solid accent rectangle: the chosen mode's button (prices, also in
    the accent colour, are thin glyphs)."""
    import cv2
    n, _, stats, _ = cv2.connectedComponentsWithStats(accent_mask(img).astype(np.uint8), connectivity=4)
    solid = [a for x, y, w, h, a in stats[1:] if a >= 0.8 * w * h]
    return int(max(solid, default=0))


def white_share(img) -> float:
    return float((img.min(axis=2) > 240).mean())


def attract(img) -> bool:
    """the attract loop: product cards (white) over the screen, no mode button chosen"""
    return fills(img) and white_share(img) > 0.15 and chosen_button(img) < 5000


def find_similar(img) -> bool:
    """find similar: the chosen mode's button and product cards beside the camera view"""
    return fills(img) and chosen_button(img) >= 5000 and white_share(img) > 0.08


# ---- the tests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("size,rotate,name", [((1920, 1080), 0, "landscape"), ((1920, 1080), 90, "portrait")])
def test_the_kiosk_session_fills_the_screen_and_comes_back_when_killed(demo_catalog, size, rotate, name):
    _needs()
    with tempfile.TemporaryDirectory(prefix="kiosk-session-") as tmp:
        s = Session(Path(tmp), demo_catalog, size, rotate)
        try:
            img = s.wait_for(attract, 120, keep=f"session-{name}-attract.png")
            want = size if rotate % 180 == 0 else size[::-1]
            assert (img.shape[1], img.shape[0]) == want, "the output turned as kiosk.rotate says"
            assert black_bands(img) == {"top": 0, "bottom": 0, "left": 0, "right": 0}
            # the camera now sees the demo video; the session starts the killed kiosk again with it
            demo = s.code / "demo" / "demo.avi"
            back = s.restart_kiosk(demo, rotate, "en", find_similar, f"session-{name}-find-similar.png")
            assert back <= 10, "the killed kiosk is back on screen within 10 s"
            print(f"{name}: killed kiosk back on screen in {back:.1f} s")
            # the same screens in Simplified Chinese (the words: tests/ui/test_i18n.py)
            s.restart_kiosk(demo, rotate, "zh_CN", find_similar, f"session-{name}-find-similar-zh_CN.png")
            s.restart_kiosk("/dev/video63", rotate, "zh_CN", attract, f"session-{name}-attract-zh_CN.png")
            if rotate == 0:
                compositor_killed(s)
        finally:
            s.close()


def compositor_killed(s: Session) -> None:
    """cage killed: the session ends and takes the kiosk with it (no orphan holding the camera);
    started again (systemd's Restart=always), the kiosk is back on screen."""
    subprocess.run(["pkill", "-KILL", "-u", USER, "-x", "cage"], check=True)
    s.proc.wait(10)
    end = time.monotonic() + 10
    while s.kiosks() and time.monotonic() < end:
        time.sleep(0.2)
    assert s.kiosks() == [], "a kiosk left running without its compositor"
    t0 = time.monotonic()
    s.start()
    s.wait_for(attract, 60)
    print(f"compositor killed: session started again, attract loop on screen in {time.monotonic() - t0:.1f} s")
