import os
from pathlib import Path

# pytest finds the package in src/ (pythonpath in pyproject.toml); the trainer started as a subprocess finds it here.
SRC = str(Path(__file__).resolve().parents[1] / "src")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
