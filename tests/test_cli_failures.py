"""The CLI's own failure paths (probe F14, F15): one line on stderr, exit code 2, no traceback, no wasted work.

In process through ``citeqa.cli.main`` with the fake engine: no model, no subprocess.
"""

from __future__ import annotations

import socket
import sys
import time

import pytest

from citeqa import cli


@pytest.fixture
def fake_open(monkeypatch, fake_engine):
    monkeypatch.setattr(cli, "open_engine", lambda args: fake_engine)


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


def test_serve_on_a_port_in_use_fails_before_loading_the_model(monkeypatch, capsys):
    def no_model(*a, **kw):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr("citeqa.qa.engine.Engine.open", no_model)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        t0 = time.monotonic()
        assert cli.main(["serve", "--port", str(port)]) == 2
    assert time.monotonic() - t0 < 5
    line = _one_error_line(capsys)
    assert f"127.0.0.1:{port}" in line and "another --port" in line


@pytest.mark.parametrize(("argv", "words"), [(["--bogus"], "unrecognized arguments: --bogus"),
                                             ([], "choose a COMMAND")])
def test_argument_errors_name_the_mistake(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and words in capsys.readouterr().err
