import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1]
# The deploy scripts are plain files, not a package: make them importable by name.
sys.path[:0] = [str(DEPLOY / "gateway"), str(DEPLOY / "local")]
