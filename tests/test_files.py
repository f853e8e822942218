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
