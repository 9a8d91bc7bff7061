"""The CLI's own failure paths (probe F14, F15): one line on stderr, exit code 2, no traceback, no wasted work.

In process through ``citeqa.cli.main`` with the fake engine: no model, no subprocess.
"""

from __future__ import annotations

import io
import json
import socket
import sys

import pytest

from citeqa import cli
from citeqa.cli import commands


@pytest.fixture
def fake_open(monkeypatch, fake_engine):
    monkeypatch.setattr(commands, "open_engine", lambda args: fake_engine)


@pytest.fixture
def no_model(monkeypatch):
    """Loading an engine fails the test: what is refused must be refused before the model loads."""

    def refuse(*a, **kw):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(commands, "open_engine", refuse)
    monkeypatch.setattr("citeqa.qa.engine.Engine.open", refuse)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_closed_stdin_is_empty_input(monkeypatch, fake_open, capsys):
    monkeypatch.setattr(sys, "stdin", None)  # what Python gives a process started with `<&-`
    assert cli.main(["search", "-", "--json"]) == 0
    assert capsys.readouterr().out == ""


def test_full_disk_on_stdout_is_one_line_exit_2(monkeypatch, fake_open, capsys):
    full = open("/dev/full", "w")  # noqa: SIM115 - stdout for the duration of the test
    monkeypatch.setattr(sys, "stdout", full)
    try:
        assert cli.main(["ask", "駐孟買辦事處何時揭牌？", "--json"]) == 2
    finally:
        monkeypatch.undo()
    assert "No space left on device" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "question",
    ["", "   ", "\x01\x02", "x" * 5000, "台" * 30_000],  # a real argv caps one argument at 128 KiB
    ids=["empty", "blank", "control", "5000 chars", "30000 chars"],
)
@pytest.mark.parametrize("command", ["ask", "search"])
def test_bad_question_exits_2_with_one_line_before_loading_the_model(no_model, capsys, command, question):
    assert cli.main([command, question]) == 2
    assert _one_error_line(capsys).startswith("citeqa: error:")


def test_stdin_100kb_line_gets_an_error_object(monkeypatch, fake_open, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("台" * 100_000 + "\n駐孟買辦事處何時揭牌？\n"))
    assert cli.main(["ask", "-", "--json"]) == 2  # one line was bad
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert set(first) == {"question", "error"} and "limit" in first["error"]
    assert second["question"] == "駐孟買辦事處何時揭牌？" and "answer" in second  # the next line is answered


def test_missing_model_path_fails_at_once_without_the_network(capsys, monkeypatch, tmp_path):
    """A model folder that does not exist is refused before sentence-transformers could try the Hub."""
    attempts: list[object] = []

    def record(*args, **kwargs):
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", record)
    monkeypatch.setattr(socket, "create_connection", record)
    argv = ["search", "外交", "--model", str(tmp_path / "no-such-model"), "--index", str(tmp_path / "i")]
    assert cli.main(argv) == 2
    assert "no-such-model" in _one_error_line(capsys) and attempts == []


def test_serve_on_a_port_in_use_fails_before_loading_the_model(no_model, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 2
    line = _one_error_line(capsys)
    assert f"127.0.0.1:{port}" in line and "another --port" in line


@pytest.mark.parametrize(("argv", "words"), [(["--bogus"], "unrecognized arguments: --bogus"),
                                             ([], "choose a COMMAND")])
def test_argument_errors_name_the_mistake(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and words in capsys.readouterr().err
