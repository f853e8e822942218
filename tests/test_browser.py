"""JupyterLab in a real browser: what a learner who types `make lab` gets.

`make lab` (the same target, with a free local port and a token) serves a copy
of lesson 01 in the quick profile, offline; a headless Chromium driven by
selenium opens it with the course kernel ("transfer-course", installed by the
Makefile), runs every cell through the Run menu, waits for the last one, and
checks that no cell shows an error. The screenshot goes to
``build/browser/lesson_01_run_all.png`` (``$COURSE_BUILD_DIR`` moves ``build/``).
All traffic stays on the loopback interface. Chromium and chromedriver come
from Debian (tools/ensure_chromium.sh, which `make test` runs first).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = "01_own_model_head_swap.ipynb"
COURSE_KERNEL = "transfer-course"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
]
# JupyterLab asks nothing of the internet: no news feed, no update check, no PyPI extension manager.
QUIET_LAB = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly"]


def _browser_and_driver() -> tuple[str, str]:
    browser = os.environ.get("COURSE_CHROMIUM") or next(
        (found for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
         if (found := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if not driver and os.environ.get("CHROMEWEBDRIVER"):
        driver = str(Path(os.environ["CHROMEWEBDRIVER"]) / "chromedriver")
    if not browser or not driver or not Path(driver).is_file():
        pytest.fail("the browser test needs Chromium and chromedriver: run `bash tools/ensure_chromium.sh` "
                    "(`make test` does it first)")
    return browser, driver


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _until(what: str, check, timeout: float, every: float = 0.25):
    """Poll ``check()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Lab:
    """`make lab` on 127.0.0.1:<port> with a token, serving ``folder``; stopped with its whole process group."""

    def __init__(self, folder: Path, state: Path, log: Path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                f"--LabServerApp.workspaces_dir={state / 'workspaces'}",
                f"--LabServerApp.user_settings_dir={state / 'settings'}", *QUIET_LAB]
        venv = Path(sys.prefix)
        environment = {**os.environ, "COURSE_PROFILE": "quick", "COURSE_OFFLINE": "1",
                       "JUPYTER_RUNTIME_DIR": str(state / "runtime")}
        self.log = log
        with open(log, "wb") as sink:
            # -o: never reinstall the environment from inside a test, even when pyproject.toml is newer
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "-o", str(venv / ".course-installed"), "lab",
                 f"VENV={venv}", f"LAB_DIR={folder}", "LAB_ARGS=" + " ".join(args)],
                cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)

    def api(self, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.url}{path}", method="POST" if body is not None else "GET",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def ready(self):
        if self.process.poll() is not None:
            pytest.fail(f"`make lab` exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
        try:
            return self.api("/api/status")
        except OSError:
            return None

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # make, jupyter lab and its kernels: the group we started
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


PROMPTS_JS = """
return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
  .map(cell => (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
"""
# What an error output shows in JupyterLab (IPython's traceback header); warnings on stderr do not match.
ERRORS_JS = """
return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell'))
  .map((cell, index) => [index, Array.from(cell.querySelectorAll('.jp-OutputArea-output'))
       .map(out => out.textContent).filter(text => text.includes('Traceback (most recent call last)'))])
  .filter(([index, errors]) => errors.length);
"""


def _click_menu(driver, menu: str, label: str):
    """Open a menu of JupyterLab's menu bar and click its item ``label``, as a person would."""
    from selenium.webdriver.common.by import By

    bar = _until(f"the {menu} menu", lambda: [item for item in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
                                               if item.text.strip() == menu], 30)
    bar[0].click()
    item = _until(f"{menu} > {label}", lambda: [
        item for item in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu li.lm-Menu-item:not(.lm-mod-disabled)")
        if item.text.strip().startswith(label)], 10)
    item[0].click()


@pytest.mark.notebooks
def test_make_lab_runs_lesson_01_in_chromium_with_the_course_kernel(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    started = time.monotonic()
    browser, chromedriver = _browser_and_driver()
    build = Path(os.environ.get("COURSE_BUILD_DIR") or ROOT / "build") / "browser"
    build.mkdir(parents=True, exist_ok=True)
    served = tmp_path / "notebooks"  # a copy: the run and its save never touch the committed notebook
    served.mkdir()
    shutil.copy(ROOT / "notebooks" / LESSON, served / LESSON)
    cells = sum(c["cell_type"] == "code" for c in json.loads((served / LESSON).read_text())["cells"])

    lab = Lab(served, tmp_path / "lab", build / "jupyter_lab.log")
    driver = None
    try:
        _until("`make lab` to answer on its port", lab.ready, 90)
        specs = lab.api("/api/kernelspecs")["kernelspecs"]
        assert COURSE_KERNEL in specs, f"the Makefile's course kernel is missing; kernels: {sorted(specs)}"
        display_name = specs[COURSE_KERNEL]["spec"]["display_name"]
        # the notebook opens on the session that holds the course kernel (as after Kernel > Change Kernel)
        lab.api("/api/sessions", {"path": LESSON, "name": LESSON, "type": "notebook",
                                  "kernel": {"name": COURSE_KERNEL}})

        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver,
                                                  log_output=str(build / "chromedriver.log")), options=options)
        driver.get(f"{lab.url}/lab/tree/{LESSON}?token={lab.token}")

        def kernel_shown():
            names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")]
            return display_name in names and len(driver.execute_script(PROMPTS_JS)) == cells

        _until(f"lesson 01 open, all {cells} code cells shown, on the kernel '{display_name}'", kernel_shown, 90)

        _click_menu(driver, "Run", "Run All Cells")
        _until("Run All to start", lambda: any("*" in p or re.match(r"\[\d+\]", p)
                                               for p in driver.execute_script(PROMPTS_JS)), 30)

        def all_ran():
            prompts = driver.execute_script(PROMPTS_JS)
            if driver.execute_script(ERRORS_JS):
                return True  # no point waiting: report the error below
            return all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts) and prompts
        _until("the last cell to finish", all_ran, 240, every=0.5)

        driver.execute_script("document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell:last-of-type')"
                              "?.scrollIntoView()")
        driver.save_screenshot(str(build / "lesson_01_run_all.png"))
        errors = driver.execute_script(ERRORS_JS)
        assert not errors, f"cells showing an error in JupyterLab: {errors}"
        prompts = driver.execute_script(PROMPTS_JS)
        assert len(prompts) == cells and sorted(int(p.strip()[1:-2]) for p in prompts) == list(range(1, cells + 1))

        # Save through the menu and read what JupyterLab wrote: no error output in any cell, course kernel
        _click_menu(driver, "File", "Save Notebook")

        def saved():
            nb = json.loads((served / LESSON).read_text())
            return nb if all(c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code") else None
        nb = _until("the notebook saved with its outputs", saved, 30)
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert outputs and not [o for o in outputs if o["output_type"] == "error"]
        assert nb["metadata"]["kernelspec"]["name"] == COURSE_KERNEL
        assert any("profile     : quick" in "".join(o.get("text", "")) for o in outputs)
    finally:
        if driver is not None:
            driver.quit()
        lab.stop()
    print(f"browser test: {time.monotonic() - started:.0f} s; screenshot {build / 'lesson_01_run_all.png'}")


def test_make_test_installs_the_browser_first_and_selenium_is_in_the_dev_extra():
    import tomllib

    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bchromium\b", makefile, re.M), "`make test` must bring Chromium before the tests"
    assert re.search(r"^chromium:\n\t.*tools/ensure_chromium\.sh", makefile, re.M)
    script = (ROOT / "tools" / "ensure_chromium.sh").read_text()
    assert "apt-get update" in script and "chromium chromium-driver" in script
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(d.startswith("selenium==") for d in dev)
