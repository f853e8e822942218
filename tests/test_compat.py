import pytest

from course_utils.setup import compat


@pytest.mark.parametrize("hub", [False, True])
def test_the_pinned_stack_passes(hub):
    assert compat.check_stack(hub=hub) == []


@pytest.mark.parametrize("old", ["2.15.1", "2.12.0", "1.15.5"])
def test_old_tensorflow_is_refused_with_advice(old):
    with pytest.raises(compat.StackError) as caught:
        compat.check_stack(old, "3.13.2", "2.15.0")
    assert str(caught.value) == (f"TensorFlow {old} is too old for this course (it needs 2.16 or later, with Keras 3): "
                                 "pip install -U 'tensorflow>=2.16' then restart the kernel")


def test_keras_2_as_keras_is_refused_with_advice():
    with pytest.raises(compat.StackError) as caught:
        compat.check_stack("2.16.1", "2.15.0", "2.16.0")
    assert str(caught.value) == "Keras 2.15.0 is not Keras 3: pip install -U 'keras>=3' then restart the kernel"


def test_missing_keras_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(compat, "installed", lambda package: None if package == "keras" else "2.21.0")
    with pytest.raises(compat.StackError) as caught:
        compat.check_stack()
    assert str(caught.value) == "Keras (not installed) is not Keras 3: pip install -U 'keras>=3' then restart the kernel"


def test_colabs_stack_is_accepted_for_every_lesson():
    # tools/colab/pip-freeze.txt: tensorflow 2.20.0, keras 3.13.2, tf_keras 2.20.1
    assert compat.check_stack("2.20.0", "3.13.2", "2.20.1", hub=True) == []
    assert compat.check_stack("2.20.0", "3.13.2", "2.20.1") == []


def test_tf_keras_is_needed_only_by_the_hub_lessons(monkeypatch):
    monkeypatch.setattr(compat, "installed", lambda package: None if package == "tf-keras" else "2.20.0")
    assert compat.check_stack("2.20.0", "3.13.2") == []
    with pytest.raises(compat.StackError) as caught:
        compat.check_stack("2.20.0", "3.13.2", hub=True)
    assert str(caught.value) == ("tf-keras (which hub.KerasLayer needs) is not installed: "
                                 "pip install 'tf-keras==2.20.*' then restart the kernel")
    assert compat.HUB_LESSONS == ("02", "03")


def test_mismatched_tf_keras_is_a_warning_in_the_hub_lessons_only():
    (warning,) = compat.check_stack("2.19.0", "3.10.0", "2.18.0", hub=True)
    assert warning == "tf-keras 2.18.0 does not match TensorFlow 2.19.0: pip install 'tf-keras==2.19.*' if you see errors"
    assert compat.check_stack("2.19.0", "3.10.0", "2.18.0") == []


def test_rc_versions_parse():
    assert compat.check_stack("2.20.0rc1", "3.11.0rc0", "2.20.0", hub=True) == []
