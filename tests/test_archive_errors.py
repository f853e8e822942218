"""Archives and the errors around them: encrypted members, decompression bombs, a read-only data folder,
a full disk, and cleanup that removes only its own staging names (issue 24)."""
from __future__ import annotations

import errno
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from course_utils.data import images
from course_utils.errors import CourseError
from course_utils.setup import files


def _zip(path, members=(("a.txt", b"hello"),)):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members:
            out.writestr(name, data)
    return path


def _encrypt_flag(path):
    """Set the 'encrypted' bit of every member in both headers (zipfile cannot write encrypted zips)."""
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + flag_at] |= 0x1
            start += 4
    path.write_bytes(bytes(data))
    return path


def test_an_encrypted_member_is_refused_with_what_to_do(tmp_path):
    archive = _encrypt_flag(_zip(tmp_path / "locked.zip"))
    with pytest.raises(files.ZipError) as err:
        files.extract_zip(archive, tmp_path / "out")
    assert str(err.value) == (f"{archive}: member 'a.txt' is encrypted (password protected); the course does not "
                              "unpack those: get the unencrypted archive from the data set's page")
    assert isinstance(err.value, CourseError) and not (tmp_path / "out").exists()


def test_an_archive_over_its_cap_is_refused_before_anything_is_unpacked(tmp_path):
    archive = _zip(tmp_path / "big.zip", [("zeros.bin", bytes(3 << 20))])  # 3 MiB of zeros: a few KB zipped
    assert archive.stat().st_size < 64 << 10
    with pytest.raises(files.ZipError, match=rf"^{archive}: it would unpack to 3,145,728 bytes, more than the "
                                             r"2,097,152 this data set needs \(a damaged or wrong archive, or a zip bomb"):
        files.extract_zip(archive, tmp_path / "out", max_unpacked=2 << 20)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [archive]
    assert files.extract_zip(archive, tmp_path / "out", max_unpacked=4 << 20) == tmp_path / "out"


def _png_header(path, width, height):
    """A PNG that only declares its size (IHDR), as a decompression bomb's header does."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_a_200_megapixel_image_header_is_named_not_decoded(tmp_path):
    bomb = _png_header(tmp_path / "huge.png", 20_000, 10_000)
    good = tmp_path / "fine.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(good)
    with pytest.raises(images.ImageFileError) as err:
        images.check_image(bomb)
    assert str(err.value).startswith("too large to decode safely (Image size (200000000 pixels) exceeds limit")
    assert str(err.value).endswith("a decompression bomb or a huge scan - replace it with a smaller copy")
    scan = images.scan_images([good, bomb])
    assert scan.good == [good] and list(scan.bad) == [bomb]
    with pytest.raises(images.ImageFileError, match=rf"^{bomb}: too large to decode safely"):
        images._load_rgb(bomb)


@pytest.mark.parametrize("failure, kind, words", [
    (PermissionError(errno.EACCES, "Permission denied"), files.FolderNotWritableError,
     "(Permission denied: {file}): make it writable for you (chmod u+w, or ask whoever owns it), or set "
     "COURSE_DATA_DIR to a folder you can write in"),
    (OSError(errno.EROFS, "Read-only file system"), files.FolderNotWritableError, "(Read-only file system: {file})"),
    (OSError(errno.ENOSPC, "No space left on device"), files.DiskFullError,
     "is full (No space left on device): free some space (`df -h {folder}` shows it"),
], ids=["read-only folder", "read-only disk", "full disk"])
def test_a_data_folder_that_cannot_be_written_is_named_with_the_fix(tmp_path, monkeypatch, failure, kind, words):
    archive = _zip(tmp_path / "data.zip")
    folder = tmp_path / "data"
    folder.mkdir()
    written = folder / "a.txt"

    def extract(self, where):  # what the operating system says for a read-only folder or a full disk
        failure.filename = str(written)
        raise failure

    monkeypatch.setattr(zipfile.ZipFile, "extractall", extract)
    with pytest.raises(kind) as err:
        files.extract_zip(archive, folder / "out")
    assert isinstance(err.value, CourseError) and isinstance(err.value, OSError)
    assert words.format(file=written, folder=folder) in str(err.value) and str(folder) in str(err.value)
    assert list(folder.iterdir()) == []  # no staging left behind


def test_cleanup_removes_only_its_own_staging_names(tmp_path):
    target = tmp_path / "cats_and_dogs_filtered"
    mine = [tmp_path / ".cats_and_dogs_filtered.123-abcdef01.part", tmp_path / ".cats_and_dogs_filtered.9-0a1b2c3d.part.d",
            tmp_path / ".cats_and_dogs_filtered.9-0a1b2c3d.part-root"]
    for path in mine:
        path.mkdir()
    live = tmp_path / ".cats_and_dogs_filtered.zip.456-0123abcd.part"  # the archive's download, under its own lock
    live.write_bytes(b"being written")
    assert files._remove_leftovers(target) == sorted(mine)
    assert [p.name for p in tmp_path.iterdir()] == [live.name] and live.read_bytes() == b"being written"
