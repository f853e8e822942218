import pytest

from course_utils import profiles
from course_utils.profiles import ProfileError, lesson_settings, resolve_profile


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
    assert lesson_settings("02", "full").app_weights == "imagenet"
    assert lesson_settings("02", "quick").app_weights is None


def test_quick_is_deterministic_full_is_fast():
    assert lesson_settings("05", "quick").deterministic is True
    assert lesson_settings("05", "full").deterministic is False
