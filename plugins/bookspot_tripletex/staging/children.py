"""Preparing a JSON Lines file's chunks in child processes while this process writes them (SQLite).

Staging a chunk is two halves of about equal cost: reading, decoding and checking its records, then
storing the rows. On SQLite the second half runs in the writing process only (one writer per database),
so for a file (`JsonlFileSource`, an initial import) `settings.staging_workers().workers` forked children
take the first half: child `w` of `W` reads the whole range and prepares chunks `w`, `w + W`, … exactly as
`stage._prepare` would here (the same chunks, so the same rows, raw texts and quarantine reasons), makes
their rows for `SqliteWriter` (`bulk.sqlite_rows`: the raw texts compressed there too) and sends them
through a pipe; this process takes the chunks in order and writes them in the caller's transaction.

A child that fails (an exception, or killed) makes the pass raise `StagingWorkerError`: nothing of it is
committed, the caller's transaction rolls back. Children are forked (they inherit the imported modules
and the tenant), they touch no database and end with the pass.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bookspot_tripletex.feed.source import JsonlRecords
from bookspot_tripletex.settings import staging_workers
from bookspot_tripletex.tenants.config import TenantConfig


class StagingWorkerError(RuntimeError):
    """A child preparing chunks failed; the staging pass is abandoned."""


def children_for(records: Any) -> int:
    """How many children should prepare these records: 0 (prepare here) unless they are an untouched
    JSON Lines range at least `min_bytes` long, workers are configured, this process may fork and it
    may run on more than one CPU."""
    if type(records) is not JsonlRecords or not records.untouched:
        return 0
    settings = staging_workers()
    if settings.workers < 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    if multiprocessing.current_process().daemon:  # a daemonic process may not have children
        return 0
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) < 2:
        return 0  # one CPU: nothing would overlap
    try:
        size = records.size()
    except OSError:
        return 0  # reading it here raises the error as it would have
    return settings.workers if size >= settings.min_bytes else 0


AHEAD = 2
"""Messages of one child this process holds before the child waits to send the next."""


@contextmanager
def prepared_in_children(
    records: JsonlRecords, tenant: TenantConfig, now: dt.datetime, workers: int
) -> Iterator[Iterator[Any]]:
    """The range's prepared chunks (`stage._Prepared` with `rows`), in order, made by `workers` children;
    on leaving, every child has ended (killed if the pass stops early)."""
    context = multiprocessing.get_context("fork")
    source = records.source
    drains: list[_Drain] = []
    children: list[Any] = []
    try:
        for worker in range(workers):
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(
                target=_child,
                args=(source.path, source.start, source.end, tenant, now, worker, workers, writer),
                name=f"stage-prepare-{worker}",
                daemon=True,
            )
            drain = _Drain(reader, worker)
            drains.append(drain)
            child.start()
            children.append(child)
            writer.close()  # the child holds the only writing end: its end (or death) is EOF here
            drain.start()
        yield _received(drains, children)
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
        for child in children:
            child.join()
        for drain in drains:
            drain.stop.set()
            if drain.is_alive():
                drain.join()
            drain.reader.close()


class _Drain(threading.Thread):
    """Reads one child's messages as they come, so that the child never waits for this process to ask
    (a pipe holds 64 KiB, a chunk's message about 1.7 MiB): `recv_bytes` waits without the GIL while
    this process writes to SQLite. EOF (the child ended or died) is the last item."""

    def __init__(self, reader: Any, worker: int) -> None:
        super().__init__(name=f"stage-drain-{worker}", daemon=True)
        self.reader = reader
        self.items: queue.Queue[bytes | BaseException] = queue.Queue(AHEAD)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                item: bytes | BaseException = self.reader.recv_bytes()
            except BaseException as exc:  # noqa: BLE001  (EOF above all; whatever it is, the writer raises)
                item = exc
            while not self.stop.is_set():
                try:
                    self.items.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return


def _received(drains: list[_Drain], children: list[Any]) -> Iterator[Any]:
    number = 0
    while True:
        worker = number % len(drains)
        item = drains[worker].items.get()
        if isinstance(item, BaseException):
            children[worker].join(5)
            raise StagingWorkerError(
                f"staging worker {worker} ended without its chunks (exit code {children[worker].exitcode})"
            ) from item
        kind, value = pickle.loads(item)
        if kind == "end":
            return
        if kind == "error":
            raise StagingWorkerError(f"staging worker {worker} failed: {value}")
        yield value
        number += 1


def _child(
    path: Any,
    start: int,
    end: int | None,
    tenant: TenantConfig,
    now: dt.datetime,
    worker: int,
    workers: int,
    writer: Any,
) -> None:
    from bookspot_tripletex.feed.source import JsonlFileSource
    from bookspot_tripletex.staging.stage import BATCH, _chunks, _for_sqlite, _prepare

    for number in (signal.SIGTERM, signal.SIGINT):  # not the handlers of the process it was forked from
        signal.signal(number, signal.SIG_DFL)
    try:
        lines = JsonlFileSource(path, start, end).iter_records()
        for number, chunk in enumerate(_chunks(lines, BATCH)):
            if number % workers == worker:
                writer.send(("chunk", _for_sqlite(_prepare(tenant, chunk, now), tenant.tenant, now)))
        writer.send(("end", None))
    except BrokenPipeError:
        pass  # the writing process stopped the pass
    except BaseException as exc:  # noqa: BLE001  (whatever it was, the writing process says so)
        try:
            writer.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        except OSError:
            pass
    finally:
        writer.close()
