"""``simulate --processes/--master`` (a Locust master in this process) and ``--worker``."""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gevent

from shopctl.application.errors import DatabaseUnreachable, Interrupted
from shopctl.domain.errors import ErrorKind, InvalidInput, ShopError
from shopctl.load.coordinator import Coordinator
from shopctl.load.shoppers import CURRENT, FLOWS, JOIN, RUN, TAKE, Leased, Shopper, Side
from shopctl.simulation.runner import Ran, Run, Simulation

if TYPE_CHECKING:
    from shopctl.bootstrap import Shop

WAIT_FOR_WORKERS = 120.0  # seconds a master waits for its workers to connect
QUIT_GRACE = 10.0  # seconds the local worker processes get to exit once the run is over


class WorkersUnavailable(ShopError):
    """The workers a master waits for did not connect, or a local one could not start."""

    kind = ErrorKind.UNAVAILABLE


def quiet_locust() -> None:
    """Locust's own log lines (a worker connected, CPU usage) are not shopctl's output."""
    logging.getLogger("locust").setLevel(logging.ERROR)


@dataclass(frozen=True)
class OnLocust:
    """The engine of a run on Locust workers: ``processes`` local ones that it starts with
    ``worker_command(port)``, or (``processes`` None) ``expect_workers`` that connect."""

    processes: int | None = None
    expect_workers: int = 1
    bind_host: str = "*"
    bind_port: int = 5557
    max_wait: float = WAIT_FOR_WORKERS
    worker_command: Callable[[int], list[str]] | None = None
    on_listening: Callable[[str, int, int], None] | None = None  # host, port, workers awaited

    def __call__(self, run: Run, simulation: Simulation) -> Ran:
        from locust.env import Environment
        from locust.exception import RPCError

        quiet_locust()
        expected = self.processes or self.expect_workers
        if run.options.concurrency < expected:
            raise InvalidInput(
                f"--concurrency ({run.options.concurrency}) must be at least the number of"
                f" worker processes ({expected}): each runs one shopper or more"
            )
        environment = Environment(user_classes=[Shopper])
        try:
            runner = environment.create_master_runner(self.bind_host, self.bind_port)
        except RPCError as error:
            raise InvalidInput(
                f"the master cannot listen on {self.bind_host}:{self.bind_port}: {error}"
            ) from None
        port = runner.server.port
        children: list[tuple[subprocess.Popen[bytes], Any]] = []
        coordinator = Coordinator(runner, run)
        try:
            if self.on_listening is not None:
                self.on_listening(self.bind_host, port, expected)
            if self.processes is not None:
                assert self.worker_command is not None, "local workers need their command"
                children = [self._start(self.worker_command(port)) for _ in range(self.processes)]
            nodes = self._wait_for_workers(runner, expected, children)
            coordinator.begin(nodes)
            options = run.options
            runner.start(user_count=options.concurrency, spawn_rate=options.concurrency * 100)
            while not coordinator.over:
                gevent.sleep(simulation.interval)
                simulation.progress(list(coordinator.tallies.values()), coordinator.start, options)
            if (failure := coordinator.failure) is not None:
                raise DatabaseUnreachable(f"a worker's database stopped answering: {failure}")
            ended = [
                instant
                for tally in coordinator.tallies.values()
                for instant in tally.latency.ended.get("flow", [])
            ]
            elapsed = (max(ended) if ended else time.perf_counter()) - coordinator.start
        except KeyboardInterrupt:
            flows = sum(t.done for t in coordinator.tallies.values())
            raise Interrupted(f"the run stopped after {flows} flows") from None
        finally:
            runner.quit()
            self._reap(children)
        return coordinator.ran(max(elapsed, 1e-6))

    @staticmethod
    def _start(command: list[str]) -> tuple[subprocess.Popen[bytes], Any]:
        errors = tempfile.TemporaryFile()  # noqa: SIM115  (closed in _reap)
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            preexec_fn=_ended_with_this_process(),
        )
        return process, errors

    def _wait_for_workers(
        self,
        runner: Any,
        expected: int,
        children: Sequence[tuple[subprocess.Popen[bytes], Any]],
    ) -> list[str]:
        deadline = time.monotonic() + self.max_wait
        while len(runner.clients.ready) < expected:
            for process, errors in children:
                if process.poll() is not None:
                    errors.seek(0)
                    lines = errors.read().decode(errors="replace").strip().splitlines()
                    said = lines[-1] if lines else "no message"
                    raise WorkersUnavailable(
                        f"a local worker process exited with code {process.returncode}: {said}"
                    )
            if time.monotonic() >= deadline:
                raise WorkersUnavailable(
                    f"{len(runner.clients.ready)} of {expected} worker(s) connected within "
                    f"{self.max_wait:g} s",
                    hint="each worker needs to reach the master's port, and the database",
                )
            gevent.sleep(0.05)
        return [client.id for client in runner.clients.ready][:expected]

    @staticmethod
    def _reap(children: Sequence[tuple[subprocess.Popen[bytes], Any]]) -> None:
        deadline = time.monotonic() + QUIT_GRACE
        for process, errors in children:
            while process.poll() is None and time.monotonic() < deadline:
                gevent.sleep(0.05)
            if process.poll() is None:
                process.kill()
                process.wait()
            errors.close()


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def _ended_with_this_process() -> Callable[[], None] | None:
    """What a local worker process runs before it starts, so that it gets SIGTERM when this
    process dies, even by SIGKILL (Linux's ``PR_SET_PDEATHSIG``): a master killed outright
    leaves no workers loading the database. Elsewhere (None), such a worker ends when
    Locust's heartbeat finds its master gone."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    master = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != master:  # the master died before the signal was set
            os._exit(1)

    return set_death_signal


def run_worker(
    shop_factory: Callable[[str], Shop],
    master_host: str,
    master_port: int,
    *,
    max_wait: float = 300.0,
) -> None:
    """``simulate --worker``: serve a master's runs until it says quit; give up when no master
    answers within ``max_wait`` seconds."""
    import zmq
    from locust import runners
    from locust.env import Environment

    quiet_locust()
    environment = Environment(user_classes=[Shopper])
    # Locust's worker asks for its master every CONNECT_TIMEOUT seconds, CONNECT_RETRY_COUNT
    # more times (5 s and 60: five minutes); its module reads both when it asks.
    runners.CONNECT_TIMEOUT = min(5, math.ceil(max_wait))
    runners.CONNECT_RETRY_COUNT = max(0, math.ceil(max_wait / runners.CONNECT_TIMEOUT) - 1)
    try:
        runner = environment.create_worker_runner(master_host, master_port)
    except zmq.ZMQError as error:
        raise InvalidInput(
            f"cannot reach a master at {master_host}:{master_port}: {error}"
        ) from None
    except ConnectionError:
        raise WorkersUnavailable(
            f"no master answered at {master_host}:{master_port} within {max_wait:g} s: start it"
            " first (shopctl simulate --master), and check that this machine reaches that port"
        ) from None
    side = Side(shop_factory, send=lambda kind, data: runner.send_message(kind, data))

    def request(want: int) -> None:
        runner.send_message(TAKE, {"want": want})

    def on_run(msg: Any, **_: Any) -> None:
        side.begin(msg.data, request)
        CURRENT.set(side)

    runner.register_message(RUN, on_run)

    def given(msg: Any, **_: Any) -> None:
        if isinstance(side.source, Leased):
            side.source.given(msg.data["indices"])

    runner.register_message(FLOWS, given)
    runner.send_message(JOIN, None)  # a run sent before the listeners were there: again
    runner.greenlet.join()
