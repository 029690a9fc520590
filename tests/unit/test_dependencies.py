"""Dependencies point one way: the library never imports a service or AWS; the worker never loads TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from support import REPO, write_tone_wav

LIBRARY = REPO / "shared" / "anemonefish"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_library_never_imports_services_or_aws() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & {"anemonefish_services", "boto3", "botocore"})
        for path in LIBRARY.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_only_training_code_imports_tensorflow() -> None:
    users = sorted(
        str(path.relative_to(LIBRARY))
        for path in LIBRARY.rglob("*.py")
        if _imports(path) & {"tensorflow", "keras"} and "training" not in path.parts
    )
    assert users == []


def _modules_loaded_by(code: str) -> set[str]:
    probe = code + "\nimport sys; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO)
    return set(out.stdout.split())


def test_offline_detection_loads_neither_aws_clients_nor_tensorflow_nor_scipy(tmp_path: Path, tiny_bundle: Path) -> None:
    wav = write_tone_wav(tmp_path / "x.wav", 2.0)
    loaded = _modules_loaded_by(
        "from anemonefish_services.cli import main\n"
        f"assert main(['detect', {str(wav)!r}, '-o', {str(tmp_path)!r}, '--model', {str(tiny_bundle)!r}, '-q']) == 0"
    )
    assert "anemonefish" in loaded
    # scipy is not a runtime dependency: its import alone was half the library's import time.
    assert not loaded & {"boto3", "botocore", "tensorflow", "keras", "scipy"}


def test_worker_handler_does_not_load_tensorflow() -> None:
    loaded = _modules_loaded_by("import anemonefish_services.worker.handler")
    assert "anemonefish" in loaded and "tensorflow" not in loaded and "keras" not in loaded
