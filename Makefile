# Two commands a learner or instructor needs:
#   make lessons   run every notebook (quick profile; PROFILE=full for the real lessons)
#   make test      unit tests + every notebook executed in the quick profile, offline
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
EXTRAS ?= course,dev,grading
STAMP := $(VENV)/.course-installed
# uv installs the stack (TensorFlow: 1.9 GB unpacked) in well under half pip's time (README has both). It reads PyPI
# (or UV_DEFAULT_INDEX), not pip.conf. --compile-bytecode writes the .pyc files at install, as pip does: where
# PYTHONDONTWRITEBYTECODE is set (this machine) every process would compile TensorFlow again. INSTALLER=pip: pip alone.
INSTALLER ?= uv

export TF_CPP_MIN_LOG_LEVEL := 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: lessons test chromium nbval unit venv lab bench sync colab-cell colab-check clean help mutation

help:
	@echo "make lessons [PROFILE=quick|full]  execute every notebook, write build/report.md"
	@echo "make test                          unit tests + quick-profile notebooks, offline"
	@echo "make nbval [PROFILE=quick|full]    validate the notebooks with pytest --nbval-lax (ONLY=\"01 03\" for some)"
	@echo "make bench                         input pipeline, backbone and feature-cache benchmark table"
	@echo "make student [LESSONS=\"01 03\"]     student notebooks without the exercises' solutions, build/student/ (nbgrader)"
	@echo "make autograde NOTEBOOK=path       autograde a submitted notebook offline: points and messages per exercise"
	@echo "make classroom-data CLASSROOM_DATA=dir  fill a classroom's shared, read-only data folder (both profiles)"
	@echo "make classroom-manifest CLASSROOM_DATA=dir  write a filled folder's manifest again (SHA256SUMS), then go-w"
	@echo "make mutation                      mutation score of the modules that guard a learner's results (under 60 min)"
	@echo "make lab                           start JupyterLab with the course kernel"
	@echo "make sync                          bring each notebook and its paired .py script in step (jupytext)"
	@echo "make facts                         write the settings tables and parameter comments from course_utils/setup/profiles.py"
	@echo "make colab-cell                    write every notebook's Colab cell (and its script's) from course_utils/course/links.py"
	@echo "make colab-check                   all six lessons on a mirror of Colab's runtime (tools/colab/; needs PyPI and Python 3.13)"
	@echo "make clean                         remove build/ (keeps .venv and data/)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 13), "Python 3.11-3.13 needed (3.11 recommended; pyproject.toml says why)"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),pip)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
else
	$(PY) -m pip install --quiet "uv>=0.9,<1"
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e ".[$(EXTRAS)]"
endif
	$(PY) -m ipykernel install --sys-prefix --name transfer-course \
		--display-name "Transfer learning course (.venv)" >/dev/null
	@touch $(STAMP)
	@echo "course environment ready in $(VENV)"

lessons: $(STAMP)
	$(PY) -m course_utils.course.runner --profile $(PROFILE)

# The browser test (tests/test_browser.py) drives `make lab` in a headless Chromium:
# tools/ensure_chromium.sh installs Debian's chromium + chromium-driver when missing.
test: $(STAMP) chromium
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15  # both cores; the 15 slowest tests

chromium:
	@bash tools/ensure_chromium.sh

# nbval: `pytest --nbval-lax` over the notebooks (every cell must run without an error;
# only cells marked `# NBVAL_CHECK_OUTPUT` compare outputs). ONLY="01 03" picks lessons.
nbval: $(STAMP)
	$(PY) -m course_utils.course.runner --nbval --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

unit: $(STAMP)
	$(PY) -m pytest -m "not notebooks"

bench: $(STAMP)
	$(PY) benchmarks/run.py

# Instructors (docs/INSTRUCTORS.md, "Exercises and grading"; nbgrader comes with the grading extra):
# the student version of the notebooks (solutions removed) in build/student/, LESSONS="01 03" for
# some; offline autograding of a submitted notebook, NOTEBOOK=path [STUDENT=id].
.PHONY: student autograde
student: $(STAMP)
	$(PY) -m course_exercises.grading student $(if $(LESSONS),--lessons $(LESSONS))

autograde: $(STAMP)
	@test -n "$(NOTEBOOK)" || { echo "usage: make autograde NOTEBOOK=path/to/01_own_model_head_swap.ipynb [STUDENT=id]"; exit 2; }
	$(PY) -m course_exercises.grading autograde "$(NOTEBOOK)" --student "$(or $(STUDENT),student)"

# Instructors, a classroom (docs/INSTRUCTORS.md, "Classroom"): fill a shared data folder once. It runs
# the lessons with COURSE_DATA_DIR=$(CLASSROOM_DATA), so every download, prepared data set and stand-in
# lands there (the lessons also train: the full profile takes hours), writes the manifest SHA256SUMS
# (`<sha256>  <relative path>` per file, sha256sum's format; learners' runs read only the files it lists,
# with that hash), then takes the write bits away from group and others. PROFILES="quick" for the offline
# stand-ins only. `make classroom-manifest` does the last two steps alone, after a change made by hand.
SEAL_CLASSROOM = rm -rf "$$shared/.locks" && \
	$(PY) -c 'import sys; from course_utils.setup import classroom; classroom.write_manifest(sys.argv[1])' "$$shared" && \
	chmod -R go-w,a+rX "$$shared"
.PHONY: classroom-data classroom-manifest
classroom-data: $(STAMP)
	@test -n "$(CLASSROOM_DATA)" || { echo "usage: make classroom-data CLASSROOM_DATA=/shared/folder [PROFILES=\"quick full\"]"; exit 2; }
	@mkdir -p "$(CLASSROOM_DATA)"
	shared="$$(cd "$(CLASSROOM_DATA)" && pwd)" && \
	for profile in $(or $(PROFILES),quick full); do \
		COURSE_DATA_DIR="$$shared" $(PY) -m course_utils.course.runner --profile $$profile \
			--build build/classroom-$$profile || exit 1; \
	done && \
	$(SEAL_CLASSROOM) && \
	echo "filled $$shared; learners set COURSE_SHARED_DATA_DIR=$$shared"

classroom-manifest: $(STAMP)
	@test -d "$(CLASSROOM_DATA)" || { echo "usage: make classroom-manifest CLASSROOM_DATA=/shared/folder"; exit 2; }
	shared="$$(cd "$(CLASSROOM_DATA)" && pwd)" && $(SEAL_CLASSROOM) && echo "listed every file of $$shared in $$shared/SHA256SUMS"

# Not part of `make test`: plants small bugs in the listed modules and runs the unit tests
# against each; writes build/mutation/score.md (docs/MUTATION.md).
mutation: $(STAMP)
	$(PY) tools/mutation.py

# LAB_DIR: the folder served; LAB_ARGS: more `jupyter lab` options (the browser test adds port and token).
# Jupyter refuses to start as root without --allow-root (containers, cloud machines).
LAB_DIR ?= notebooks/
LAB_ARGS ?=
LAB_AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_AS_ROOT) $(LAB_ARGS) $(LAB_DIR)

sync: $(STAMP)
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

# Each full-profile setting is stated once, in course_utils/setup/profiles.py: this writes the README's and
# docs/INSTRUCTORS.md's settings tables and the notebooks' parameter comments from it (tools/facts.py),
# then syncs the notebooks. tests/test_full_profile_settings.py fails while a committed text differs.
.PHONY: facts
facts: $(STAMP)
	$(PY) tools/facts.py
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.ipynb

colab-cell: $(STAMP)
	$(PY) -m course_utils.course.links notebooks

# The Colab path, tried as a Colab user would: the wheel + plain TensorFlow (Keras 3) in a fresh
# environment, the notebooks' own Colab cell, lessons 01 and 03 from a folder outside the checkout.
# Needs PyPI; not part of `make test`. Results in build/colab-check/.
colab-check: $(STAMP)
	$(PY) tools/colab_check.py

clean:
	rm -rf build
