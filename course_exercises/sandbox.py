"""Autograding runs a student's code: the kernel that runs it cannot reach the instructor's files or the network.

nbgrader's ``autograde`` executes the submitted notebook in a Jupyter kernel started as the instructor: their
``HOME`` (``~/.kaggle/kaggle.json``), the network and a writable ``gradebook.db``. nbgrader's ``Execute`` step
stays as it is (same outputs, same grades), but :class:`IsolatedExecute` starts its kernel
(:class:`IsolatedKernelManager`) elsewhere:

- in a network namespace of its own (``unshare --net``): no interface but a loopback that is down, so no
  connection leaves, raw sockets included;
- as ``nobody`` (``setpriv``: no capabilities, no new privileges) when the grader runs as root. Without root
  it runs in a user namespace (``unshare --map-root-user``) with the instructor's user id, but every entry
  of their home folder is hidden under an empty mount (those on the way to the course checkout or Python
  stay, read-only), the checkout and the Python installation are read-only, nbgrader's course folder is
  hidden, and the kernel gives up every capability before it starts;
- with an environment built from scratch (``env -i``: no token passes) and a scratch ``HOME``, data folder
  and working folder (a copy of the submission's), deleted when the kernel shuts down.

The kernel talks to nbgrader through Unix sockets in the scratch folder (``transport = "ipc"``), not TCP on a
loopback that is down. nbgrader writes the gradebook in the instructor's process, after the run.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from course_exercises.grading import GradingError

#: What the kernel may see of the grader's environment (nbgrader's and the course's settings); nothing else.
PASSED_VARIABLES = ("COURSE_PROFILE", "COURSE_OFFLINE", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND",
                    "COURSE_SHARED_DATA_DIR", "NBGRADER_EXECUTION", "LANG", "LC_ALL", "TZ")
SANDBOX_USER = "nobody"
#: Scratch folders (environment variable: folder name) the kernel and the libraries it loads write in.
SCRATCH_FOLDERS = {"HOME": "home", "TMPDIR": "tmp", "COURSE_DATA_DIR": "data", "MPLCONFIGDIR": "mpl",
                   "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython"}


class SandboxError(GradingError):
    """The submission cannot be run isolated here (a tool missing, user namespaces switched off)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SandboxError(f"autograding runs each submission isolated with `{name}` (util-linux / coreutils), "
                           "which this machine lacks: install it (Debian/Ubuntu: apt-get install util-linux)")
    return path


def as_root() -> bool:
    """Whether the grader runs as root (then the kernel runs as ``nobody``)."""
    return os.geteuid() == 0


def _inside(path: Path, folders) -> bool:
    """Whether ``path`` is one of ``folders`` or on the way to one (so hiding it would hide them)."""
    return any(path == f or path in f.parents for f in folders)


class IsolatedKernelManager(AsyncKernelManager):
    """nbgrader's kernel, started isolated (see the module's docstring); set as ``Execute.kernel_manager_class``."""

    course_root = Unicode("", help="nbgrader's course folder: hidden from the kernel").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.scratch = Path(tempfile.mkdtemp(prefix="course-grading-")).resolve()
        self._remove_scratch = weakref.finalize(self, shutil.rmtree, str(self.scratch), True)
        for name in [*SCRATCH_FOLDERS.values(), "work"]:
            (self.scratch / name).mkdir()
        self.transport = "ipc"
        self.connection_file = str(self.scratch / "runtime" / "kernel.json")
        self.ip = str(self.scratch / "runtime" / "k")  # sockets k-<n>: Unix socket paths must stay short

    async def start_kernel(self, **kw):
        """Start it in a copy of the submission's folder (``cwd``), owned by the sandbox user."""
        source = Path(kw.get("cwd") or Path.cwd())
        work = self.scratch / "work"
        if source.is_dir():
            shutil.copytree(source, work, symlinks=True, dirs_exist_ok=True)
        kw["cwd"] = str(work)
        return await super().start_kernel(**kw)

    async def shutdown_kernel(self, now: bool = False, restart: bool = False):
        await super().shutdown_kernel(now=now, restart=restart)
        if not restart:
            self._remove_scratch()

    def _environment(self) -> list[str]:
        env = {key: os.environ[key] for key in PASSED_VARIABLES if key in os.environ}
        env.update((self.kernel_spec.env or {}) if self.kernel_spec is not None else {})
        env.update({key: str(self.scratch / name) for key, name in SCRATCH_FOLDERS.items()})
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
        env.setdefault("LANG", "C.UTF-8")
        return [f"{key}={value}" for key, value in sorted(env.items())]

    def _hand_over(self) -> None:
        """As root: the scratch folder (and the connection file in it) become the sandbox user's."""
        user = pwd.getpwnam(SANDBOX_USER)
        for folder, names, files in os.walk(self.scratch):
            for path in [folder, *(os.path.join(folder, n) for n in names + files)]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        """The kernel's command (after the connection file is written), wrapped to run isolated."""
        kernel = super().format_kernel_cmd(extra_arguments)
        unshare, setpriv, env = _tool("unshare"), _tool("setpriv"), _tool("env")
        drop = ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        plain = [env, "-i", *self._environment()]  # then setpriv runs the kernel itself (it can reach Python)
        if as_root():
            user = pwd.getpwnam(SANDBOX_USER)
            become = [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *drop]
            _check_runs(become, kernel[0])
            self._hand_over()
            return [unshare, "--net", *plain, *become, *kernel]
        job = {"home": str(Path.home()), "keep": [str(self.scratch)], "protect": _protected(),
               "hide": [str(Path(self.course_root).resolve())] if self.course_root else []}
        (self.scratch / "confine.json").write_text(json.dumps(job))
        return [unshare, "--map-root-user", "--net", "--mount", sys.executable, "-m", "course_exercises.sandbox",
                str(self.scratch / "confine.json"), *plain, setpriv, *drop, *kernel]


class IsolatedExecute(Execute):
    """nbgrader's ``Execute`` step (same settings, same outputs), with its kernel started isolated."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", IsolatedKernelManager)
        super().__init__(*args, **kwargs)


_RUNS: dict[tuple[str, ...], bool] = {}


def _check_runs(become: list[str], program: str) -> None:
    """:class:`SandboxError` unless the sandbox user can start ``program`` (Python installed where only
    root can read it cannot run a student's kernel as another user)."""
    key = (*become, program)
    if key not in _RUNS:
        _RUNS[key] = subprocess.run([*become, program, "-c", "pass"], capture_output=True, check=False).returncode == 0
    if not _RUNS[key]:
        raise SandboxError(f"the user {SANDBOX_USER!r} cannot run {program}, so a submission cannot run isolated: "
                           "install the course's Python environment where every user can read it "
                           "(e.g. a checkout outside /root, python3 -m venv from /usr/bin/python3)")


def _protected() -> list[str]:
    """What a run without root must not change: the course checkout and the Python installation."""
    from course_utils.setup.env import checkout_root

    paths = [checkout_root(), Path(sys.prefix), Path(sys.base_prefix)]
    return sorted({str(Path(p).resolve()) for p in paths if p is not None and Path(p).exists()})


# --------------------------------------------------------------------------- without root, in the namespaces
def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def confine(job: dict) -> None:
    """In our own user and mount namespaces: hide the home folder's entries (but those on the way to what the
    kernel needs), make the checkout and Python read-only, hide nbgrader's course folder."""
    protect = [Path(p) for p in job["protect"]]
    keep = protect + [Path(p) for p in job["keep"]]
    home = Path(job["home"])
    for entry in sorted(home.iterdir()) if home.is_dir() else []:
        entry = entry.resolve()  # a link: what it points to is hidden
        if _inside(entry, keep) or not entry.exists():
            continue
        if entry.is_dir():
            _mount("-t", "tmpfs", "-o", "ro,mode=0700,size=1k", "none", str(entry))
        elif entry.is_file():
            _mount("--bind", "/dev/null", str(entry))
    for path in protect:
        if not _inside(path, [Path(p) for p in job["keep"]]):
            _mount("--bind", str(path), str(path))
            _mount("-o", "remount,bind,ro", str(path))
    for path in job["hide"]:
        _mount("-t", "tmpfs", "-o", "ro,mode=0700,size=1k", "none", path)


def main(argv: list[str] | None = None) -> int:
    """``python -m course_exercises.sandbox JOB.json COMMAND ...``: confine, then become ``COMMAND``."""
    job, *command = argv if argv is not None else sys.argv[1:]
    confine(json.loads(Path(job).read_text()))
    os.execv(command[0], command)
    return 1


if __name__ == "__main__":
    sys.exit(main())
