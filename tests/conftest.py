"""Test-wide set-up: sibling test modules importable by name (tests/nlu shares its small KB)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "nlu"))
