"""The container images, checked without a Docker engine: what they copy exists, the
handlers they start import, and the runtime requirements they install are enough to run a
detection (in a fresh virtualenv, without TensorFlow)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from infra_helpers import REPO

pytestmark = pytest.mark.infra

DOCKER = REPO / "docker"
LAMBDA_IMAGES = {"worker": DOCKER / "worker.Dockerfile", "api": DOCKER / "api.Dockerfile"}
REQUIREMENTS = DOCKER / "requirements.txt"
LOCK = DOCKER / "requirements.lock"
# Handlers that run on each image (image CMD, or overridden by Terraform's image_config).
HANDLERS_BY_IMAGE = {
    "worker": ["anemonefish_services.worker.handler.lambda_handler"],
    "api": ["anemonefish_services.api.handler.lambda_handler",
            "anemonefish_services.worker.dlq.lambda_handler",
            "anemonefish_services.worker.sweeper.lambda_handler",
            "anemonefish_services.worker.webhook_sender.lambda_handler"],
}


def _lock_tool() -> Any:
    spec = importlib.util.spec_from_file_location("lock_requirements", DOCKER / "lock_requirements.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _with_build_args(dockerfile: Path) -> list[tuple[str, str]]:
    """The instructions with ``${ARG}`` replaced by the ARG's default, as a plain build has them."""
    defaults: dict[str, str] = {}
    out = []
    for keyword, args in _instructions(dockerfile):
        if keyword == "ARG" and "=" in args:
            name, _, value = args.partition("=")
            defaults[name] = value
        out.append((keyword, re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), args)))
    return out


def _requirement_names(lines: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in lines if line.strip() and not line.strip().startswith("#")}


@pytest.mark.parametrize("image", sorted(LAMBDA_IMAGES))
def test_lambda_image_builds_on_the_lambda_python_base(image: str) -> None:
    steps = _with_build_args(LAMBDA_IMAGES[image])
    assert steps[0] == ("FROM", "public.ecr.aws/lambda/python:3.11")
    for keyword, args in steps:
        if keyword == "COPY":
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), f"{image}: COPY {source} does not exist in the repository"
    (cmd,) = [json.loads(args) for keyword, args in steps if keyword == "CMD"]
    assert cmd == [HANDLERS_BY_IMAGE[image][0]]
    assert any(keyword == "RUN" and "--require-hashes --no-deps" in args and "-r /tmp/requirements.lock" in args
               for keyword, args in steps)
    assert any(keyword == "RUN" and "--no-deps" in args for keyword, args in steps)


@pytest.mark.parametrize("image", sorted(LAMBDA_IMAGES))
def test_both_images_take_the_served_model_from_one_build_argument(image: str) -> None:
    """A site's fine-tuned bundle is served by building with --build-arg MODEL_BUNDLE=...: the worker
    loads it and the API checks target_class against its card, and both default to the shipped one."""
    from anemonefish.model import DEFAULT_BUNDLE, read_card

    steps = _with_build_args(LAMBDA_IMAGES[image])
    (copied,) = [args.split() for keyword, args in steps if keyword == "COPY" and "/opt/anemonefish-model" in args]
    source, target = copied
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "ANEMONEFISH_MODEL_DIR=/opt/anemonefish-model" in env and target.startswith("/opt/anemonefish-model")
    bundle = REPO / source if image == "worker" else (REPO / source).parent
    assert bundle.resolve() == DEFAULT_BUNDLE.resolve() and read_card(bundle).name == read_card(DEFAULT_BUNDLE).name
    if image == "api":
        assert source.endswith("/card.json") and target == "/opt/anemonefish-model/card.json"  # the card only


def _files_the_build_reads() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return ["pyproject.toml", project["readme"], *project.get("license-files", [])]


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.stem)
def test_images_copy_and_admit_every_file_the_package_build_reads(dockerfile: Path) -> None:
    """setuptools refuses a build whose readme or license files are missing: an image that
    installs the package must copy them, and its .dockerignore must let them into the context."""
    copied = {source for keyword, args in _instructions(dockerfile) if keyword == "COPY" for source in args.split()[:-1]}
    admitted = (dockerfile.parent / f"{dockerfile.name}.dockerignore").read_text().splitlines()
    for name in _files_the_build_reads():
        assert (REPO / name).is_file(), f"pyproject.toml names {name}, which does not exist"
        assert name in copied, f"{dockerfile.name} installs the package without copying {name}"
        assert f"!{name}" in admitted, f"{dockerfile.name}.dockerignore keeps {name} out of the build context"


def test_package_license_is_an_spdx_expression_with_its_text() -> None:
    """A `license = {text = ...}` table is deprecated, and setuptools stops building it in 2027."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str) and project["license-files"]
    assert "MIT License" in (REPO / "LICENSE").read_text()


def test_worker_image_limits_blas_threads() -> None:
    env = " ".join(args for keyword, args in _instructions(LAMBDA_IMAGES["worker"]) if keyword == "ENV")
    assert "OPENBLAS_NUM_THREADS=1" in env


@pytest.mark.parametrize("handler", sorted({h for hs in HANDLERS_BY_IMAGE.values() for h in hs}))
def test_image_handlers_are_callables_of_the_package(handler: str) -> None:
    module_name, _, attribute = handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_terraform_names_the_same_handlers_as_the_images() -> None:
    defaults = (REPO / "infra" / "modules" / "functions" / "variables.tf").read_text()
    named = set(re.findall(r'default\s*=\s*"(anemonefish_services\.[\w.]+)"', defaults))
    assert named == {h for hs in HANDLERS_BY_IMAGE.values() for h in hs}


def test_requirements_are_the_runtime_dependencies_without_training_or_test_tools() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = _requirement_names(project["dependencies"] + project["optional-dependencies"]["aws"])
    pinned = _requirement_names(REQUIREMENTS.read_text().splitlines())
    assert pinned == runtime, f"missing: {sorted(runtime - pinned)}, extra: {sorted(pinned - runtime)}"
    assert not pinned & {"tensorflow", "tensorflow-cpu", "moto", "pytest", "librosa", "playwright"}


def test_compose_runs_moto_terraform_local_and_the_stack() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"moto", "terraform", "stack"}
    assert services["moto"]["environment"]["MOTO_DISABLE_GLOBAL_CORS"] == "true"  # as local.moto_server
    terraform = services["terraform"]
    assert terraform["working_dir"] == "/repo/infra/environments/local"
    assert "../infra:/repo/infra" in terraform["volumes"]
    command = " ".join(terraform["command"])
    assert "terraform apply" in command and "aws_endpoint_url=http://127.0.0.1:5000" in command
    assert "output" in command and "app_environment" in command
    stack = services["stack"]
    assert stack["depends_on"]["terraform"]["condition"] == "service_completed_successfully"
    assert (REPO / stack["build"]["dockerfile"]).is_file()
    local = _instructions(REPO / stack["build"]["dockerfile"])
    for keyword, args in local:
        if keyword == "COPY":
            for source in args.split()[:-1]:
                assert (REPO / source).exists(), f"local image: COPY {source} missing"


# --- the requirements really run a detection --------------------------------------------------

RUNTIME_CHECK = r"""
import importlib, importlib.util, json, sys
from anemonefish.detect import Detector
from anemonefish.model import load_bundle
from anemonefish.params import DetectionParams
from anemonefish.formats import FORMATS, render_document

result = Detector(load_bundle()).run(sys.argv[1], params=DetectionParams(threshold=0.5), filename="generated.wav")
documents = {fmt: len(render_document(result, fmt, job_id="image-check")) for fmt in FORMATS}
handlers = {}
for handler in sys.argv[2:]:
    module, _, attr = handler.rpartition(".")
    handlers[handler] = callable(getattr(importlib.import_module(module), attr))
tensorflow = importlib.util.find_spec("tensorflow") is not None
print(json.dumps({"duration_s": result.audio.duration_s, "events": len(result.events),
                  "documents": documents, "handlers": handlers, "tensorflow": tensorflow}))
"""


# What `pip` in the Lambda python:3.11 base (Amazon Linux 2, glibc 2.26) may install.
LAMBDA_PLATFORM = _lock_tool().LAMBDA_PLATFORM


def _pip(python: Path, *args: str) -> None:
    # pip's own cache (~/.cache/pip) makes reruns fast; nothing is downloaded twice.
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"


@pytest.mark.slow
def test_image_requirements_run_a_detection_without_tensorflow(tmp_path: Path) -> None:
    """As the Dockerfiles do: the lock into a task root for the Lambda platform (binary wheels
    only, each checked against its hash, nothing beyond it), the package with --no-deps on top;
    then a detection runs from there, so the lock holds everything the images need."""
    env_dir = tmp_path / "image-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    task_root = tmp_path / "task-root"
    _pip(python, "--only-binary=:all:", "--require-hashes", "--no-deps", *LAMBDA_PLATFORM, "--target", str(task_root),
         "-r", str(LOCK))
    _pip(python, "--no-deps", "--target", str(task_root), str(REPO))

    rate = 48000
    t = np.arange(5 * rate) / rate
    recording = tmp_path / "generated.wav"
    sf.write(recording, (0.05 * np.random.default_rng(3).standard_normal(t.size)
                         + 0.2 * np.sin(2 * np.pi * 600 * t)).astype(np.float32), rate, subtype="PCM_16")
    handlers = sorted({h for hs in HANDLERS_BY_IMAGE.values() for h in hs})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(OPENBLAS_NUM_THREADS="1", AWS_DEFAULT_REGION="us-east-1",
               POWERTOOLS_METRICS_DISABLED="true", PYTHONPATH=str(task_root))
    proc = subprocess.run([str(python), "-c", RUNTIME_CHECK, str(recording), *handlers], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["tensorflow"] is False, "the image requirements pulled in TensorFlow"
    assert report["duration_s"] == pytest.approx(5.0, abs=0.01)
    assert set(report["documents"]) >= {"json", "csv", "raven", "audacity"}
    # (An untrained bundle may find no events: Audacity labels are then legitimately empty.)
    assert report["documents"]["json"] > 0 and report["documents"]["csv"] > 0, report
    assert all(report["handlers"].values()), report["handlers"]


def _dockerignore_sends(path: str, patterns: list[str]) -> bool:
    """Whether Docker sends ``path`` (relative to the context) past a .dockerignore: the last
    pattern matching the path or one of its parent folders decides, ``!`` re-including."""
    def regex(pattern: str) -> re.Pattern[str]:
        out = re.escape(pattern.strip("/"))
        out = out.replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.compile(out + r"\Z")

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    sent = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        if any(regex(pattern[1:] if negate else pattern).match(prefix) for prefix in prefixes):
            sent = negate
    return sent


@pytest.mark.parametrize("image", sorted(LAMBDA_IMAGES))
def test_the_build_context_sends_what_the_image_copies_and_the_documented_model_folder(image: str) -> None:
    """A .dockerignore that kept models/ out made the documented --build-arg MODEL_BUNDLE=models/my-reef
    fail with "not found"; the shipped bundle and the package must get through as well."""
    ignore = LAMBDA_IMAGES[image].with_name(LAMBDA_IMAGES[image].name + ".dockerignore")
    patterns = [line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")]
    copied = [source for keyword, args in _with_build_args(LAMBDA_IMAGES[image]) if keyword == "COPY"
              for source in args.split()[:-1] if not source.startswith("--")]
    for source in copied:
        files = [p for p in (REPO / source).rglob("*") if p.is_file()] if (REPO / source).is_dir() else [REPO / source]
        for file in files:
            relative = file.relative_to(REPO).as_posix()
            if "__pycache__" not in relative and not relative.endswith(".pyc"):
                assert _dockerignore_sends(relative, patterns), f"{image}: {relative} is copied but not sent"
    for documented in ("models/my-reef/card.json", "models/my-reef/model.tflite", "models/my-reef/verifier/card.json"):
        assert _dockerignore_sends(documented, patterns), documented
    for private in ("tests/unit/test_api_handler.py", ".venv/bin/python", "shared/anemonefish/__pycache__/x.pyc"):
        assert not _dockerignore_sends(private, patterns), private


def test_the_lock_pins_what_requirements_txt_pins_and_hashes_every_package() -> None:
    """requirements.lock is made from requirements.txt (make image-lock): a pin changed in one
    and not the other would build images with other versions than the file says."""
    def pins(text: str) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, flags=re.MULTILINE)
        return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}

    locked, wanted = pins(LOCK.read_text()), pins(REQUIREMENTS.read_text())
    assert {name: locked.get(name) for name in wanted} == wanted, "run make image-lock"
    entries = re.findall(r"^[A-Za-z0-9_.\-]+==\S+ \\\n    --hash=sha256:[0-9a-f]{64}$", LOCK.read_text(), flags=re.MULTILINE)
    assert len(entries) == len(locked) > len(wanted)  # the dependencies' dependencies too
