"""Fault benchmark: the hardening review's faults replayed against the real service.

    .venv/bin/python -m benchmarks.faults --repository triton_models \\
        --history-url runs/main/history.sqlite

``dpr serve`` runs in its own process with its local tritonserver, on an index built from the
export, and is put through four faults, each while it serves:

* ``burst`` (row 6): 1,500 simultaneous ``Steer`` calls with a 2 s deadline. Target: every
  call answered or shed (RESOURCE_EXHAUSTED) within its deadline, and no fallback storm (the
  in-process fallback runs no more than it did before the burst).
* ``hung_triton`` (row 4): steady load at concurrency 8 with a 0.5 s client deadline, then
  ``kill -STOP`` on the tritonserver. Target: p99 ≤ 300 ms and no failed call during the
  fault; ``recover_s`` is the time from the stop until calls are steered again (the service's
  supervisor kills and restarts the hung server).
* ``sigterm_drain`` (row 5): steady load, then SIGTERM with a 2 s drain window. Target: no
  call started before the port closed failed; ``exit_s`` is how long the stop took.
* ``parent_killed`` (row 2): a second service is SIGKILLed. Target: no process of its
  tritonserver (server or backend stub) left 5 s later.

Writes ``benchmarks/results/faults/faults.json``. ``--smoke`` does the same on a tiny untrained
export of the synthetic data (``benchmarks.lib.smoke``) with a 300-call burst.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np

from benchmarks.common import (
    add_smoke_arguments,
    parse_args,
    result_path,
    results_root,
    write_service_result,
)
from benchmarks.serving import Service, build_service_index, service_inputs
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc

EXPERIMENT = "faults"
PROMPT = "more comedies"


class Served(Service):
    """``dpr serve`` with its local tritonserver, a 2 s drain window and ``/metrics``."""

    def __init__(self, repository: Path, history_url: str, workdir: Path, name: str) -> None:
        super().__init__(repository, history_url, workdir, name, ("--drain-s", "2"), True)

    def triton_pid(self) -> int:
        """The pid of the tritonserver this service runs now (a restart changes it)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(") ", 1)[1].split()[1])
            if ppid == self.process.pid and b"tritonserver" in cmdline:
                return int(proc.name)
        raise SystemExit("no tritonserver under the service")

    def counter(self, name: str) -> float:
        """The sum of a counter family on the service's /metrics."""
        import urllib.request

        with urllib.request.urlopen(self.metrics_url, timeout=5) as page:
            text = page.read().decode()
        return sum(
            float(v) for v in re.findall(rf"^{name}_total(?:{{[^}}]*}})? (\S+)$", text, re.M)
        )


def _user_requests(users: list[str]) -> list[pb.SteerRequest]:
    return [pb.SteerRequest(user_id=user, prompt=PROMPT, top_k=10) for user in users]


async def _call(
    stub: pb_grpc.SteeringServiceStub, request: pb.SteerRequest, deadline_s: float
) -> tuple[float, float, str, str]:
    """(start, seconds, status code, served path) of one call."""
    started = time.monotonic()
    try:
        answer = await stub.Steer(request, timeout=deadline_s)
        code, path = "OK", pb.ServedPath.Name(answer.served_path)
    except grpc.aio.AioRpcError as exc:
        code, path = exc.code().name, ""
    return started, time.monotonic() - started, code, path


async def steady(
    target: str,
    users: list[str],
    concurrency: int,
    seconds: float,
    deadline_s: float,
    event: tuple[float, callable] | None = None,  # type: ignore[valid-type]
) -> list[tuple[float, float, str, str]]:
    """``concurrency`` callers for ``seconds``; ``event`` = (after s, action) runs once."""
    requests = _user_requests(users)
    records: list[tuple[float, float, str, str]] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.SteeringServiceStub(channel)
        stop = time.monotonic() + seconds

        async def caller(offset: int) -> None:
            n = offset
            while time.monotonic() < stop:
                record = await _call(stub, requests[n % len(requests)], deadline_s)
                records.append(record)
                n += concurrency
                if record[2] == "UNAVAILABLE":  # a closed port refuses at once: do not spin
                    await asyncio.sleep(0.05)

        async def trigger() -> None:
            if event is not None:
                await asyncio.sleep(event[0])
                event[1]()

        await asyncio.gather(trigger(), *(caller(i) for i in range(concurrency)))
    return records


async def burst(target: str, users: list[str], calls: int, deadline_s: float) -> list:
    """``calls`` calls at once over ``calls // 100 + 1`` connections (one HTTP/2 connection
    carries 100 streams at a time)."""
    requests = _user_requests(users)
    channels = [grpc.aio.insecure_channel(target) for _ in range(calls // 100 + 1)]
    try:
        # connected first: the burst is 1,500 calls, not 16 handshakes and then the calls
        await asyncio.gather(*(c.channel_ready() for c in channels))
        stubs = [pb_grpc.SteeringServiceStub(c) for c in channels]
        return await asyncio.gather(
            *(
                _call(stubs[i % len(stubs)], requests[i % len(requests)], deadline_s)
                for i in range(calls)
            )
        )
    finally:
        for channel in channels:
            await channel.close()


def _stats(records: list[tuple[float, float, str, str]]) -> dict[str, object]:
    seconds = np.array([r[1] for r in records]) * 1000 if records else np.zeros(1)
    return {
        "requests": len(records),
        "failed_by_code": dict(Counter(r[2] for r in records if r[2] != "OK")),
        "paths": dict(Counter(r[3] for r in records if r[3])),
        "p50_ms": round(float(np.percentile(seconds, 50)), 2),
        "p99_ms": round(float(np.percentile(seconds, 99)), 2),
        "max_ms": round(float(seconds.max()), 2),
    }


def fault_burst(served: Served, users: list[str], calls: int) -> dict[str, object]:
    fallbacks_before = served.counter("dpr_steer_fallbacks")
    records = asyncio.run(burst(served.target, users, calls, deadline_s=2.0))
    ran = served.counter("dpr_steer_fallbacks") - fallbacks_before
    stats = _stats(records)
    codes = {r[2] for r in records}
    by_code = {}
    for code in sorted(codes):
        ms = np.array([r[1] for r in records if r[2] == code]) * 1000
        by_code[code] = {
            "calls": len(ms),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "max_ms": round(float(ms.max()), 1),
        }
    return {
        **stats,
        "by_code": by_code,
        "deadline_s": 2.0,
        "answered_or_shed_within_deadline": codes <= {"OK", "RESOURCE_EXHAUSTED"}
        and stats["max_ms"] < 2000,  # type: ignore[operator]
        "fallbacks_during_burst": ran,
    }


def fault_hung_triton(served: Served, users: list[str], seconds: float) -> dict[str, object]:
    asyncio.run(steady(served.target, users, 8, 2.0, 0.5))  # warm, and the baseline pid
    pid = served.triton_pid()
    stopped_at: list[float] = []

    def stop_triton() -> None:
        os.kill(pid, signal.SIGSTOP)
        stopped_at.append(time.monotonic())

    try:
        records = asyncio.run(
            steady(served.target, users, 8, seconds, 0.5, event=(1.0, stop_triton))
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # in case nothing restarted it
    start = stopped_at[0]
    after = [r for r in records if r[0] >= start]
    recovered = next(
        (r[0] + r[1] for r in after if r[3] == "SERVED_PATH_STEERED" and r[0] > start + 0.5),
        None,
    )
    window = [r for r in after if recovered is None or r[0] <= recovered]
    return {
        **_stats(window),
        "client_deadline_s": 0.5,
        "recover_s": None if recovered is None else round(recovered - start, 2),
        "restarted": served.triton_pid() != pid,
    }


def fault_sigterm(served: Served, users: list[str]) -> dict[str, object]:
    signalled: list[float] = []

    def terminate() -> None:
        served.process.send_signal(signal.SIGTERM)
        signalled.append(time.monotonic())

    records = asyncio.run(steady(served.target, users, 8, 5.0, 0.5, event=(1.0, terminate)))
    served.process.wait(60)
    exit_s = time.monotonic() - signalled[0]
    drain_end = signalled[0] + 2.0
    before_close = [r for r in records if r[0] < drain_end - 0.1]
    return {
        **_stats(before_close),
        "drain_s": 2.0,
        "failed_in_flight": sum(r[2] != "OK" for r in before_close),
        "calls_after_close": len(records) - len(before_close),
        "exit_s": round(exit_s, 2),
    }


def fault_parent_killed(served: Served) -> dict[str, object]:
    pid = served.triton_pid()
    cmdline = (Path(f"/proc/{pid}/cmdline")).read_bytes().decode(errors="replace")
    workspace = re.search(r"--backend-directory=(\S+?)/backends", cmdline.replace("\0", " "))
    marker = workspace.group(1) if workspace else str(pid)
    served.process.kill()
    served.process.wait()
    time.sleep(5.0)
    left = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            state = (proc / "stat").read_text().rsplit(") ", 1)[1][0]
            text = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in text and state != "Z":
            left.append(int(proc.name))
    return {"waited_s": 5.0, "orphaned_processes": len(left)}


def targets(body: dict[str, dict[str, object]]) -> dict[str, object]:
    hung, drain, burst_ = body["hung_triton"], body["sigterm_drain"], body["burst"]
    return {
        "hung_triton_p99_ms_le_300": {"value": hung["p99_ms"], "met": hung["p99_ms"] <= 300},  # type: ignore[operator]
        "hung_triton_failures_0": {
            "value": sum(hung["failed_by_code"].values()),  # type: ignore[union-attr]
            "met": not hung["failed_by_code"],
        },
        "sigterm_failed_in_flight_0": {
            "value": drain["failed_in_flight"],
            "met": drain["failed_in_flight"] == 0,
        },
        "burst_answered_or_shed_within_deadline": {
            "value": burst_["answered_or_shed_within_deadline"],
            "met": bool(burst_["answered_or_shed_within_deadline"]),
        },
        "parent_killed_orphans_0": {
            "value": body["parent_killed"]["orphaned_processes"],
            "met": body["parent_killed"]["orphaned_processes"] == 0,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", type=Path, default=None, help="default triton_models")
    parser.add_argument(
        "--history-url", default=None, help="histories of the bundled users (the main job's)"
    )
    parser.add_argument("--burst", type=int, default=None, help="calls at once; default 1500")
    parser.add_argument(
        "--hung-seconds", type=float, default=30.0, help="load after kill -STOP (default 30)"
    )
    parser.add_argument("--result-name", default="faults", help="stem of the result JSON")
    add_smoke_arguments(parser)
    args = parse_args(parser, argv)
    root = results_root(args)

    users = service_inputs(args, root, EXPERIMENT)
    args.burst = args.burst or (300 if args.smoke else 1500)
    body: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="dpr-faults-") as tmp:
        workdir = Path(tmp)
        build_service_index(args.repository, workdir)
        served = Served(args.repository, args.history_url, workdir, "a")
        try:
            asyncio.run(steady(served.target, users, 4, 2.0, 5.0))  # warm-up
            body["burst"] = fault_burst(served, users, args.burst)
            print(f"burst: {body['burst']}", flush=True)
            body["hung_triton"] = fault_hung_triton(served, users, args.hung_seconds)
            print(f"hung_triton: {body['hung_triton']}", flush=True)
            body["sigterm_drain"] = fault_sigterm(served, users)
            print(f"sigterm_drain: {body['sigterm_drain']}", flush=True)
        finally:
            served.stop()
        second = Served(args.repository, args.history_url, workdir, "b")
        try:
            body["parent_killed"] = fault_parent_killed(second)
            print(f"parent_killed: {body['parent_killed']}", flush=True)
        finally:
            second.stop()
    out = result_path(EXPERIMENT, args.result_name, root)
    write_service_result(out, body, targets(body), "benchmarks.faults")
    return 0


if __name__ == "__main__":
    sys.exit(main())
