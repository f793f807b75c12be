"""The notebooks' set-up cell, run as Colab would run it: a fake ``google.colab`` module, a
temporary working folder, ``git``/``pip`` recorded instead of run, the runtime restart caught.
No network, nothing installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from scripts.make_notebook import REPO_URL, SETUP_CELL  # noqa: E402


class Restarted(Exception):
    """Raised where Colab's runtime would restart (``os.kill(os.getpid(), 9)``)."""


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """A simulated Colab: returns the calls it recorded (commands, mounts, kills)."""
    calls = {"run": [], "mount": [], "kill": []}
    google = types.ModuleType("google")
    colab_mod = types.ModuleType("google.colab")
    drive = types.ModuleType("google.colab.drive")
    drive.mount = lambda path, **kw: calls["mount"].append(path)
    colab_mod.drive = drive
    google.colab = colab_mod
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_mod)
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive)

    def fake_run(cmd, check=False, **kw):
        calls["run"].append(list(cmd))
        if cmd[:2] == ["git", "clone"]:  # a clone: the folder with its requirements
            target = Path(cmd[-1])
            target.mkdir(parents=True)
            (target / "requirements.txt").write_text("numpy\n")
        return subprocess.CompletedProcess(cmd, 0)

    def fake_kill(pid, sig):
        calls["kill"].append((pid, sig))
        raise Restarted

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(os, "kill", fake_kill)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)  # keep this process's stderr
    monkeypatch.chdir(tmp_path)  # Colab's /content; restored afterwards
    for name in ("XFER_PROFILE", "XFER_DATA_DIR", "XFER_REPO_URL"):
        monkeypatch.delenv(name, raising=False)
    calls["root"] = tmp_path
    return calls


def run_cell(source: str = SETUP_CELL) -> dict:
    namespace: dict = {}
    exec(compile(source, "<set-up cell>", "exec"), namespace)
    return namespace


def edit(line_start: str, new_line: str) -> str:
    """The set-up cell with one of its user settings edited, as a user would."""
    lines = SETUP_CELL.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(line_start))  # the first: the setting
    lines[index] = new_line
    return "\n".join(lines)


def test_first_run_clones_installs_and_restarts_once(colab, capsys, monkeypatch):
    monkeypatch.setenv("XFER_REPO_URL", "https://example.invalid/my-fork.git")
    with pytest.raises(Restarted):
        run_cell()
    repo = colab["root"] / "xfer-keras"
    clone, pip = colab["run"]
    assert clone[:2] == ["git", "clone"] and "https://example.invalid/my-fork.git" in clone
    assert clone[-1] == str(repo)
    assert pip[1:4] == ["-m", "pip", "install"]
    assert str(repo / "requirements.txt") in pip and ["-e", str(repo)] == pip[-2:]
    assert (repo / ".colab_installed").is_file()
    assert "restart" in capsys.readouterr().out
    assert len(colab["kill"]) == 1


def test_default_url_is_the_readme_one(colab):
    with pytest.raises(Restarted):
        run_cell()
    assert colab["run"][0][-2] == REPO_URL
    readme = (REPO / "README.md").read_text()
    assert REPO_URL in readme and "XFER_REPO_URL" in readme


def test_second_run_sets_quick_profile_and_explains_the_data(colab, capsys):
    with pytest.raises(Restarted):
        run_cell()
    capsys.readouterr()
    namespace = run_cell()  # after the restart: nothing is cloned or installed again
    assert len(colab["run"]) == 2 and len(colab["kill"]) == 1
    assert Path.cwd() == colab["root"] / "xfer-keras"
    assert os.environ["XFER_PROFILE"] == "quick" and namespace["PROFILE"] == "quick"
    assert "XFER_DATA_DIR" not in os.environ and not colab["mount"]
    out = capsys.readouterr().out
    assert "bundled examples" in out and "NOT results" in out


def test_drive_folder_is_mounted_and_used(colab):
    (colab["root"] / "xfer-keras").mkdir()
    (colab["root"] / "xfer-keras" / ".colab_installed").write_text("")
    run_cell(edit("DATA = ", 'DATA = "/content/drive/MyDrive/xfer_data"'))
    assert colab["mount"] == ["/content/drive"]
    assert os.environ["XFER_DATA_DIR"] == "/content/drive/MyDrive/xfer_data"
    assert not colab["run"]


def test_full_profile_on_request_warns_without_gpu(colab, capsys, monkeypatch):
    (colab["root"] / "xfer-keras").mkdir()
    (colab["root"] / "xfer-keras" / ".colab_installed").write_text("")
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    namespace = run_cell(edit("PROFILE = ", 'PROFILE = "full"'))
    assert os.environ["XFER_PROFILE"] == "full" and namespace["PROFILE"] == "full"
    out = capsys.readouterr().out
    assert "without a GPU" in out and "FULL PROFILE" in out


def test_locally_nothing_is_installed_and_the_environment_wins(monkeypatch, tmp_path, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setenv("XFER_PROFILE", "full")
    assert run_cell()["PROFILE"] == "full" and not calls
    assert Path.cwd() == tmp_path  # notebooks run from the repository root
    monkeypatch.delenv("XFER_PROFILE")
    assert run_cell()["PROFILE"] == "quick"  # unset: the notebooks' default
    assert "NOT results" in capsys.readouterr().out


def test_every_notebook_opens_with_this_cell():
    for path in sorted((REPO / "notebooks").glob("0*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        assert "".join(cells[1]["source"]) == SETUP_CELL, f"{path.name}: regenerate it"
