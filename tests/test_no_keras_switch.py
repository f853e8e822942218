"""Issue 25: no environment variable chooses the Keras; the name of the old switch is in no tracked file."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWITCH = "TF_USE_" + "LEGACY_KERAS"  # spelled in two parts, so this file is not a hit itself


def test_the_legacy_keras_switch_is_in_no_tracked_file():
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    hits = [name for name in tracked.decode().split("\0")
            if name and (ROOT / name).is_file() and SWITCH.encode() in (ROOT / name).read_bytes()]
    assert hits == [], f"{SWITCH} is still set or named in: {hits}"
