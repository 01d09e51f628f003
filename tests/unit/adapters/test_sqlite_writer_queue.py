"""SQLite writers queue on a lock file beside the database (adapters.db.engine.WriterQueue), not in
SQLite's sleeping busy handler: exclusive across processes (a forked child opens its own lock)
and threads, re-entrant for one thread, released by commit and by rollback."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

from sqlalchemy import text

from oligotrial.adapters.db.engine import WriterQueue, make_engine


def _hold(path: str, ready, seconds: float) -> None:
    q = WriterQueue(path)
    q.acquire()
    ready.set()
    time.sleep(seconds)
    q.release()


def test_a_writer_in_another_process_waits_for_the_holder(tmp_path):
    path = str(tmp_path / "db-writers.lock")
    q = WriterQueue(path)
    q.acquire()  # the parent opens its file before forking: the child must not share it
    q.release()
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_hold, args=(path, ready, 0.6))
    p.start()
    assert ready.wait(30)
    t0 = time.monotonic()
    q.acquire()
    waited = time.monotonic() - t0
    q.release()
    p.join(30)
    assert waited > 0.3, waited


def test_threads_take_turns_and_one_thread_may_nest(tmp_path):
    q = WriterQueue(str(tmp_path / "db-writers.lock"))
    inside, overlap = [0], [False]

    def work():
        for _ in range(50):
            q.acquire()
            q.acquire()  # nested: no second wait
            inside[0] += 1
            overlap[0] |= inside[0] > 1
            inside[0] -= 1
            q.release()
            q.release()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not overlap[0] and inside[0] == 0


def test_commit_and_rollback_release_the_queue(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    done = []

    def other():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        done.append(1)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert done == [1]
    engine.dispose()
