"""A worker killed by the kernel mid-document (SIGKILL, as the OOM killer sends it): with
acks_late and reject_on_worker_lost the task is delivered again at once, and would be
forever; the claim counts the starts and past THEO_INGEST_MAX_ATTEMPTS the document
fails with a reason instead. A real prefork worker, a real broker, real SIGKILLs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.documents.models import Document
from tests.integration.conftest import log_tail, running_worker
from tests.integration.test_ingestion import passages_of, upload, wait_until_finished

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_ATTEMPTS = 2
WAIT_SECONDS = 120  # each new pool process loads the embedding model again


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.fixture
def prefork_worker(django_db_setup, tmp_path) -> Iterator[subprocess.Popen]:
    """A worker whose task runs in a pool process (as in production), so killing that
    process is a lost worker the main process sees and answers by requeueing the task."""
    log_path = tmp_path / "worker.log"
    with running_worker(
        log_path, name="kill", pool="prefork", level="info", THEO_INGEST_MAX_ATTEMPTS=str(MAX_ATTEMPTS)
    ) as process:
        process.log_path = log_path  # type: ignore[attr-defined]
        yield process


def wait_for_start(document_id: str, attempt: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        document = Document.objects.get(pk=document_id)
        if document.status == "processing" and document.attempts == attempt:
            return
        assert document.status != "completed", "the document finished before the worker could be killed"
        assert time.monotonic() < deadline, f"start {attempt} never came: {document.status}, {document.attempts}"
        time.sleep(0.05)


def kill_pool_process(worker: subprocess.Popen) -> int:
    pool = children_of(worker.pid)
    assert len(pool) == 1, pool
    os.kill(pool[0], signal.SIGKILL)
    return pool[0]


def test_a_document_that_keeps_killing_its_worker_fails_after_the_bound(prefork_worker, client_for, user):
    client = client_for(user)
    # Thousands of passages: many seconds of embedding, time enough to kill the worker mid-run.
    document_id = upload(client, "long.txt", ("grace upon grace " * 100_000).encode(), title="Long")
    try:
        killed = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            wait_for_start(document_id, attempt)
            killed.append(kill_pool_process(prefork_worker))

        document = wait_until_finished(document_id, timeout=WAIT_SECONDS)

        log = log_tail(prefork_worker.log_path, 20000)
        assert document.status == "failed", log
        assert document.attempts == MAX_ATTEMPTS
        assert f"interrupted {MAX_ATTEMPTS} times" in document.failure_reason
        assert "THEO_INGEST_MAX_ATTEMPTS" in document.failure_reason
        assert not passages_of(document_id).exists()
        assert "SIGKILL" in log or "signal 9" in log, log
        # The worker lives on and the task is not delivered again.
        assert prefork_worker.poll() is None
        time.sleep(2)
        assert Document.objects.get(pk=document_id).status == "failed"
        assert len(set(killed)) == MAX_ATTEMPTS  # a new pool process each time
    finally:
        client.delete(f"/api/v1/documents/{document_id}/")
