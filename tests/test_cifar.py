"""course_utils.data.cifar: load (the real path on a small archive built here, the stand-in), statistics, the pipeline.

No test reaches the network: downloads come from a local HTTP server. The real path never calls Keras:
the course unpacks the verified archive itself (staged, locked, checked by content), so these tests also
show what an interrupt, a kill, a damaged or hostile archive and a classroom's shared copy do.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import io
import os
import pickle
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from course_utils.data import cifar
from course_utils.errors import CourseError
from course_utils.setup import classroom, files

PER_BATCH = 10_000  # a CIFAR-10 batch file holds exactly this many images
ROOT = Path(__file__).resolve().parent.parent


def _batch(first_red: int, labels: np.ndarray) -> dict:
    planes = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)  # CIFAR stores channels first
    planes[:, 0] = labels[:, None, None]  # red = label
    planes[:, 1] = 100
    planes[:, 2] = 200
    planes[0, 0, 0, 0] = first_red
    return {b"data": planes.reshape(len(labels), -1), b"labels": labels.tolist()}


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz holding ``members`` (name: bytes), in that order."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def batch_files() -> dict[str, bytes]:
    """The six batch files of a fake CIFAR-10 with recognisable pixels, by name."""
    rng = np.random.default_rng(0)
    found = {f"data_batch_{i}": pickle.dumps(_batch(7 + i, rng.integers(0, 10, PER_BATCH).astype(np.uint8)))
             for i in range(1, 6)}
    found["test_batch"] = pickle.dumps(_batch(99, np.arange(PER_BATCH, dtype=np.uint8) % 10))
    return found


def members(batches: dict[str, bytes]) -> dict[str, bytes]:
    return {"cifar-10-batches-py/readme.html": b"<p>fake</p>",
            **{f"cifar-10-batches-py/{name}": data for name, data in batches.items()}}


@pytest.fixture(scope="module")
def fake_archive(tmp_path_factory, batch_files) -> Path:
    """A cifar-10-python.tar.gz in the real layout (about 1 MB)."""
    return make_tar(tmp_path_factory.mktemp("fake_cifar") / "cifar-10-python.tar.gz", members(batch_files))


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    return tmp_path / "kh"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pass_as_real(monkeypatch):
    """``pass_as_real(archive)``: ``archive``'s SHA-256 becomes the published one."""
    def use(archive: Path) -> Path:
        monkeypatch.setattr(cifar, "_CIFAR10_ARCHIVE", dataclasses.replace(cifar._CIFAR10_ARCHIVE, sha256=sha256_of(archive)))
        return archive

    return use


@pytest.fixture
def fake_is_real(pass_as_real, fake_archive):
    """Make the fake archive pass as CIFAR-10: the published hash is the one we check."""
    pass_as_real(fake_archive)


@pytest.fixture
def neighbours(keras_home) -> dict[Path, bytes]:
    """Other data sets beside CIFAR-10 in $KERAS_HOME/datasets: nothing may delete them."""
    found = {keras_home / "datasets" / "mnist.npz": b"mnist",
             keras_home / "datasets" / "cats_and_dogs_filtered" / "train" / "cat.1.jpg": b"jpeg"}
    for path, data in found.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return found


def still_there(neighbours: dict[Path, bytes]) -> bool:
    return all(path.is_file() and path.read_bytes() == data for path, data in neighbours.items())


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requested.append(self.path)
        super().do_GET()


@pytest.fixture
def serve(monkeypatch):
    """``serve(path)``: the archive asset's URL becomes ``path`` on a local HTTP server; returns the requests."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    servers, requested = [], []
    monkeypatch.setattr(_Quiet, "requested", requested)

    def start(path: Path) -> list[str]:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(path.parent)))
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/{path.name}"
        monkeypatch.setattr(cifar, "_CIFAR10_ARCHIVE", dataclasses.replace(cifar._CIFAR10_ARCHIVE, urls=(url,)))
        return requested

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


# --- the stand-in --------------------------------------------------------------------------------

def test_stand_in_returns_what_keras_returns():
    (x_train, y_train), (x_test, y_test) = cifar.load("stand-in", train_size=120, test_size=40, seed=3)
    assert x_train.shape == (120, 32, 32, 3) and x_test.shape == (40, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8  # as keras.datasets.cifar10 gives them
    assert y_train.shape == (120, 1) and y_test.shape == (40, 1)  # labels as a column
    assert set(np.unique(y_train)) == set(range(10))
    np.testing.assert_array_equal(cifar.load("stand-in", train_size=120, test_size=40, seed=3)[0][0], x_train)
    assert not np.array_equal(x_train[:40], x_test)  # train and test are different draws


def test_stand_in_classes_are_learnable_from_their_colour():
    """The stand-in carries signal: a linear model on each image's mean colour beats chance (10%) by far."""
    from sklearn.linear_model import LogisticRegression

    (x_train, y_train), (x_test, y_test) = cifar.load("stand-in", train_size=200, test_size=100)
    colour = lambda x: x.reshape(len(x), -1, 3).mean(axis=1) / 255.0  # noqa: E731
    model = LogisticRegression(max_iter=2000).fit(colour(x_train), y_train.ravel())
    assert model.score(colour(x_test), y_test.ravel()) > 0.5


def test_stand_in_test_images_are_drawn_with_seed_plus_one():
    from course_utils.data.generated import make_images

    (x_train, y_train), (x_test, y_test) = cifar.load("stand-in", train_size=20, test_size=7, seed=4)
    np.testing.assert_array_equal(x_train, make_images(20, 32, 10, seed=4)[0])
    np.testing.assert_array_equal(x_test, make_images(7, 32, 10, seed=5)[0])
    np.testing.assert_array_equal(y_test.ravel(), make_images(7, 32, 10, seed=5)[1])
    one = cifar.load("stand-in", train_size=1.0, test_size=1)  # the smallest sizes, seed 0 by default
    np.testing.assert_array_equal(one[0][0], make_images(1, 32, 10, seed=0)[0])


@pytest.mark.parametrize("train, test", [(0, 5), (5, 0), (-1, 5), (5, -2), (None, 5), (5, None)])
def test_stand_in_sizes_must_be_positive(train, test):
    with pytest.raises(ValueError, match=rf"^the generated stand-in needs positive sizes, got train {train}, test {test}$"):
        cifar.load("stand-in", train_size=train, test_size=test)


def test_an_unknown_source_is_named():
    with pytest.raises(ValueError, match="unknown source 'keras' for CIFAR-10: use 'real'"):
        cifar.load("keras")


def test_class_names():
    assert len(cifar.CLASS_NAMES) == 10 and cifar.CLASS_NAMES[0] == "airplane" and cifar.CLASS_NAMES[9] == "truck"


# --- the real data, on a fake archive -------------------------------------------------------------

def check_fake_data(loaded, train_size=50_000):
    """``loaded``: what :func:`cifar.load` returned for the fake archive."""
    (x_train, y_train), (x_test, y_test) = loaded
    assert x_train.shape == (train_size, 32, 32, 3) and x_test.shape == (10_000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (train_size, 1)  # as Keras
    assert tuple(x_train[0, 0, 0]) == (8, 100, 200)  # channels moved last: red, green, blue
    assert tuple(x_train[10_000, 0, 0]) == (9, 100, 200)  # data_batch_2 follows data_batch_1
    assert tuple(x_test[0, 0, 0]) == (99, 100, 200)
    np.testing.assert_array_equal(x_test[1:, 0, 0, 0], y_test[1:, 0])  # red plane = label
    np.testing.assert_array_equal(x_train[1:10_000, 5, 7, 0], y_train[1:10_000, 0])
    np.testing.assert_array_equal(y_test[:10, 0], np.arange(10))


def test_a_local_archive_is_installed_unpacked_and_read(keras_home, fake_archive, fake_is_real, serve):
    requested = serve(fake_archive)
    loaded = cifar.load("real", local_copy=fake_archive, train_size=25_000)
    assert requested == []  # nothing was downloaded
    assert (keras_home / "datasets" / cifar._KERAS_ARCHIVE_NAME).is_file()
    assert fake_archive.is_file()  # the learner's file stays where it was
    assert hidden(keras_home / "datasets") == []  # no staging left
    check_fake_data(loaded, train_size=25_000)
    unpacked = keras_home / "datasets" / cifar._KERAS_FOLDER_NAME
    assert sorted(p.name for p in unpacked.iterdir()) == sorted([*cifar._BATCH_FILES, files._MANIFEST, "readme.html"])


def test_real_is_the_default_downloads_once_and_reuses(keras_home, fake_archive, fake_is_real, serve, capsys):
    requested = serve(fake_archive)
    loaded = cifar.load(progress=False)
    assert requested == ["/cifar-10-python.tar.gz"]
    datasets = keras_home / "datasets"
    assert (datasets / cifar._KERAS_ARCHIVE_NAME).is_file()
    assert (datasets / cifar._KERAS_FOLDER_NAME / "test_batch").is_file()  # the course unpacked it
    check_fake_data(loaded)
    cifar.load("real", train_size=10, test_size=5)
    assert len(requested) == 1  # the verified archive is reused


def test_an_interrupt_during_the_unpack_leaves_nothing_and_deletes_nothing_else(
        keras_home, fake_archive, fake_is_real, neighbours, monkeypatch):
    """tf_keras's get_file deleted all of $KERAS_HOME/datasets on an interrupt during its untar."""
    written = []
    makefile = tarfile.TarFile.makefile

    def write_then_interrupt(self, tarinfo, targetpath):
        makefile(self, tarinfo, targetpath)
        written.append(tarinfo.name)
        if len(written) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(tarfile.TarFile, "makefile", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        cifar.load("real", local_copy=fake_archive)
    datasets = keras_home / "datasets"
    assert len(written) == 3 and still_there(neighbours)
    assert not (datasets / cifar._KERAS_FOLDER_NAME).exists() and hidden(datasets) == []
    monkeypatch.setattr(tarfile.TarFile, "makefile", makefile)
    check_fake_data(cifar.load("real"))
    assert still_there(neighbours)


KILLED_UNPACK = """
import dataclasses, os, signal, sys, tarfile
from course_utils.data import cifar
cifar._CIFAR10_ARCHIVE = dataclasses.replace(cifar._CIFAR10_ARCHIVE, sha256=sys.argv[2])
copied, copy = [], tarfile.copyfileobj
def copy_half_of_the_last_then_die(source, target, length=None, *args, **kwargs):
    copied.append(length)
    if len(copied) == 7:  # readme.html, five training batches, then half of test_batch
        target.write(source.read(length // 2))
        target.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return copy(source, target, length, *args, **kwargs)
tarfile.copyfileobj = copy_half_of_the_last_then_die
cifar.load("real", local_copy=sys.argv[1])
"""


def test_a_killed_unpack_leaves_nothing_trusted_and_the_next_run_unpacks_again(
        keras_home, fake_archive, fake_is_real, neighbours):
    """A SIGKILL halfway through the last batch: tf_keras left it truncated where its loader looks."""
    killed = subprocess.run([sys.executable, "-c", KILLED_UNPACK, str(fake_archive), sha256_of(fake_archive)],
                            cwd=ROOT, env={**os.environ, "KERAS_HOME": str(keras_home)}, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    datasets = keras_home / "datasets"
    assert not (datasets / cifar._KERAS_FOLDER_NAME).exists() and still_there(neighbours)
    leftovers = hidden(datasets)
    assert leftovers and all(name.startswith(f".{cifar._KERAS_FOLDER_NAME}.") for name in leftovers)
    check_fake_data(cifar.load("real"))
    assert hidden(datasets) == [] and still_there(neighbours)  # the killed run's staging is cleaned up


def test_a_folder_unpacked_by_keras_without_the_check_is_unpacked_again(keras_home, fake_archive, fake_is_real,
                                                                        batch_files):
    folder = keras_home / "datasets" / cifar._KERAS_FOLDER_NAME
    folder.mkdir(parents=True)
    for name, data in batch_files.items():  # every file there, the last one truncated by a killed untar
        (folder / name).write_bytes(data[: len(data) // 2] if name == "test_batch" else data)
    check_fake_data(cifar.load("real", local_copy=fake_archive))
    assert (folder / files._MANIFEST).is_file()


def test_a_damaged_batch_in_the_unpacked_folder_is_refused_naming_the_folder_and_the_fix(
        keras_home, fake_archive, fake_is_real):
    cifar.load("real", local_copy=fake_archive)
    folder = keras_home / "datasets" / cifar._KERAS_FOLDER_NAME
    for damage in (lambda data: data[:-100], lambda data: data[:5000] + b"x" + data[5001:]):  # truncated, changed
        original = (folder / "data_batch_3").read_bytes()
        (folder / "data_batch_3").write_bytes(damage(original))
        with pytest.raises(cifar.CifarDataError) as err:
            cifar.load("real")
        assert str(err.value) == (f"{folder / 'data_batch_3'} is not the file unpacked from the verified archive "
                                  f"(damaged or changed since): delete the folder {folder} (keep the .tar.gz beside "
                                  "it) and run again")
        assert isinstance(err.value, CourseError)
        (folder / "data_batch_3").write_bytes(original)
    cifar.load("real", train_size=1, test_size=1)  # repaired


@pytest.mark.parametrize("change, reason", [
    (lambda files: {**files, "test_batch": files["test_batch"][:-1000]}, "test_batch in .* is not a CIFAR-10 batch "),
    (lambda files: {k: v for k, v in files.items() if k != "data_batch_4"}, "has no cifar-10-batches-py/data_batch_4"),
])
def test_an_archive_with_a_truncated_or_missing_batch_is_refused_and_nothing_is_unpacked(
        keras_home, tmp_path, batch_files, pass_as_real, neighbours, change, reason):
    archive = pass_as_real(make_tar(tmp_path / "cifar-10-python.tar.gz", members(change(batch_files))))
    with pytest.raises(cifar.CifarDataError, match=reason) as err:
        cifar.load("real", local_copy=archive)
    assert str(err.value).endswith(f"get a fresh copy from {cifar._CIFAR10_URL}")
    datasets = keras_home / "datasets"
    assert not (datasets / cifar._KERAS_FOLDER_NAME).exists() and hidden(datasets) == [] and still_there(neighbours)


@pytest.mark.parametrize("name", ["../escaped", "cifar-10-batches-py/../../escaped", "cifar-10-batches-py/../../../escaped"])
def test_a_tar_with_a_member_outside_the_folder_is_refused_before_anything_is_written(
        keras_home, tmp_path, batch_files, pass_as_real, neighbours, name):
    archive = pass_as_real(make_tar(tmp_path / "cifar-10-python.tar.gz", {**members(batch_files), name: b"owned"}))
    with pytest.raises(cifar.CifarDataError, match=r"unsafe member .*: not the CIFAR-10 archive: delete it and run again"):
        cifar.load("real", local_copy=archive)
    datasets = keras_home / "datasets"
    assert not (datasets / cifar._KERAS_FOLDER_NAME).exists() and hidden(datasets) == [] and still_there(neighbours)
    assert not any(path.exists() for path in (keras_home / "escaped", datasets / "escaped", keras_home.parent / "escaped"))


def test_an_absolute_member_lands_inside_the_staging_folder_and_is_not_kept(keras_home, tmp_path, batch_files,
                                                                            pass_as_real):
    absolute = tmp_path / "absolute-member"
    archive = pass_as_real(make_tar(tmp_path / "cifar-10-python.tar.gz", {**members(batch_files), str(absolute): b"x"}))
    check_fake_data(cifar.load("real", local_copy=archive))  # the data filter strips the leading "/"
    assert not absolute.exists() and hidden(keras_home / "datasets") == []


def test_a_link_in_the_archive_is_refused(keras_home, tmp_path, batch_files, pass_as_real):
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        link.type, link.linkname = tarfile.SYMTYPE, "data_batch_1"
        tar.addfile(link)
    pass_as_real(archive)
    with pytest.raises(cifar.CifarDataError, match="member 'cifar-10-batches-py/test_batch' is not a plain file"):
        cifar.load("real", local_copy=archive)


def test_an_archive_that_unpacks_to_more_than_the_cap_is_refused(keras_home, fake_archive, fake_is_real, monkeypatch):
    assert cifar._MAX_UNPACKED_BYTES == 200 * 2**20  # six files of about 31 MB fit; a bomb does not
    monkeypatch.setattr(cifar, "_MAX_UNPACKED_BYTES", 180_000_000)
    with pytest.raises(cifar.CifarDataError, match=r"would unpack to 18\d,\d{3},\d{3} bytes, more than the "
                                                   r"180,000,000 allowed for it: not the right file"):
        cifar.load("real", local_copy=fake_archive)
    assert not (keras_home / "datasets" / cifar._KERAS_FOLDER_NAME).exists()


def test_a_full_disk_during_the_unpack_is_a_course_error_naming_the_folder(keras_home, fake_archive, fake_is_real,
                                                                           monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", full)
    with pytest.raises(cifar.CifarDataError) as err:
        cifar.load("real", local_copy=fake_archive)
    folder = keras_home / "datasets"
    assert str(err.value) == (f"could not unpack CIFAR-10: the disk holding {folder} is full (No space left on device): "
                              f"free some space (`df -h {folder}` shows it; `make clean` removes build/), or set "
                              "COURSE_DATA_DIR to a folder you can write in, on a disk with room, and run again")
    assert hidden(keras_home / "datasets") == []


def test_a_classroom_run_unpacks_the_shared_archive_offline(tmp_path, fake_archive, fake_is_real, serve, monkeypatch):
    shared, mine = tmp_path / "shared", tmp_path / "mine"
    shared_archive = shared / "keras" / "datasets" / cifar._KERAS_ARCHIVE_NAME
    shared_archive.parent.mkdir(parents=True)
    shared_archive.write_bytes(fake_archive.read_bytes())
    classroom.write_manifest(shared)  # as `make classroom-data` does
    before = sorted(str(p.relative_to(shared)) for p in shared.rglob("*"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(mine))
    monkeypatch.setenv("KERAS_HOME", str(mine / "keras"))  # as start_lesson sets it
    monkeypatch.setenv(classroom.SHARED_DATA_VAR, str(shared))
    requested = serve(fake_archive)
    check_fake_data(cifar.load("real", progress=False))
    assert requested == []  # no download: the shared, verified archive was read where it is
    assert sorted(str(p.relative_to(shared)) for p in shared.rglob("*")) == before  # nothing written there
    assert not (mine / "keras" / "datasets" / cifar._KERAS_ARCHIVE_NAME).exists()  # no second copy of the archive
    assert (mine / "keras" / "datasets" / cifar._KERAS_FOLDER_NAME / files._MANIFEST).is_file()


@pytest.mark.parametrize("batch, reason", [
    ({b"data": np.zeros((9_999, 3072), np.uint8), b"labels": [0] * 9_999}, r"images uint8 \(9999, 3072\)"),
    ({b"data": np.zeros((10_000, 3072), np.uint8), b"labels": [10] * 10_000}, "labels outside 0-9"),
    ({b"data": np.zeros((10_000, 3072), np.float32), b"labels": [0] * 10_000}, "images float32"),
    ({b"data": np.zeros((10_000, 3072), np.uint8)}, "KeyError"),
])
def test_a_batch_must_be_10000_images_of_32x32x3_with_labels_0_to_9(batch, reason):
    with pytest.raises(cifar.CifarDataError, match=f"^here is not a CIFAR-10 batch.*{reason}"):
        cifar._parse_batch(pickle.dumps(batch), "here")


class _Runs:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_a_batch_pickle_that_would_run_code_is_refused_without_running_it(monkeypatch):
    hostile, ran = pickle.dumps({b"data": _Runs()}), []
    monkeypatch.setattr(os, "system", lambda command: ran.append(command))
    with pytest.raises(cifar.CifarDataError, match=r"asks for (posix|os)\.system, which no CIFAR-10 batch holds"):
        cifar._parse_batch(hostile, "here")
    assert ran == []


def test_offline_without_an_archive_says_what_to_do(keras_home, tmp_path, serve):
    serve(tmp_path / "not_served.tar.gz")  # the server answers 404: as good as no network
    with pytest.raises(cifar.CifarDataError) as info:
        cifar.load("real", progress=False)
    message = str(info.value)
    assert "cifar-10-python.tar.gz" in message and str(keras_home / "datasets" / cifar._KERAS_ARCHIVE_NAME) in message
    assert message.endswith("(CIFAR-10 publishes it as cifar-10-python.tar.gz: give that file's path as "
                            "CIFAR10_ARCHIVE.)")
    assert [p.name for p in (keras_home / "datasets").iterdir()] == []


def test_a_wrong_download_is_not_kept(keras_home, tmp_path, serve):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"an error page, not CIFAR-10")
    serve(bogus)
    with pytest.raises(cifar.CifarDataError, match="does not match the published file"):
        cifar.load("real", progress=False)
    assert [p.name for p in (keras_home / "datasets").iterdir()] == []


def test_a_local_archive_missing_or_wrong(keras_home, tmp_path):
    missing = tmp_path / "nope.tar.gz"
    with pytest.raises(cifar.CifarDataError) as err:
        cifar.load("real", local_copy=missing)
    assert str(err.value) == (
        f"no CIFAR-10 archive at {missing}: download cifar-10-python.tar.gz from {cifar._CIFAR10_URL} and give "
        "its path as CIFAR10_ARCHIVE, or leave CIFAR10_ARCHIVE = None to download it, or run the notebook "
        "with PROFILE = 'quick' (offline, generated data)")
    wrong = tmp_path / "cifar-10-python.tar.gz"
    wrong.write_bytes(b"not cifar")
    with pytest.raises(cifar.CifarDataError, match="does not match the published file"):
        cifar.load("real", local_copy=wrong)
    assert wrong.read_bytes() == b"not cifar"
    assert not (keras_home / "datasets" / cifar._KERAS_ARCHIVE_NAME).exists()


def test_keras_home_defaults_to_the_data_folder_and_options_reach_the_download(tmp_path, monkeypatch):
    fetched = []
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cifar.downloads, "fetch", lambda asset, folder, **kwargs: fetched.append((folder, kwargs)) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cifar.load()
    with pytest.raises(ZeroDivisionError):
        cifar.load(local_copy="mine.tar.gz", progress=False)
    assert fetched == [(tmp_path / "data" / "keras" / "datasets", {"local_copy": None, "progress": True}),
                       (tmp_path / "data" / "keras" / "datasets", {"local_copy": "mine.tar.gz", "progress": False})]


# --- statistics, preprocessing, the pipeline ------------------------------------------------------

def test_prepare_images_on_one_image_matches_the_batch_pipeline():
    from keras.applications import vgg16

    images = np.random.default_rng(4).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(6)
    for size in (32, 48):
        batched = [(x.numpy(), y.numpy()) for x, y in cifar.image_dataset(
            images, labels, image_size=size, batch_size=4, preprocess=vgg16.preprocess_input)]
        one_by_one = np.stack([cifar._prepare_images(image, size, vgg16.preprocess_input).numpy() for image in images])
        assert one_by_one.shape == (6, size, size, 3)
        np.testing.assert_allclose(one_by_one, np.concatenate([x for x, _ in batched]), rtol=1e-6, atol=1e-4)
        assert np.concatenate([y for _, y in batched]).tolist() == labels.tolist()


def test_channel_stats_match_numpy_and_work_in_chunks():
    images = np.random.default_rng(1).integers(0, 256, (23, 8, 8, 3), dtype=np.uint8)
    mean, std = cifar.channel_stats(images, chunk=7)
    reference = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 1, 2)), rtol=1e-9)
    np.testing.assert_allclose(std, reference.std(axis=(0, 1, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, H, W, 3\]"):
        cifar.channel_stats(images[..., 0])


def test_channel_stats_of_a_flat_image_is_zero_not_nan_and_needs_three_channels():
    flat = np.full((3, 4, 4, 3), 5, dtype=np.uint8)
    mean, std = cifar.channel_stats(flat)
    np.testing.assert_allclose(mean, 5 / 255)
    assert np.array_equal(std, [0.0, 0.0, 0.0])  # rounding makes this variance slightly negative: clamped, not nan
    with pytest.raises(ValueError, match=r"got shape \(3, 4, 4, 1\)"):
        cifar.channel_stats(flat[..., :1])


def test_channel_stats_of_images_that_are_not_square():
    images = np.random.default_rng(6).integers(0, 256, (5, 7, 3, 3), dtype=np.uint8)
    mean, std = cifar.channel_stats(images)
    reference = images.astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, reference.mean(axis=(0, 1, 2)), rtol=1e-9)
    np.testing.assert_allclose(std, reference.std(axis=(0, 1, 2)), rtol=1e-6)


def test_caffe_preprocess_with_imagenet_mean_equals_keras_preprocess_input():
    from keras.applications import vgg16

    images = np.random.default_rng(2).uniform(0, 255, (4, 5, 5, 3)).astype(np.float32)
    imagenet_rgb = np.asarray((103.939, 116.779, 123.68))[::-1] / 255.0  # Keras's VGG16 mean pixel, BGR
    ours = cifar.caffe_preprocess_with(imagenet_rgb)(images)
    np.testing.assert_allclose(ours, vgg16.preprocess_input(images.copy()), atol=1e-3)
    shifted = cifar.caffe_preprocess_with(imagenet_rgb + 0.01)(images)
    np.testing.assert_allclose(ours - shifted, 2.55, atol=1e-3)  # one more 0.01 * 255 subtracted


def test_caffe_preprocessing_keeps_float32_images_float32():
    import tensorflow as tf

    out = cifar.caffe_preprocess_with((0.5, 0.4, 0.3))(np.zeros((1, 2, 2, 3), np.float32))  # as the notebook's sample
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], [-76.5, -102.0, -127.5], rtol=1e-6)
    assert cifar.caffe_preprocess_with((0.5, 0.4, 0.3))(tf.zeros((1, 2, 2, 3))).dtype == tf.float32


def test_image_dataset_resizes_and_preprocesses_batch_by_batch():
    images = np.random.default_rng(3).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(10)
    same = cifar.image_dataset(images, labels, image_size=32, batch_size=4, preprocess=lambda x: x / 255.0)
    batches = list(same)
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype.name == "float32" and float(np.max(batches[0][0])) <= 1.0
    np.testing.assert_allclose(batches[0][0].numpy(), images[:4] / 255.0, rtol=1e-6)
    big = cifar.image_dataset(images, labels, image_size=64, batch_size=4, preprocess=lambda x: x,
                              shuffle=True, seed=0)
    x, y = next(iter(big))
    assert tuple(x.shape) == (4, 64, 64, 3)
    assert sorted(np.concatenate([b[1].numpy() for b in big])) == list(range(10))
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        cifar.image_dataset(images, labels[:9], image_size=32, batch_size=4, preprocess=lambda x: x)


def test_image_dataset_without_labels_gives_images_only():
    images = np.random.default_rng(5).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    batches = list(cifar.image_dataset(images, image_size=64, batch_size=4, preprocess=lambda x: x - 1.0))
    assert [tuple(b.shape) for b in batches] == [(4, 64, 64, 3), (1, 64, 64, 3)]  # tensors, not (x, y) pairs
    np.testing.assert_allclose(np.concatenate(batches),
                               cifar._prepare_images(images, 64, lambda x: x - 1.0).numpy(), rtol=1e-6)


def test_image_dataset_shuffles_with_its_seed_and_again_every_pass():
    images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1).repeat(32, 1).repeat(32, 2).repeat(3, 3)
    labels = np.arange(40)

    def order(dataset):
        return np.concatenate([y.numpy() for _, y in dataset]).tolist()

    one = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x, shuffle=True, seed=3)
    same = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x, shuffle=True, seed=3)
    first = order(one)
    assert first == order(same) and sorted(first) == list(range(40)) and first != list(range(40))
    assert order(one) != first  # a new order on the next pass (epoch)
    plain = cifar.image_dataset(images, labels, image_size=32, batch_size=8, preprocess=lambda x: x)
    assert order(plain) == list(range(40))


def test_prepare_images_casts_to_float32_even_without_resizing():
    images = np.full((2, 32, 32, 3), 7, dtype=np.uint8)
    out = cifar._prepare_images(images, 32, lambda x: x / 2)
    assert out.dtype.name == "float32" and float(out[0, 0, 0, 0]) == 3.5


def test_generated_test_labels_are_uint8_too_and_image_dataset_shuffles_with_seed_0_by_default():
    _, (_, y_test) = cifar.load("stand-in", train_size=10, test_size=5)
    assert y_test.dtype == np.uint8 and y_test.shape == (5, 1)
    images = np.zeros((30, 32, 32, 3), np.uint8)
    labels = np.arange(30)

    def order(**kwargs):
        dataset = cifar.image_dataset(images, labels, image_size=32, batch_size=10, preprocess=lambda x: x,
                                      shuffle=True, **kwargs)
        return np.concatenate([y.numpy() for _, y in dataset]).tolist()

    assert order() == order(seed=0) != order(seed=1)

