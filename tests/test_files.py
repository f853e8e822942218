from course_utils.setup.files import _replace_folder


def test_replace_folder_swaps_in_the_finished_folder(tmp_path):
    ready = tmp_path / "x.building"
    ready.mkdir()
    (ready / "new.txt").write_text("new")
    target = tmp_path / "deep" / "x"
    target.mkdir(parents=True)
    (target / "old.txt").write_text("old")
    assert _replace_folder(ready, target) == target
    assert [p.name for p in target.iterdir()] == ["new.txt"] and not ready.exists()


def test_replace_folder_creates_missing_parents(tmp_path):
    ready = tmp_path / "r"
    ready.mkdir()
    assert _replace_folder(ready, tmp_path / "a" / "b").is_dir()


def test_replace_folder_puts_a_file_over_a_folder_and_a_folder_over_a_file(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "old.txt").write_text("old")
    (tmp_path / "file").write_text("new")
    assert _replace_folder(tmp_path / "file", tmp_path / "target").read_text() == "new"
    (tmp_path / "folder").mkdir()
    _replace_folder(tmp_path / "folder", tmp_path / "target")
    assert (tmp_path / "target").is_dir() and [p.name for p in tmp_path.iterdir()] == ["target"]  # nothing left aside


def test_digest_is_the_sha256_of_text_or_bytes_cut_to_a_length():
    import hashlib

    from course_utils.setup import files

    full = hashlib.sha256(b"flower_photos/a.jpg:12\n").hexdigest()
    assert files.digest("flower_photos/a.jpg:12\n") == full == files.digest(b"flower_photos/a.jpg:12\n")
    assert files.digest("flower_photos/a.jpg:12\n", 12) == full[:12]


# --- the course's one manifest format ----------------------------------------------------------------

def test_manifest_path_is_inside_a_folder_and_beside_a_file(tmp_path):
    from course_utils.setup import files

    (tmp_path / "built").mkdir()
    (tmp_path / "w.h5").write_bytes(b"weights")
    (tmp_path / "linked").symlink_to(tmp_path / "built", target_is_directory=True)  # a learner's link to a shared folder
    assert files._manifest_path(tmp_path / "built") == tmp_path / "built" / "COURSE_MANIFEST.json"
    assert files._manifest_path(str(tmp_path / "linked")) == tmp_path / "linked" / "COURSE_MANIFEST.json"
    assert files._manifest_path(tmp_path / "w.h5") == tmp_path / "w.h5.manifest.json"
    assert files._manifest_path(tmp_path / "not yet built.h5") == tmp_path / "not yet built.h5.manifest.json"


def test_a_manifest_round_trips_its_facts_for_a_folder_and_a_file(tmp_path):
    import json

    from course_utils.setup import files

    (tmp_path / "built").mkdir()
    (tmp_path / "w.h5").write_bytes(b"weights")
    facts = {"sha256": "ab" * 32, "files": {"a": {"bytes": 3}}, "target": "a fact may be named so", "count": 2}
    for target in (tmp_path / "built", tmp_path / "w.h5"):
        path = files.write_manifest(target, "stand-in weights", **facts)
        assert path == files._manifest_path(target)
        assert path.read_text() == json.dumps({"kind": "stand-in weights", **facts}, indent=1, sort_keys=True) + "\n"
        assert files.read_manifest(target, "stand-in weights") == facts
        assert files.read_manifest(str(target), "stand-in weights") == facts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "w.h5", "w.h5.manifest.json"]  # no staging left
    assert [p.name for p in (tmp_path / "built").iterdir()] == ["COURSE_MANIFEST.json"]
    files.write_manifest(tmp_path / "built", "zip extraction", sha256="cd" * 32)  # written again: replaced whole
    assert files.read_manifest(tmp_path / "built", "zip extraction") == {"sha256": "cd" * 32}


def test_a_missing_corrupt_or_other_kind_of_manifest_reads_as_none(tmp_path):
    import json

    from course_utils.setup import files

    target = tmp_path / "built"
    target.mkdir()
    path = files._manifest_path(target)
    assert files.read_manifest(target, "tfds flowers") is None  # missing
    assert files.read_manifest(tmp_path / "nothing here", "tfds flowers") is None
    for text in ('{"kind": "tfds flowers", "images": 3', "", "not json", '["tfds flowers"]', '"tfds flowers"', "null",
                 '{"images": 3}', '{"kind": "zip extraction", "images": 3}', '{"kind": ["tfds flowers"]}'):
        path.write_text(text)
        assert files.read_manifest(target, "tfds flowers") is None, text
    path.write_bytes(b'{"kind": "tfds flowers", "folder": "\xff\xfe"}')  # not UTF-8
    assert files.read_manifest(target, "tfds flowers") is None
    path.unlink()
    path.mkdir()  # unreadable as a file
    assert files.read_manifest(target, "tfds flowers") is None
    path.rmdir()
    path.write_text(json.dumps({"kind": "tfds flowers", "images": 3}))
    assert files.read_manifest(target, "tfds flowers") == {"images": 3}


def test_a_zip_extraction_is_trusted_only_with_its_archives_manifest(tmp_path, monkeypatch):
    import json
    import zipfile

    from course_utils.setup import files

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))  # the build locks
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("a.txt", "from a.zip")
    target = files.extract_zip(archive, tmp_path / "out")
    assert sorted(p.name for p in target.iterdir()) == ["COURSE_MANIFEST.json", "a.txt"]
    assert files.read_manifest(target, "zip extraction") == {"archive": "a.zip", "sha256": files.sha256(archive)}
    (target / "a.txt").write_text("changed by hand")
    files.extract_zip(archive, target)
    assert (target / "a.txt").read_text() == "changed by hand"  # from this archive: kept
    old = json.dumps({"archive": "a.zip", "sha256": files.sha256(archive)})  # the old marker's facts, no kind
    files._manifest_path(target).write_text(old)
    files.extract_zip(archive, target)
    assert (target / "a.txt").read_text() == "from a.zip"  # not recognised: extracted again
    corrected = tmp_path / "b.zip"
    with zipfile.ZipFile(corrected, "w") as out:
        out.writestr("a.txt", "from b.zip")
    files.extract_zip(corrected, target)
    assert (target / "a.txt").read_text() == "from b.zip"  # from another archive: extracted again
