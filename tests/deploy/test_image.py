"""deploy/Dockerfile without Docker: multi-stage on a pinned slim base, non-root, a health check on /healthz, any
service by command, and the sources it copies are enough to build the package."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.deploy

DOCKERFILE = REPO / "deploy" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_multi_stage_on_a_pinned_slim_base():
    instructions = _instructions()
    args = dict(arg.split("=", 1) for kind, arg in instructions if kind == "ARG" and "=" in arg)
    stages = [arg for kind, arg in instructions if kind == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    base = args["PYTHON_IMAGE"]
    assert all(stage.split()[0] == "${PYTHON_IMAGE}" for stage in stages)
    # An exact release (3.11.13), or a digest: never a moving tag like 3.11 or latest.
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert any(kind == "COPY" and arg.startswith("--from=build ") for kind, arg in instructions)


def test_runs_as_a_numeric_non_root_user_and_by_command():
    instructions = _instructions()
    (user,) = [arg for kind, arg in instructions if kind == "USER"]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert ("ENTRYPOINT", '["newswire"]') in instructions
    assert not any(kind == "ENV" and "NEWSWIRE_" in arg.split("#")[0] for kind, arg in instructions), \
        "a NEWSWIRE_* variable in the image would override the operator's config file"


def test_health_check_asks_healthz():
    (check,) = [arg for kind, arg in _instructions() if kind == "HEALTHCHECK"]
    assert "/healthz" in check and "NEWSWIRE_SERVICE__METRICS_PORT" in check and "9400" in check
    assert ("EXPOSE", "9400") in _instructions()


def test_the_build_stage_copies_everything_the_package_needs():
    """pyproject.toml, its readme and every top-level package setuptools is told to find are copied."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {source.rstrip("/") for kind, arg in _instructions() if kind == "COPY" and not arg.startswith("--from")
              for source in arg.split()[:-1]}
    packages = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {"pyproject.toml", project["project"]["readme"]} | packages <= copied
    assert all((REPO / path).exists() for path in copied)
