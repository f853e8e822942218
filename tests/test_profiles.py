import pytest

from course_utils.setup import profiles
from course_utils.setup.profiles import ProfileError, lesson_settings, resolve_profile


def test_parameter_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert resolve_profile("full") == "full"


def test_environment_used_when_parameter_is_none(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert resolve_profile(None) == "quick"


def test_default_is_full_for_a_learner(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    assert resolve_profile(None) == "full"


def test_case_and_spaces_are_forgiven():
    assert resolve_profile(" Quick ") == "quick"


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    with pytest.raises(ProfileError, match=r"unknown profile 'fast'.*'full'.*'quick'"):
        resolve_profile("fast")


def test_unknown_profile_from_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    with pytest.raises(ProfileError, match=r"\$COURSE_PROFILE"):
        resolve_profile(None)


@pytest.mark.parametrize("lesson", sorted(profiles.LESSONS))
@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_every_lesson_describes_data_and_weights(lesson, profile):
    cfg = lesson_settings(lesson, profile)
    assert cfg.profile == profile and cfg.lesson == lesson
    assert cfg.data and cfg.weights and cfg.title
    assert set(profiles.LESSONS[lesson]["full"]) == set(profiles.LESSONS[lesson]["quick"]), (
        "both profiles must set the same keys, so the notebook code is the same"
    )


def test_none_override_keeps_the_profile_value():
    assert lesson_settings("01", "quick", epochs=None).epochs == profiles.LESSONS["01"]["common"]["epochs"]
    assert lesson_settings("01", "quick", epochs=7).epochs == 7


def test_unknown_override_lists_valid_settings():
    with pytest.raises(ProfileError, match=r"no setting 'epoch'.*epochs"):
        lesson_settings("01", "quick", epoch=3)


def test_unknown_lesson():
    with pytest.raises(ProfileError, match="unknown lesson '09'"):
        lesson_settings("09", "quick")


def test_settings_attribute_error_lists_names():
    cfg = lesson_settings("02", "quick")
    with pytest.raises(AttributeError, match="has no setting 'imagesize'.*image_size"):
        cfg.imagesize  # noqa: B018 (the access itself is under test)


def test_quick_is_smaller_than_full_where_sizes_differ():
    assert lesson_settings("02", "quick").image_size < lesson_settings("02", "full").image_size
    assert lesson_settings("02", "full").image_size == 299
    assert lesson_settings("02", "full").source == "real"
    assert lesson_settings("02", "quick").source == "stand-in"


def test_quick_is_deterministic_full_is_fast():
    assert lesson_settings("05", "quick").deterministic is True
    assert lesson_settings("05", "full").deterministic is False


# --- exact behaviour of resolve_profile, Settings and lesson_settings (mutation testing, issue 17) ---

UNKNOWN_TAIL = ": use 'full' (real data and weights) or 'quick' (offline, small, seconds)"


@pytest.mark.parametrize("parameter", [None, ""])
def test_an_empty_parameter_falls_back_to_the_environment(monkeypatch, parameter):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert resolve_profile(parameter) == "quick"


@pytest.mark.parametrize("environment", [None, ""])
def test_no_parameter_and_no_or_empty_environment_is_full(monkeypatch, environment):
    if environment is None:
        monkeypatch.delenv("COURSE_PROFILE", raising=False)
    else:
        monkeypatch.setenv("COURSE_PROFILE", environment)
    assert resolve_profile("") == "full"
    assert resolve_profile() == "full"


def test_the_environment_is_cleaned_like_the_parameter(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "  QUICK\n")
    assert resolve_profile(None) == "quick"
    assert resolve_profile("FULL") == "full"


def test_unknown_parameter_message_is_exact(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    with pytest.raises(ProfileError) as error:
        resolve_profile(" Fast ")
    assert str(error.value) == "unknown profile ' Fast ' (from the PROFILE parameter)" + UNKNOWN_TAIL


@pytest.mark.parametrize("parameter", [None, ""])
def test_unknown_environment_message_is_exact(monkeypatch, parameter):
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    with pytest.raises(ProfileError) as error:
        resolve_profile(parameter)
    assert str(error.value) == "unknown profile 'gpu' (from the $COURSE_PROFILE)" + UNKNOWN_TAIL


def test_profile_error_is_a_value_error():
    assert issubclass(ProfileError, ValueError)


def test_settings_read_as_attributes_items_and_a_mapping():
    values = {"epochs": 3, "batch_size": 32}
    cfg = profiles.Settings("01", "quick", values)
    assert cfg.epochs == 3 and cfg["batch_size"] == 32
    assert cfg.lesson == "01" and cfg["profile"] == "quick"
    assert list(cfg) == ["epochs", "batch_size", "lesson", "profile"]
    assert len(cfg) == 4
    assert dict(cfg) == {"epochs": 3, "batch_size": 32, "lesson": "01", "profile": "quick"}
    values["epochs"] = 99  # the settings are a copy
    assert cfg.epochs == 3 and "lesson" not in values
    with pytest.raises(KeyError):
        cfg["epoch"]  # noqa: B018 (the access itself is under test)


def test_settings_repr_lists_every_value_sorted():
    cfg = profiles.Settings("03", "full", {"split": ["train[:10%]"], "batch_size": 367})
    assert repr(cfg) == "Settings(batch_size=367, lesson='03', profile='full', split=['train[:10%]'])"


def test_settings_attribute_error_message_is_exact():
    cfg = profiles.Settings("05", "quick", {"epochs": 3, "batch_size": 20})
    with pytest.raises(AttributeError) as error:
        cfg.epoch  # noqa: B018 (the access itself is under test)
    assert str(error.value) == "lesson 05 has no setting 'epoch'; it has: batch_size, epochs, lesson, profile"
    assert error.value.__suppress_context__  # the KeyError behind it is not shown to the learner


@pytest.mark.parametrize("lesson", sorted(profiles.LESSONS))
@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_settings_are_title_then_common_then_the_profile(lesson, profile):
    spec = profiles.LESSONS[lesson]
    expected = {"title": spec["title"], **spec["common"], **spec[profile]}
    expected.setdefault("deterministic", profile == "quick")
    expected.setdefault("source", {"full": "real", "quick": "stand-in"}[profile])
    expected.update(lesson=lesson, profile=profile)
    assert dict(lesson_settings(lesson, profile)) == expected


def test_the_profile_comes_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert lesson_settings("03").profile == "full"
    assert lesson_settings("03").batch_size == 367
    monkeypatch.setenv("COURSE_PROFILE", "quick")
    assert lesson_settings("03").batch_size == 16


def test_overrides_apply_one_by_one_and_deterministic_can_be_overridden():
    cfg = lesson_settings("01", "quick", epochs=5, batch_size=None, seed=3, deterministic=False)
    assert (cfg.epochs, cfg.batch_size, cfg.seed, cfg.deterministic) == (5, 32, 3, False)
    assert lesson_settings("01", "full", deterministic=True).deterministic is True
    assert lesson_settings("01", "full").deterministic is False


def test_unknown_lesson_message_is_exact():
    with pytest.raises(ProfileError) as error:
        lesson_settings("9", "quick")
    assert str(error.value) == f"unknown lesson '9': the course has {', '.join(profiles.LESSONS)}"


def test_unknown_override_message_is_exact():
    valid = sorted(["title", *profiles.LESSONS["02"]["common"], *profiles.LESSONS["02"]["quick"], "deterministic", "source"])
    with pytest.raises(ProfileError) as error:
        lesson_settings("02", "quick", image_sise=100)
    assert str(error.value) == "lesson 02 has no setting 'image_sise' to override; valid: " + ", ".join(valid)


def test_an_unknown_profile_is_refused_before_overrides_are_read():
    with pytest.raises(ProfileError, match="unknown profile 'slow'"):
        lesson_settings("01", "slow", nonsense=1)


@pytest.mark.parametrize("lesson", sorted(profiles.LESSONS))
def test_every_lesson_gets_one_source_from_its_profile(lesson):
    assert lesson_settings(lesson, "full").source == "real"
    assert lesson_settings(lesson, "quick").source == "stand-in"


def test_check_source_accepts_the_vocabulary_and_names_what_it_checked():
    assert [profiles.check_source(s, "x") for s in profiles.SOURCES] == ["real", "stand-in"]
    with pytest.raises(profiles.SourceError) as error:
        profiles.check_source("kaggle", "the cactus data")
    assert str(error.value) == (
        "unknown source 'kaggle' for the cactus data: use 'real' (the lesson's data or pretrained "
        "weights, downloaded once or your local_copy) or 'stand-in' (built offline)")
    assert isinstance(error.value, ValueError)


def test_a_machine_with_less_memory_than_the_lesson_needs_is_told_what_to_do(tmp_path):
    from course_utils.setup import lesson

    cfg = lesson.lesson_settings("06", "quick")
    need = cfg["peak_memory_mb"]
    v2 = tmp_path / "memory.max"
    v2.write_text(f"{2 * 2**30}\n")  # Binder's 2 GB, as cgroup v2 writes it
    limit = lesson._memory_limit_mb([v2])
    assert limit == 2048
    warning = lesson._memory_warning(cfg, limit)
    assert warning == (f"this lesson's quick profile peaks at about {need:,} MB of memory (the runner measured it) and "
                       "this machine gives the kernel 2,048 MB, so it may die midway ('Kernel died'). Binder gives about "
                       "2 GB: open this lesson on Colab (its badge) or run it on your own machine.")
    assert lesson._memory_warning(lesson.lesson_settings("01", "quick"), limit) is None  # it fits
    assert lesson._memory_warning(cfg, None) is None  # no limit known: nothing to say
    assert lesson._memory_warning(lesson.lesson_settings("06", "full"), limit) is None  # never measured: no guess
    v2.write_text("max\n")
    assert lesson._memory_limit_mb([v2]) is None  # unlimited
    v1 = tmp_path / "memory.limit_in_bytes"
    v1.write_text(f"{2**63 - 4096}\n")  # cgroup v1's "no limit"
    assert lesson._memory_limit_mb([tmp_path / "absent", v1]) is None
    assert lesson._memory_limit_mb([tmp_path / "absent"]) is None
