"""Headless Chromium for the web app's tests: Debian's ``chromium`` driven through Debian's
``chromium-driver`` (the same build, so the two always match) with Selenium's WebDriver client.

``make test`` installs both packages when they are missing. Screenshots go to pytest's temporary
directory and are copied to ``test-output/webapp/`` (or ``$IMAGEPIPE_TEST_OUTPUT/webapp``), which
CI keeps.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The closed network refuses Chromium's own background connections; these flags stop it trying.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
)


def missing() -> str | None:
    """Why the browser cannot start here, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return f"{path} is missing: `make test` installs Debian's {package} (apt-get install chromium chromium-driver)"
    return None


def start_chromium(profile_dir: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # With both paths given, Selenium never runs its manager (which would try to download a driver).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


_taken = itertools.count(1)  # numbered across the session, so the kept folder reads in order
_emptied: set[Path] = set()


def output_dir() -> Path:
    """The kept folder, emptied of an earlier run's screenshots the first time it is used."""
    base = Path(os.environ.get("IMAGEPIPE_TEST_OUTPUT") or REPO / "test-output")
    folder = base / "webapp"
    if folder not in _emptied:
        shutil.rmtree(folder, ignore_errors=True)
        _emptied.add(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Screenshots:
    """Saves PNGs in ``tmp`` and copies each to the kept test output; remembers every path."""

    def __init__(self, driver: webdriver.Chrome, tmp: Path) -> None:
        self.driver = driver
        self.tmp = tmp
        self.kept = output_dir()
        self.paths: list[Path] = []

    def take(self, name: str) -> Path:
        self.driver.execute_script("document.activeElement && document.activeElement.blur && document.activeElement.blur()")
        path = self.tmp / f"{next(_taken):02d}-{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot {name}"
        shutil.copy2(path, self.kept / path.name)
        self.paths.append(path)
        return path


def fresh_profile() -> Path:
    return Path(tempfile.mkdtemp(prefix="imagepipe-chromium-"))
