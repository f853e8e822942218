import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils.show import plots  # noqa: E402

HISTORY = {"accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7],
           "loss": [1.0, 0.7, 0.5], "val_loss": [1.1, 0.8, 0.6]}


def test_plot_history_one_panel_per_metric_train_and_validation():
    fig = plots.plot_history(HISTORY)
    axes = fig.axes
    assert len(axes) == 2
    assert axes[0].get_title() == "accuracy: training vs validation"
    assert axes[1].get_title() == "loss: training vs validation"
    assert [line.get_label() for line in axes[0].lines] == ["training", "validation"]
    assert list(axes[0].lines[1].get_ydata()) == HISTORY["val_accuracy"]


def test_plot_history_compares_runs_on_shared_axes():
    fig = plots.plot_history({"a": HISTORY, "b": HISTORY}, metrics=("accuracy",), title="cmp")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["a training", "a validation", "b training", "b validation"]
    assert ax.lines[0].get_color() != ax.lines[2].get_color()
    assert fig._suptitle.get_text() == "cmp"


def test_plot_history_accepts_a_keras_history_object():
    class FakeHistory:
        history = HISTORY

    assert len(plots.plot_history(FakeHistory(), metrics=("loss",)).axes) == 1


def test_plot_history_missing_metric():
    with pytest.raises(KeyError, match="no 'auc'"):
        plots.plot_history(HISTORY, metrics=("auc",))


def test_plot_images_grid_and_grey():
    fig = plots.plot_images(np.zeros((7, 6, 6)), titles=list("abcdefg"), cols=5)
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes[:7]] == list("abcdefg")


def test_plot_history_empty_is_an_error():
    with pytest.raises(ValueError, match="needs a History"):
        plots.plot_history({})


def test_show_image_clips_small_overshoot_instead_of_stretching():
    image = np.full((4, 4, 3), 0.5)
    image[0, 0] = 1.02
    fig = plots.plot_images([image], cols=1)
    shown = fig.axes[0].images[0].get_array()
    assert float(shown.max()) == pytest.approx(1.0) and float(shown[1, 1, 0]) == pytest.approx(0.5)


def test_plot_history_marks_the_fine_tuning_boundary():
    hist = {"accuracy": [0.5, 0.6, 0.7, 0.8], "val_accuracy": [0.5, 0.55, 0.6, 0.7],
            "loss": [1, 0.9, 0.8, 0.7], "val_loss": [1, 0.95, 0.9, 0.8]}
    fig = plots.plot_history(hist, phase_boundary=2)
    for ax in fig.axes:
        (line,) = [ln for ln in ax.lines if ln.get_label() == "fine-tuning starts"]
        assert line.get_xdata()[0] == 2.5  # between epoch 2 (last head-only) and 3 (first fine-tuned)


def test_plot_misclassified_shows_only_mistakes_most_confident_first():
    images = np.zeros((6, 8, 8, 3))
    true = np.array([0, 1, 1, 0, 2, 2])
    predicted = np.array([0, 0, 2, 0, 2, 1])  # images 1, 2 and 5 are wrong
    confidence = np.array([0.9, 0.55, 0.8, 0.7, 0.6, 0.95])
    fig = plots.plot_misclassified(images, true, predicted, confidence, ["cat", "dog", "fox"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["dog (fox)\n95% sure", "fox (dog)\n80% sure", "cat (dog)\n55% sure"]
    assert all(mcolors.same_color(ax.title.get_color(), "red") for ax in fig.axes if ax.get_title())
    assert fig._suptitle.get_text().startswith("3 of 6 misclassified")


def test_plot_misclassified_with_no_mistakes_says_so():
    fig = plots.plot_misclassified(np.zeros((2, 4, 4)), [0, 1], [0, 1], [0.9, 0.8], ["a", "b"])
    assert "no misclassified images" in [t.get_text() for t in fig.axes[0].texts]


def test_plot_misclassified_length_mismatch():
    with pytest.raises(ValueError, match=r"confidences \(1\) must have the same length"):
        plots.plot_misclassified(np.zeros((2, 4, 4)), [0, 1], [1, 0], [0.9], ["a", "b"])


def test_plot_history_without_validation_does_not_promise_it():
    fig = plots.plot_history({"accuracy": [0.5, 0.7], "loss": [1.0, 0.8]})
    assert [ax.get_title() for ax in fig.axes] == ["accuracy: training", "loss: training"]
    fig = plots.plot_history({"accuracy": [0.5], "val_accuracy": [0.4], "loss": [1.0], "val_loss": [1.1]})
    assert [ax.get_title() for ax in fig.axes] == ["accuracy: training vs validation", "loss: training vs validation"]


@pytest.mark.parametrize("name", ["keras", "tf_keras"])
def test_plot_history_takes_the_history_of_either_kerass_fit(name):
    import importlib

    import numpy as np

    K = importlib.import_module(name)
    model = K.Sequential([K.Input((2,)), K.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(np.ones((8, 2)), np.zeros(8), validation_data=(np.ones((4, 2)), np.zeros(4)),
                        epochs=3, verbose=0)
    fig = plots.plot_history(history)
    assert len(fig.axes) == 2
    assert [len(line.get_xdata()) for line in fig.axes[1].get_lines()] == [3, 3]  # loss, train and validation
