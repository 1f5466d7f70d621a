"""The extraction child's sandbox (no secrets, no network, no path, no writes) and the cap
on the text read from one file, on the real child process."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.documents import extraction
from apps.documents.extraction import ExtractionFailed, extract_pages
from tests.documents import files

SECRETS = {
    "SECRET_KEY": "django-secret-for-the-probe",
    "THEO_JWT_SIGNING_KEY": "jwt-secret-for-the-probe",
    "DATABASE_URL": "postgres://theo:db-password-for-the-probe@/theo",
    "ANTHROPIC_API_KEY": "sk-ant-key-for-the-probe",
}

# Runs the real child's sandbox, then reports what it can still see and do.
PROBE = """
import json, os, runpy, socket, sys
child = runpy.run_path(sys.argv[1])
sandbox = child["enter_sandbox"](512, 30)
report = {"sandbox": sandbox, "environ": dict(os.environ), "argv": sys.argv, "cwd": os.getcwd()}
report["stdin"] = sys.stdin.buffer.read().decode()
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=3).close()
    report["connect"] = "connected"
except OSError as exc:
    report["connect"] = f"refused: {exc}"
try:
    report["parent_environ"] = len(open(f"/proc/{os.getppid()}/environ", "rb").read())
except OSError as exc:
    report["parent_environ"] = f"refused: {exc}"
try:
    with open("/tmp/theo-probe-write-%d" % os.getpid(), "wb") as handle:
        handle.write(b"x")
    report["write"] = "written"
except OSError as exc:
    report["write"] = f"refused: {exc}"
print(json.dumps(report))
"""


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on loopback that accepts connections (from the test's own network)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def probe_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: int) -> dict:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)  # the worker's environment has these
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    (tmp_path / "documents").mkdir()
    document = tmp_path / "documents" / "book.txt"
    document.write_text("In the beginning was the Word.")
    with extraction.open_stored_file(document) as source:
        completed = extraction.spawn_child(
            [str(extraction.CHILD_SCRIPT), str(listener)], stdin=source, timeout=60, script=probe
        )
    assert completed.returncode == 0, completed.stderr.decode()
    return json.loads(completed.stdout)


def test_the_child_sees_none_of_the_workers_secrets(probe_report):
    environ = probe_report["environ"]
    assert set(environ) <= set(extraction.CHILD_ENVIRONMENT), environ
    for value in SECRETS.values():
        assert value not in json.dumps(environ)
    assert "DJANGO_SETTINGS_MODULE" not in environ


def test_the_child_reads_the_file_from_stdin(probe_report, tmp_path):
    assert probe_report["stdin"] == "In the beginning was the Word."
    assert not any(str(tmp_path / "documents") in argument for argument in probe_report["argv"])
    assert probe_report["cwd"] == "/"


def test_the_child_is_never_told_where_the_file_is(tmp_path, monkeypatch):
    real_spawn = extraction.spawn_child
    seen: list[list[str]] = []

    def recording(arguments, **kwargs):
        seen.append(arguments)
        return real_spawn(arguments, **kwargs)

    monkeypatch.setattr(extraction, "spawn_child", recording)
    path = tmp_path / "book.txt"
    path.write_bytes(files.text_bytes(1))
    assert extract_pages(path, "text")
    assert seen and not any(str(tmp_path) in argument or "book" in argument for argument in seen[0])


def test_the_child_has_no_network(probe_report):
    """Linux with user namespaces (this machine): the child has a network of its own
    with nothing in it, so even loopback, where the test listens, is unreachable."""
    assert probe_report["sandbox"]["network"] == "isolated"
    assert probe_report["connect"].startswith("refused"), probe_report["connect"]


def test_the_child_cannot_read_the_workers_environment_through_proc(probe_report):
    assert str(probe_report["parent_environ"]).startswith("refused"), probe_report["parent_environ"]


def test_the_child_cannot_write_files(probe_report):
    assert probe_report["write"].startswith("refused"), probe_report["write"]


def test_the_parent_can_still_connect_to_the_listener(listener):
    """The control for test_the_child_has_no_network: the listener does accept connections."""
    socket.create_connection(("127.0.0.1", listener), timeout=3).close()


def test_real_extraction_works_inside_the_sandbox(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "book.pdf"
    path.write_bytes(files.pdf_bytes(2))
    pages = extract_pages(path, "pdf")
    assert [page.number for page in pages] == [1, 2]
    assert "marker-2" in pages[1].text


# --- the cap on extracted text ------------------------------------------------------------


def cap_reason(path: Path, file_type: str) -> str:
    with pytest.raises(ExtractionFailed) as caught:
        extract_pages(path, file_type)
    reason = str(caught.value)
    assert "THEO_MAX_DOCUMENT_CHARS" in reason and "Split it" in reason, reason
    return reason


@pytest.mark.parametrize(
    ("name", "data", "file_type"),
    [
        pytest.param("book.pdf", lambda: files.pdf_bytes(4), "pdf", id="pdf"),
        pytest.param("book.docx", lambda: files.docx_bytes(4), "docx", id="docx"),
        pytest.param("book.html", lambda: files.html_bytes(4), "html", id="html"),
        pytest.param("book.txt", lambda: files.text_bytes(4), "text", id="text"),
    ],
)
def test_a_file_with_more_text_than_the_cap_fails_saying_which_limit(tmp_path, settings, name, data, file_type):
    path = tmp_path / name
    path.write_bytes(data())
    settings.MAX_DOCUMENT_CHARS = 10**6
    assert extract_pages(path, file_type)  # under the cap: read as usual

    settings.MAX_DOCUMENT_CHARS = 500
    assert "500 characters" in cap_reason(path, file_type)


def test_the_text_cap_stops_reading_early_not_after_the_whole_file_is_in_memory(tmp_path, settings):
    """80 MB of one-letter words: read whole, they exceed the child's 100 MB of memory (see
    test_extraction's memory test); read as a stream, the cap refuses them after 1 MB."""
    settings.EXTRACTION_MEMORY_MB = 100
    settings.MAX_DOCUMENT_CHARS = 1_000_000
    path = tmp_path / "letters.txt"
    with open(path, "wb") as handle:
        for _ in range(80):
            handle.write(b"a " * (512 * 1024))

    assert "1,000,000 characters" in cap_reason(path, "text")


def test_the_parent_checks_the_cap_too(tmp_path, settings, monkeypatch):
    """A child that ignores the cap (here: told a larger one) is caught by the parent."""
    settings.MAX_DOCUMENT_CHARS = 100
    real_spawn = extraction.spawn_child

    def lying_child(arguments, **kwargs):
        return real_spawn([*arguments[:3], str(10**9)], **kwargs)

    monkeypatch.setattr(extraction, "spawn_child", lying_child)
    path = tmp_path / "book.txt"
    path.write_bytes(files.text_bytes(2))
    assert "100 characters" in cap_reason(path, "text")


def test_utf16_and_legacy_encodings_still_decode_in_chunks(tmp_path):
    text = "Grace — χάρις — gratia. " * 60_000  # > 1 MB: more than one chunk
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(text.encode("utf-16"))
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes(("Café – “grace” " * 80_000).encode("cp1252"))

    assert "χάρις" in extract_pages(utf16, "text")[0].text
    assert "Café – “grace”" in extract_pages(legacy, "text")[0].text
    assert os.path.getsize(legacy) > extraction.PAGE_CHARS


def test_a_text_of_empty_form_feed_pages_is_refused_not_turned_into_millions_of_pages(tmp_path):
    path = tmp_path / "pages.txt"
    path.write_bytes(b"x\f" * 200_000)  # 200,000 one-letter pages, 400 KB

    with pytest.raises(ExtractionFailed) as caught:
        extract_pages(path, "text")

    assert "200,000 pages" in str(caught.value) and "Split it" in str(caught.value)


def test_a_pdf_with_more_pages_than_the_cap_is_refused(tmp_path, monkeypatch):
    """The cap lives in the child (a standalone script): a copy of it with a smaller cap
    plays it here, rather than building a 50,000-page PDF."""
    child = tmp_path / "extract_child.py"
    shutil.copy(extraction.CHILD_SCRIPT.with_name("extract_layout.py"), tmp_path)  # the child loads it beside itself
    child.write_text(extraction.CHILD_SCRIPT.read_text().replace("MAX_PAGES = 50_000", "MAX_PAGES = 3"))
    monkeypatch.setattr(extraction, "CHILD_SCRIPT", child)
    path = tmp_path / "book.pdf"
    path.write_bytes(files.pdf_bytes(4))

    with pytest.raises(ExtractionFailed) as caught:
        extract_pages(path, "pdf")

    assert "4 pages, more than the 3" in str(caught.value)


def test_the_parent_does_not_parse_an_answer_longer_than_any_honest_one(tmp_path, settings, monkeypatch):
    settings.MAX_DOCUMENT_CHARS = 10
    flood = tmp_path / "flood.py"
    flood.write_text('import sys\nsys.stdout.write(\'{"pages": [\' + \'{"page": 1, "text": ""},\' * 200000)\n')
    monkeypatch.setattr(extraction, "CHILD_SCRIPT", flood)
    path = tmp_path / "book.txt"
    path.write_bytes(b"words")

    with pytest.raises(ExtractionFailed) as caught:
        extract_pages(path, "text")

    assert "10 characters" in str(caught.value)


def test_where_the_platform_refuses_a_network_namespace_extraction_goes_on_and_says_so(tmp_path, monkeypatch):
    """A copy of the child whose unshare is refused (as under a strict seccomp profile)."""
    from structlog.testing import capture_logs

    child = tmp_path / "extract_child.py"
    shutil.copy(extraction.CHILD_SCRIPT.with_name("extract_layout.py"), tmp_path)  # the child loads it beside itself
    source = extraction.CHILD_SCRIPT.read_text()
    assert "if libc.unshare(flags) == 0:" in source
    child.write_text(source.replace("if libc.unshare(flags) == 0:", "if False:"))
    monkeypatch.setattr(extraction, "CHILD_SCRIPT", child)
    monkeypatch.setattr(extraction, "_network_warned", False)
    path = tmp_path / "book.txt"
    path.write_bytes(files.text_bytes(1))

    with capture_logs() as logs:
        assert extract_pages(path, "text")
        assert extract_pages(path, "text")

    warnings = [entry for entry in logs if entry["event"] == "extraction_network_not_isolated"]
    assert len(warnings) == 1  # once per process, not once per file
    assert warnings[0]["network"].startswith("shared")
