"""What a folder walk will not follow (symlinks out, loops, FIFOs, devices) and what it reports.

Every test that could block on a FIFO runs under a 5 s alarm (``deadline``).
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from citeqa.corpus import load_corpus
from citeqa.corpus.formats.text import read_document
from citeqa.errors import InputError

GOOD_TEXT = "一、總論\n\n外交部持續推動榮邦計畫。\n"


@pytest.fixture
def deadline():
    """Fail instead of hanging when something opens a FIFO (a blocked open() is interrupted)."""

    def expired(signum, frame):
        raise TimeoutError("took over 5 s: something blocked")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)



# --------------------------------------------------------------------------- files that are not files


def test_fifo_named_directly_is_refused_without_opening_it(tmp_path, deadline):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"pipe\.txt: a FIFO, not a document file"):
        read_document(fifo, max_bytes=1000)


def test_device_named_directly_is_refused():
    with pytest.raises(InputError, match=r"/dev/null: a character device, not a document file"):
        load_corpus([Path("/dev/null")])


# --------------------------------------------------------------------------- folder walking


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "policy.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (root / "sub" / "note.md").write_text("# 附錄\n\n附錄說明。\n", encoding="utf-8")
    return root


def _skipped(corpus) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in corpus.skipped}


def test_symlinks_to_files_and_folders_outside_the_folder_are_not_followed(tmp_path):
    root = _folder(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("機密文件內容。\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "far.txt").write_text("遠方的文件。\n", encoding="utf-8")
    (root / "outside.txt").symlink_to(secret)
    (root / "ext").symlink_to(tmp_path / "elsewhere")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert _skipped(corpus) == {
        "ext": f"{root / 'ext'}: a symlink to {tmp_path / 'elsewhere'}, outside the folder",
        "outside.txt": f"{root / 'outside.txt'}: a symlink to {secret}, outside the folder",
    }
    assert not any("機密" in p.text or "遠方" in p.text for p in corpus.passages)


def test_symlinks_inside_the_folder(tmp_path):
    """A symlink to a file inside is read under its own name; one to a folder is reported, not walked."""
    root = _folder(tmp_path)
    (root / "alias.txt").symlink_to(root / "policy.txt")
    (root / "loopdir").symlink_to(root)
    (root / "sub" / "up").symlink_to("..")
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["alias.txt", "policy.txt", "sub/note.md"]
    skipped = _skipped(corpus)
    assert set(skipped) == {"loopdir", "up"}
    assert all("a symlink to a folder, not followed" in why for why in skipped.values())


def test_folder_given_through_a_symlink_is_inside_itself(tmp_path):
    root = _folder(tmp_path)
    (root / "alias.txt").symlink_to("policy.txt")
    link = tmp_path / "link"
    link.symlink_to(root)
    assert [d.source for d in load_corpus([link]).documents] == ["alias.txt", "policy.txt", "sub/note.md"]


def test_odd_entries_in_a_folder_are_each_reported(tmp_path, deadline):
    """The probe's docsE: a symlink loop, a dangling symlink, a FIFO, a socket, /dev/zero."""
    root = _folder(tmp_path)
    (root / "a-loop.txt").symlink_to("b-loop.txt")
    (root / "b-loop.txt").symlink_to("a-loop.txt")
    (root / "gone.md").symlink_to("nowhere.md")
    os.mkfifo(root / "fifo.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock.md"))
    (root / "zero.txt").symlink_to("/dev/zero")
    try:
        corpus = load_corpus([root])
    finally:
        server.close()
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    skipped = _skipped(corpus)
    assert sorted(skipped) == ["a-loop.txt", "b-loop.txt", "fifo.txt", "gone.md", "sock.md", "zero.txt"]
    assert "a symlink loop" in skipped["a-loop.txt"] and "a symlink loop" in skipped["b-loop.txt"]
    assert "does not exist" in skipped["gone.md"]
    assert "a FIFO, not a document file" in skipped["fifo.txt"]
    assert "a socket, not a document file" in skipped["sock.md"]
    assert "a symlink to /dev/zero, outside the folder" in skipped["zero.txt"]
    assert all(why.startswith(str(root)) for why in skipped.values())  # each reason names its file


def test_unreadable_sub_folder_is_reported(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    (root / "locked").mkdir()
    (root / "locked" / "inside.txt").write_text("看不到的內容。\n", encoding="utf-8")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path) == root / "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    corpus = load_corpus([root])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert _skipped(corpus) == {"locked": f"{root / 'locked'}: cannot read this folder (Permission denied)"}


def test_unreadable_folder_given_is_an_error(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    monkeypatch.setattr(os, "scandir", lambda path: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(InputError, match=r"docs: cannot read this folder \(Permission denied\)"):
        load_corpus([root])


def test_excluded_and_hidden_folders_are_not_walked(tmp_path, deadline):
    root = _folder(tmp_path)
    for hidden in ("drafts", ".git"):
        (root / hidden).mkdir()
        os.mkfifo(root / hidden / "fifo.txt")
        (root / hidden / "gone.md").symlink_to("nowhere.md")
    corpus = load_corpus([root], exclude=["drafts"])
    assert [d.source for d in corpus.documents] == ["policy.txt", "sub/note.md"]
    assert corpus.skipped == ()


def test_entries_the_globs_leave_out_are_not_reported(tmp_path, deadline):
    root = _folder(tmp_path)
    os.mkfifo(root / "fifo.txt")
    (root / "gone.md").symlink_to("nowhere.md")
    (root / "photo.jpg").symlink_to("/etc/hostname")
    corpus = load_corpus([root], include=["*.md"])
    assert [d.source for d in corpus.documents] == ["sub/note.md"]
    assert list(_skipped(corpus)) == ["gone.md"]
