"""The offline guard from a Python process's first line: Python imports ``sitecustomize`` at start-up from
``sys.path``, and :func:`course_utils.setup.env.offline_environment` puts this folder on ``PYTHONPATH`` (with
``COURSE_OFFLINE=1``) for the quick profile's notebook kernels and everything they start."""
import os

if os.environ.get("COURSE_OFFLINE") == "1":
    from course_utils.setup.env import block_network

    block_network()
