from course_utils.setup.files import replace_folder


def test_replace_folder_swaps_in_the_finished_folder(tmp_path):
    ready = tmp_path / "x.building"
    ready.mkdir()
    (ready / "new.txt").write_text("new")
    target = tmp_path / "deep" / "x"
    target.mkdir(parents=True)
    (target / "old.txt").write_text("old")
    assert replace_folder(ready, target) == target
    assert [p.name for p in target.iterdir()] == ["new.txt"] and not ready.exists()


def test_replace_folder_creates_missing_parents(tmp_path):
    ready = tmp_path / "r"
    ready.mkdir()
    assert replace_folder(ready, tmp_path / "a" / "b").is_dir()
