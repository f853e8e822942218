import pytest

from course_utils.setup import compat


def test_the_pinned_stack_passes():
    assert compat.check_stack() == []


@pytest.mark.parametrize("old", ["2.12.0", "2.14.1", "1.15.5"])
def test_old_tensorflow_is_refused_with_advice(old):
    with pytest.raises(compat.StackError, match=rf"TensorFlow {old} is too old.*2\.15 or later"):
        compat.check_stack(old, "2.15.0")


def test_colab_range_is_accepted():
    assert compat.check_stack("2.19.0", "2.19.0") == []


def test_mismatched_tf_keras_is_a_warning():
    (warning,) = compat.check_stack("2.19.0", "2.18.0")
    assert "tf-keras==2.19.*" in warning


def test_rc_versions_parse():
    assert compat.check_stack("2.20.0rc1", "2.20.0") == []
