"""A user's index is never replaced, deleted or half-written without being asked (probe F2, F3, F9, F14).

Fast: the fake embedder, in process. Each test reproduces a finding of the probe of d7b5632.
"""

from __future__ import annotations

import errno
import json
import threading

import numpy as np
import pytest

from citeqa.errors import IndexStateError, InputError
from citeqa.index import open_index
from citeqa.index.local.directory import DirState, inspect, writer
from citeqa.index.update import update_index
from citeqa.qa.engine import Engine
from citeqa.settings import Settings

POLICY = (
    "一、公司請假規定\n\n員工每年享有特休假十四天，須於三日前在系統提出申請。\n\n"
    "二、差旅規定\n\n出差住宿費每晚上限為新台幣三千元，須檢附收據報支。\n"
)


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs1"
    d.mkdir()
    (d / "policy.txt").write_text(POLICY, encoding="utf-8")
    return d


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env({}, index_dir=tmp_path / "data" / "index", cache_dir=tmp_path / "cache")


def _update(settings, fake, *paths, **kw):
    return update_index(settings, list(paths), embedder=fake, progress=False, log=lambda _: None, **kw)


def _sources(index_dir):
    gen = (index_dir / "CURRENT").read_text().strip()
    return sorted(json.loads((index_dir / gen / "manifest.json").read_text())["sources"])


def _gens(index_dir):
    return sorted(p.name for p in index_dir.glob("gen-*"))


def test_lost_current_pointer_keeps_the_users_index(settings, docs, fake_embedder):
    """F2a: with CURRENT gone, ask/search/serve used to build the bundled corpus and delete the user's generation."""
    _update(settings, fake_embedder, docs)
    before = _gens(settings.index_dir)
    (settings.index_dir / "CURRENT").unlink()
    assert inspect(settings.index_dir) is DirState.BROKEN
    with pytest.raises(IndexStateError, match=r"citeqa index --index .* rebuild it from the paths"):
        Engine.open(settings, progress=False, log=lambda _: None, embedder=fake_embedder)
    assert _gens(settings.index_dir) == before  # kept as it was
    # The advice works: it rebuilds from the recorded folder, not from the bundled document.
    _update(settings, fake_embedder)
    assert _sources(settings.index_dir) == ["policy.txt"]


def test_damaged_manifest_is_not_refilled_with_the_bundled_corpus(settings, docs, fake_embedder):
    """F2b: the hint `citeqa index --index DIR` indexed the bundled corpus when the manifest was damaged."""
    _update(settings, fake_embedder, docs)
    index_dir = settings.index_dir
    gen = (index_dir / "CURRENT").read_text().strip()
    (index_dir / gen / "manifest.json").write_text("{ broken")
    with pytest.raises(IndexStateError) as err:
        open_index(index_dir, fake_embedder)
    assert "records no paths" in str(err.value) and "citeqa index PATH" in str(err.value)
    with pytest.raises(IndexStateError, match="records no paths"):
        _update(settings, fake_embedder)
    assert _gens(index_dir) == [gen]  # nothing deleted, nothing built
    _update(settings, fake_embedder, docs)  # naming the documents rebuilds it
    assert _sources(index_dir) == ["policy.txt"] and open_index(index_dir, fake_embedder).passage_count == 2


def test_recorded_paths_survive_in_an_older_generation(settings, docs, fake_embedder):
    """CURRENT damaged but a generation's manifest readable: its recorded paths are used."""
    _update(settings, fake_embedder, docs)
    (settings.index_dir / "CURRENT").write_text("gen-that-does-not-exist\n")
    _update(settings, fake_embedder)
    assert _sources(settings.index_dir) == ["policy.txt"]


def test_default_index_is_built_only_into_a_new_directory(settings, fake_embedder):
    engine = Engine.open(settings, progress=False, log=lambda _: None, embedder=fake_embedder)
    assert engine.index.passage_count > 20 and inspect(settings.index_dir) is DirState.LIVE
    (settings.index_dir / "CURRENT").unlink()
    with pytest.raises(IndexStateError):
        Engine.open(settings, progress=False, log=lambda _: None, embedder=fake_embedder)
    (settings.index_dir / "notes.txt").write_text("mine")
    for gen in settings.index_dir.glob("gen-*"):
        import shutil

        shutil.rmtree(gen)
    with pytest.raises(InputError, match="not empty and holds no citeqa index"):
        Engine.open(settings, progress=False, log=lambda _: None, embedder=fake_embedder)
    assert (settings.index_dir / "notes.txt").read_text() == "mine"


def test_second_writer_fails_instead_of_deleting_the_firsts_generation(settings, docs, fake_embedder, tmp_path):
    """F3: two builds on one directory both reported success; the second's generation was deleted."""
    index_dir = settings.index_dir
    started, release = threading.Event(), threading.Event()

    class SlowEmbedder(type(fake_embedder)):
        def encode_passages(self, texts, *, progress=False):
            started.set()
            release.wait(30)
            return super().encode_passages(texts, progress=progress)

    errors: list[BaseException] = []

    def first():
        try:
            _update(settings, SlowEmbedder(), docs)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    assert started.wait(30)
    with pytest.raises(IndexStateError, match="another `citeqa index` is writing"):
        _update(settings, fake_embedder, tmp_path / "docs1")
    release.set()
    t.join(30)
    assert not errors
    assert _sources(index_dir) == ["policy.txt"] and len(_gens(index_dir)) == 1


def test_cli_second_writer_exits_2_before_loading_the_model(docs, tmp_path, capsys):
    from citeqa.cli import main

    index_dir = tmp_path / "idx"
    index_dir.mkdir()
    with writer(index_dir):
        code = main(["index", str(docs), "--index", str(index_dir), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "another `citeqa index` is writing" in err[0]


def test_disk_full_removes_partial_files_and_keeps_the_previous_index(settings, docs, fake_embedder, monkeypatch):
    """F9: ENOSPC while writing gave a traceback and left the partial generation filling the disk."""
    _update(settings, fake_embedder, docs)
    index_dir = settings.index_dir
    before = (index_dir / "CURRENT").read_text()
    real_save = np.save

    def full_disk(path, arr, *a, **kw):
        if "sentence_vectors" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(path, arr, *a, **kw)

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(IndexStateError, match=r"No space left on device.*previous index is unchanged"):
        _update(settings, fake_embedder, docs, full=True)
    assert (index_dir / "CURRENT").read_text() == before
    assert not list(index_dir.glob(".tmp-*")) and len(_gens(index_dir)) == 1
    assert open_index(index_dir, fake_embedder).passage_count == 2


def test_cli_index_into_a_file_fails_before_any_work(docs, tmp_path, capsys):
    """F14: `--index /etc/passwd` embedded everything, then crashed with FileExistsError."""
    from citeqa.cli import main

    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    for argv in (["index", str(docs), "--index", str(target)], ["ask", "x", "--index", str(target)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is a file, not an index directory" in err and "Traceback" not in err
    assert target.read_text() == "root:x:0:0\n"


def test_unwritable_index_directory_is_refused_before_loading_the_model(docs, tmp_path, monkeypatch):
    import tempfile as tf

    def denied(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tf, "NamedTemporaryFile", denied)
    settings = Settings.from_env({}, index_dir=tmp_path / "ro", cache_dir=tmp_path / "c")
    with pytest.raises(InputError, match="cannot write the index directory"):
        update_index(settings, [docs], progress=False, log=lambda _: None)  # no embedder: it must not get there
