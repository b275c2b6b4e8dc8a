"""Independent pieces of one analysis on several cores: null-model draws, betweenness pivots.

Results never depend on how many processes ran them: every piece is seeded by what it
is, not by who runs it, and ``map_pieces`` returns the results in the order of the pieces.

The helper processes are fresh interpreters (``python -c``), not forks: the analysis
process has usually run NetworKit already, and GNU OpenMP's thread pool does not survive
a fork (a forked child that enters a parallel region can hang). Nor are they
``multiprocessing`` spawns, which re-run the caller's ``__main__`` (a script without an
``if __name__ == "__main__"`` guard would start analyses in every helper). They are
started on first use, reused by every later call of the same process (the interpreter
start and the imports, about a second, are paid once), talk pickle over their standard
input and output, and die with the process that started them (a watchdog thread sees
the parent change; the end of input does the rest), so cancelling a job, which kills its
analysis process, stops them too.

Small work runs in the calling process: below ``MIN_WORK`` (edges times pieces) starting
processes costs more than it saves.

Example
-------
>>> map_pieces(pow, [(2, 3), (3, 2)], work=0)
[8, 9]
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import subprocess
import sys
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Sequence

__all__ = ["map_pieces", "set_processes", "processes", "kept", "forget", "stop_helpers", "helper_pids", "HelperDied", "MIN_WORK"]

#: edges times pieces below which everything runs in the calling process
MIN_WORK = 2_000_000

_processes = 0  # 0: one per core
_helpers: list["_Helper"] = []
#: pieces waiting for a helper, from every map under way in this process (each map
#: waits for its own, so the queue holds at most the pieces of the maps running)
_waiting: "queue.Queue[_Work]" = queue.Queue()
_lock = threading.Lock()


def set_processes(n: int) -> None:
    """How many processes an analysis may use (0: one per core; 1: none besides itself).
    Called by the service from its configuration (``CASTLEGATE_ANALYSIS_PROCESSES``)."""
    global _processes
    if n < 0:
        raise ValueError("processes must be >= 0")
    _processes = int(n)


def processes() -> int:
    return _processes or os.cpu_count() or 1


def map_pieces(fn: Callable[..., Any], pieces: Sequence[tuple], *, work: float) -> list[Any]:
    """``[fn(*p) for p in pieces]``, on up to ``processes()`` processes when ``work``
    (about edges times pieces) is worth it. ``fn`` must be importable (a module-level
    function) and its arguments and result picklable. A piece's exception is raised here.

    Maps from several threads at once (two stages side by side) share the helpers: their
    pieces queue up together, so the cores stay busy until the last piece of either."""
    size = min(processes(), len(pieces))
    if size <= 1 or work < MIN_WORK:
        return [fn(*p) for p in pieces]
    _start(processes())
    works = [_Work(fn, p) for p in pieces]
    for w in works:
        _waiting.put(w)
    try:
        return [w.future.result() for w in works]
    finally:
        for w in works:
            w.future.cancel()  # after an error: the rest is not wanted


class _Work:
    __slots__ = ("fn", "args", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self.fn, self.args, self.future = fn, args, Future()


class HelperDied(RuntimeError):
    """A helper process ended while working on a piece (killed, out of memory)."""


class _Helper:
    def __init__(self) -> None:
        self.retired = False
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from graph.analysis.parallel import _serve; _serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, fn: Callable[..., Any], args: tuple) -> Any:
        try:
            pickle.dump((fn, args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            ok, value = pickle.load(self.proc.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError) as e:
            raise HelperDied(f"a helper process of the analysis ended (exit {self.proc.poll()})") from e
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()


def _start(size: int) -> None:
    with _lock:
        while len(_helpers) < size:
            h = _Helper()
            _helpers.append(h)
            threading.Thread(target=_feed, args=(h,), daemon=True, name="analysis-helper").start()


def _feed(h: "_Helper") -> None:
    """Hands waiting pieces to one helper slot, one at a time, until the helpers are
    stopped; a helper that dies (killed, out of memory) fails its piece and is replaced."""
    while True:
        w = _waiting.get()
        if h.retired:
            _waiting.put(w)  # for the feeders of the helpers started since
            return
        if not w.future.set_running_or_notify_cancel():
            continue
        try:
            w.future.set_result(h.call(w.fn, w.args))
        except HelperDied as e:
            w.future.set_exception(e)
            h.stop()
            with _lock:
                if h.retired:
                    return
                new = _Helper()
                _helpers[_helpers.index(h)] = new
            h = new
        except BaseException as e:  # noqa: BLE001 - the piece's own error, for its map
            w.future.set_exception(e)


def _serve() -> None:
    """A helper's loop: a piece in, its result out, until its input ends."""
    parent = os.getppid()

    def watch() -> None:
        # PR_SET_PDEATHSIG would follow the parent *thread* that started the helper, and
        # helpers outlive the thread of the map that started them
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_processes(1)  # a piece's own maps run inside it: helpers never start helpers
    # the protocol owns the real standard output; anything a library prints goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    # each helper is one core's worth: the pieces are the parallelism
    try:
        import networkit

        networkit.setNumberOfThreads(1)
    except ImportError:  # pragma: no cover - the reference engine alone
        pass
    while True:
        try:
            fn, args = pickle.load(inp)
        except (EOFError, pickle.UnpicklingError):
            # the input ended, whole or cut mid-piece (the caller was killed while writing,
            # say at a job's time limit): either way nobody is left to answer
            return
        try:
            reply = (True, fn(*args))
        except Exception as e:  # noqa: BLE001 - sent back to the caller
            reply = (False, e)
        pickle.dump(reply, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


_kept = threading.local()


def kept(token: str, name: str, build: Callable[[], Any]) -> Any:
    """What ``build()`` made under ``name`` for the call ``token``, built on first use in
    this thread: the pieces of one call share what they work on (built, or unpickled,
    once per process, not per piece). Only the latest call's things are kept: a process
    keeps the graph it is working on, not every graph it saw."""
    if getattr(_kept, "token", None) != token:
        _kept.token, _kept.things = token, {}
    things = _kept.things
    if name not in things:
        things[name] = build()
    return things[name]


def forget(token: str) -> None:
    if getattr(_kept, "token", None) == token:
        _kept.token, _kept.things = None, {}


def helper_pids() -> list[int]:
    """The process ids of this process' helpers (for measurements: their memory, say)."""
    with _lock:
        return [h.proc.pid for h in _helpers if h.alive()]


@atexit.register
def stop_helpers() -> None:
    """Ends this process' helper processes (the next map starts new ones)."""
    with _lock:
        for h in _helpers:
            h.retired = True  # its feeder hands the next piece back and ends
            h.stop()
        _helpers.clear()
