"""One hierarchy of typed errors, and the command line says one line for each of them."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from xfer_keras import errors
from xfer_keras.cli import main

PACKAGE = Path(errors.__file__).resolve().parent
ERROR_TYPES = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
               if issubclass(cls, Exception) and cls.__module__ == errors.__name__]


def test_every_error_type_of_the_package_lives_in_errors_py_under_xfer_error():
    """No module but ``errors.py`` defines an exception class, and every one there is an
    :class:`~xfer_keras.errors.XferError`, which the command line catches."""
    elsewhere = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", "")).endswith(("Error", "Exception"))
                    for base in node.bases):
                elsewhere.append(f"{path.relative_to(PACKAGE)}: {node.name}")
    assert not elsewhere, f"error types outside errors.py: {elsewhere}"
    assert len(ERROR_TYPES) >= 10
    assert all(issubclass(cls, errors.XferError) for cls in ERROR_TYPES)


@pytest.mark.parametrize("error_type", ERROR_TYPES, ids=lambda cls: cls.__name__)
def test_the_command_line_prints_one_line_for_each_error_type(error_type, monkeypatch, capsys):
    """A command that fails with any of the package's errors exits 1 with one ``error:`` line on
    stderr, never a traceback."""
    import xfer_keras.cli as cli

    class Failing:
        @staticmethod
        def register(subparsers):
            parser = subparsers.add_parser("fail")
            parser.set_defaults(func=lambda args: (_ for _ in ()).throw(
                error_type(f"bad.jpg: a {error_type.__name__} for the test")))

    monkeypatch.setattr(cli, "commands", lambda: (Failing,))
    assert main(["fail"]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: bad.jpg: a {error_type.__name__} for the test\n"
    assert "Traceback" not in captured.out + captured.err


def test_an_unknown_option_spelling_is_one_line_not_a_traceback(tmp_path, capsys):
    """``--au-source`` with a name we do not know: the command says so in one line."""
    from skimage import data, io

    image = tmp_path / "face.png"
    io.imsave(image, data.astronaut())
    code = main(["explain", str(image), "--au-source", "nonsense", "--out", str(tmp_path / "out"),
                 "--report", "none"])
    err = capsys.readouterr().err
    assert code == 1 and "unknown AU source 'nonsense'" in err
    assert err.count("\n") == 1 and "Traceback" not in err
