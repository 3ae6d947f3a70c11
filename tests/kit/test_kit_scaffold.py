"""``syncline new connector``: names, refusals, and the generated project end to end.

The end-to-end test generates a project in a temporary directory, installs it
with pip (editable) into a throwaway virtualenv layered over the project's
(so the project's own environment is never modified), and checks that
``syncline connectors`` lists it, that its own acceptance tests pass, that
``syncline sandbox`` serves its sandbox, and that uninstalling removes it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from syncline.cli import new
from syncline.cli.sandbox import sandbox as sandbox_command
from syncline.scaffold import ConnectorName

CLI = "import sys; from syncline.cli.main import main; sys.argv[0] = 'syncline'; main()"
SANDBOX_CLI = (
    "import typer; from syncline.cli.sandbox import sandbox; "
    "app = typer.Typer(); app.command()(sandbox); app()"
)


def test_names_are_derived_from_kebab_case() -> None:
    name = ConnectorName.parse("acme-crm2")
    assert (name.package, name.cls, name.dist, name.label) == (
        "syncline_acme_crm2",
        "AcmeCrm2",
        "syncline-acme-crm2",
        "Acme Crm2",
    )


@pytest.mark.parametrize("bad", ["Acme", "acme_crm", "acme--crm", "-acme", "2acme", "acme-", ""])
def test_a_bad_name_is_a_clear_error(bad: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(new.app, ["connector", "--dir", str(tmp_path), "--", bad])
    assert result.exit_code == 2
    assert "is not kebab-case" in result.output and "acme-crm" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_project_is_never_overwritten(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(new.app, ["connector", "acme-crm", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    marker = tmp_path / "syncline-acme-crm" / "pyproject.toml"
    marker.write_text("kept")
    again = runner.invoke(new.app, ["connector", "acme-crm", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert marker.read_text() == "kept"


def test_sandbox_command_refuses_an_unknown_code() -> None:
    app = typer.Typer()
    app.command()(sandbox_command)
    result = CliRunner().invoke(app, ["no-such-connector"])
    assert result.exit_code == 2
    assert "no sandbox for connector 'no-such-connector'" in result.output


def _layered_venv(where: Path) -> Path:
    """A virtualenv whose interpreter also sees the project's site-packages (read-only use)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so the project's own .pth files (its editable
    # install) are processed too.
    Path(purelib, "syncline-parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def _run(
    python: Path, *args: str, cwd: Path, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.slow
def test_generated_connector_installs_and_passes_its_tests(tmp_path: Path) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(new.app, ["connector", "acme-widgets", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    project = tmp_path / "syncline-acme-widgets"
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    python = _layered_venv(tmp_path / "venv")

    install = ["-m", "pip", "install", "--no-deps", "--quiet", "-e", str(project)]
    if importlib.util.find_spec("wheel") is not None:
        install.insert(3, "--no-build-isolation")
    done = _run(python, *install, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    installed = time.monotonic()

    listed = _run(python, "-c", CLI, "connectors", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {row["code"]: row for row in json.loads(listed.stdout)["connectors"]}
    assert rows["acme-widgets"]["reads"] == ["users"]
    assert rows["acme-widgets"]["origin"] == "syncline_acme_widgets.connector.AcmeWidgets"

    tests = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "failed" not in tests.stdout and " passed" in tests.stdout
    tested = time.monotonic()

    serve = subprocess.Popen(
        [str(python), "-c", SANDBOX_CLI, "acme-widgets", "--records", "7", "--faults", "slow:0.5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        first = serve.stdout.readline()
        assert first.startswith("acme-widgets sandbox on http://127.0.0.1:"), first
        url = first.split()[3]
        settings = [serve.stdout.readline() for _ in range(3)]
        assert settings[0].strip() == "connection settings:"
        key = settings[1].split(":", 1)[1].strip()
        answer = httpx.get(
            f"{url}/v1/users", params={"limit": 10}, headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 200 and len(answer.json()["users"]) == 7
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=10)

    removed = _run(python, "-m", "pip", "uninstall", "-y", "syncline-acme-widgets", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    listed = _run(python, "-c", CLI, "connectors", "--json", cwd=tmp_path)
    assert "acme-widgets" not in {row["code"] for row in json.loads(listed.stdout)["connectors"]}
    print(
        f"scaffold end to end: install {installed - started:.1f} s, "
        f"generated tests {tested - installed:.1f} s, total {time.monotonic() - started:.1f} s"
    )
