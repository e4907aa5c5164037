"""The service's subcommands of ``dpr`` (none of them needs torch):

* ``dpr index``          build the item index from an export (atomic switch when rebuilt)
* ``dpr load-histories`` import a dataset's user histories into the history store
* ``dpr serve``          run the gRPC service
* ``dpr steer``          call a running service and print the items as a table
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dpr_plugin.errors import DprError
from dpr_plugin.settings import add_arguments, build

if TYPE_CHECKING:
    from dpr_plugin.serving.index.base import AnnSettings
    from dpr_plugin.serving.settings import ServeSettings

INDEX_SETTINGS = ("repository", "index_dir", "qdrant_url", "qdrant_alias")
"""The ServeSettings fields ``dpr index`` takes as flags."""
HISTORY_SETTINGS = ("history_url", "history_length")
"""The ServeSettings fields ``dpr load-histories`` takes as flags."""


def _cmd_index(args: argparse.Namespace) -> int:
    from dpr_plugin.serving.index.base import AnnSettings
    from dpr_plugin.serving.settings import ServeSettings

    build_index(build(ServeSettings, args, "serve"), build(AnnSettings, args, "index"))
    return 0


def build_index(settings: ServeSettings, ann: AnnSettings) -> None:
    """Builds the index of ``settings.repository``'s export where the settings say (the
    embedded ``index_dir`` or a Qdrant server's ``qdrant_alias``), printing progress, and
    records the export's model version with the generation."""
    from dpr_plugin.manifest import Manifest
    from dpr_plugin.serving.index.catalogue import stream_catalogue
    from dpr_plugin.serving.index.edge import peak_rss_mb
    from dpr_plugin.serving.index.factory import open_index_pair

    model_version = Manifest.load(Path(settings.repository)).model_version
    catalogue = stream_catalogue(Path(settings.repository))
    count, dim = catalogue.count, catalogue.dim
    search = "HNSW" if ann.uses_hnsw(count) else "exact search"
    print(f"indexing {count} items of dim {dim} for {search}", flush=True)
    started = time.perf_counter()

    def progress(done: int) -> None:
        print(f"  {done}/{count} written, {time.perf_counter() - started:.0f}s", flush=True)

    async def run() -> None:
        builder, index = open_index_pair(
            settings.qdrant_url,
            settings.qdrant_alias,
            Path(settings.index_dir),
            30.0,
            ann,
            progress,
        )
        try:
            await builder.build(catalogue.items, dim, catalogue.fields, model_version)
            info = await index.info()
        finally:
            await index.close()
        print(
            f"index {info.generation}: {info.points} items, dim {info.dim}, "
            f"payload indexes {sorted(info.fields)}, model {info.model_version}"
        )

    asyncio.run(run())
    print(f"built in {time.perf_counter() - started:.1f}s, peak memory {peak_rss_mb():.0f} MB")


def _cmd_load_histories(args: argparse.Namespace) -> int:
    from dpr_plugin.data.sources import load_dataset
    from dpr_plugin.serving.history.factory import open_history_store
    from dpr_plugin.serving.settings import ServeSettings

    settings = build(ServeSettings, args, "serve")
    length = settings.history_length
    dataset = load_dataset(args.dataset)
    histories = {
        user: [dataset.item_ids[i - 1] for i in sequence[-length:]]
        for user, sequence in zip(dataset.user_ids, dataset.sequences, strict=True)
    }

    async def run() -> int:
        store = open_history_store(settings.history_url, length)
        try:
            return await store.append_many(histories)
        finally:
            await store.close()

    users = asyncio.run(run())
    print(f"{users} user histories from {dataset.name} written to {settings.history_url}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from dpr_plugin.grpc_api.server import SteeringServer
    from dpr_plugin.serving.settings import ServeSettings
    from dpr_plugin.triton_local.launcher import launch
    from dpr_plugin.triton_local.server import TritonSettings

    settings = build(ServeSettings, args, "serve")
    triton = build(TritonSettings, args, "triton")

    async def run() -> None:
        server = SteeringServer(settings, launcher=functools.partial(launch, settings=triton))
        await server.start()
        print(f"dpr serve: listening on {settings.host}:{server.port}", flush=True)
        if args.ready_file:  # for scripts: the bound port, written once serving
            ready = Path(args.ready_file)
            ready.parent.mkdir(parents=True, exist_ok=True)
            tmp = ready.with_name(ready.name + ".tmp")
            tmp.write_text(f"{server.port}\n")
            tmp.replace(ready)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()
        print("dpr serve: stopped", flush=True)

    asyncio.run(run())
    return 0


def _read_pem(flag: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DprError(f"{flag}: cannot read {path}: {exc.strerror}") from None


def _channel(args: argparse.Namespace):
    """A plaintext channel, or TLS with ``--tls-ca`` (and a client certificate for mutual
    TLS with ``--tls-cert``/``--tls-key``)."""
    import grpc

    if not args.tls_ca:
        if args.tls_cert or args.tls_key:
            raise DprError("--tls-cert, --tls-key: need --tls-ca (the server's CA)")
        return grpc.insecure_channel(args.target)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise DprError("--tls-cert, --tls-key: give both or neither")
    credentials = grpc.ssl_channel_credentials(
        _read_pem("--tls-ca", args.tls_ca),
        _read_pem("--tls-key", args.tls_key) if args.tls_key else None,
        _read_pem("--tls-cert", args.tls_cert) if args.tls_cert else None,
    )
    return grpc.secure_channel(args.target, credentials)


def _cmd_steer(args: argparse.Namespace) -> int:
    import grpc
    from google.protobuf.json_format import MessageToDict

    from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
    from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc

    prompts = args.prompt or [""]
    responses = []
    token = args.token or os.environ.get("DPR_TOKEN", "")
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    with _channel(args) as channel:
        stub = pb_grpc.SteeringServiceStub(channel)
        for prompt in prompts:
            request = pb.SteerRequest(user_id=args.user, prompt=prompt, top_k=args.top_k)
            if args.strength is not None:
                request.strength = args.strength
            request.must_tags.extend(args.must_tag)
            request.must_not_tags.extend(args.must_not_tag)
            request.negative_mode = pb.NegativeMode.Value(
                f"NEGATIVE_MODE_{args.negative_mode.upper()}"
            )
            try:
                responses.append(stub.Steer(request, timeout=args.timeout, metadata=metadata))
            except grpc.RpcError as exc:
                raise DprError(f"{exc.code().name}: {exc.details()}") from None
    if args.json:
        print(json.dumps([MessageToDict(r) for r in responses], indent=2))
    elif len(responses) == 1:
        print(format_response(prompts[0], responses[0]))
    else:
        print(format_side_by_side(prompts, responses))
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the service says SERVING, 1 when it answers anything else (the container's
    health check); a service that does not answer is an error (exit 2)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with _channel(args) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            raise DprError(f"{args.target}: {exc.code().name}") from None
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(f"{args.target} {args.service or '(server)'}: {status}")
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else 1


def _add_tls_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-ca", default="", help="PEM CA of the server's certificate: TLS")
    parser.add_argument("--tls-cert", default="", help="PEM client certificate: mutual TLS")
    parser.add_argument("--tls-key", default="", help="PEM key of --tls-cert")


def _summary(prompt: str, response: object) -> str:
    from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb

    assert isinstance(response, pb.SteerResponse)
    understood = response.understood
    path = pb.ServedPath.Name(response.served_path).removeprefix("SERVED_PATH_").lower()
    fallback = f", fallback: {response.fallback_reason}" if response.fallback_reason else ""
    lines = [f"{prompt or '(no prompt)'!r}: {path}{fallback}"]
    lines += [f"  {_clause(c)}" for c in understood.clauses]
    if understood.unread:
        lines.append(f"  not understood: {', '.join(repr(u) for u in understood.unread)}")
    if prompt and not understood.clauses and not understood.unread:
        lines.append("  nothing to read")
    return "\n".join(lines)


def _clause(clause: object) -> str:
    """One clause as `dpr steer` prints it: polarity, target, how it was applied."""
    from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb

    assert isinstance(clause, pb.Clause)
    sign = "-" if clause.polarity == pb.POLARITY_NEGATIVE else "+"
    if clause.tags:
        joiner = " or " if clause.any_of else ", "
        target = joiner.join(f"{t.tag} {t.score:.2f}" for t in clause.tags)
    elif clause.range_field:
        low = f"{clause.range.gte:g}" if clause.range.HasField("gte") else ""
        high = f"{clause.range.lte:g}" if clause.range.HasField("lte") else ""
        target = f"{clause.range_field} {low}..{high}"
    else:
        target = f"like {clause.item_title!r} ({clause.item_id})"
    applied = pb.Application.Name(clause.applied).removeprefix("APPLICATION_").lower()
    strength = f" at {clause.strength:.2f}" if clause.strength else ""
    return f"{sign} {target} [{clause.source}] {applied}{strength}  <- {clause.text!r}"


def _tags(item: object) -> list[str]:
    return [str(t) for t in item.payload["tags"]] if "tags" in item.payload else []  # type: ignore[attr-defined]


def format_side_by_side(prompts: list[str], responses: list[object], width: int = 40) -> str:
    """The top items of several prompts for one user, one column per prompt."""
    lines = [_summary(p, r) for p, r in zip(prompts, responses, strict=True)]
    header = "  ".join(f"{(p or '(no prompt)')[:width]:<{width}}" for p in prompts)
    lines += ["", f"{'#':>3}  {header}"]
    depth = max(len(r.items) for r in responses)  # type: ignore[attr-defined]
    for rank in range(depth):
        cells = []
        for response in responses:
            items = response.items  # type: ignore[attr-defined]
            if rank >= len(items):
                cells.append(" " * width)
                continue
            item = items[rank]
            title = str(item.payload["title"]) if "title" in item.payload else item.item_id
            tags = "|".join(t[:4] for t in _tags(item))
            cell = f"{title[: width - len(tags) - 3]} [{tags}]"
            cells.append(f"{cell[:width]:<{width}}")
        lines.append(f"{rank + 1:>3}  " + "  ".join(cells))
    return "\n".join(lines)


def format_response(prompt: str, response: object) -> str:
    """A readable table of one SteerResponse."""
    from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb

    assert isinstance(response, pb.SteerResponse)
    lines = [
        _summary(prompt, response),
        f"{'#':>3} {'item':>8} {'score':>7} {'unsteered':>9} {'move':>5}  title / tags",
    ]
    for rank, item in enumerate(response.items, start=1):
        payload = dict(item.payload.items())
        move = f"{item.rank_change:+d}" if item.HasField("rank_change") else "new"
        tag_list = "|".join(_tags(item))
        lines.append(
            f"{rank:>3} {item.item_id:>8} {item.score:7.3f} {item.unsteered_score:9.3f} "
            f"{move:>5}  {payload.get('title', '')} [{tag_list}]"
        )
    return "\n".join(lines)


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    """Registers index, load-histories, serve, steer and health."""
    from dpr_plugin.serving.index.base import AnnSettings
    from dpr_plugin.serving.settings import ServeSettings
    from dpr_plugin.triton_local.server import TritonSettings

    # index and load-histories read the same settings (and DPR_SERVE_* variables) as serve,
    # so one environment points all three at the same index and store
    index = sub.add_parser("index", help="build the item index from an exported repository")
    add_arguments(index, ServeSettings, "serve", only=INDEX_SETTINGS)
    add_arguments(index, AnnSettings, "index")
    index.set_defaults(func=_cmd_index)

    histories = sub.add_parser("load-histories", help="import a dataset's user histories")
    histories.add_argument("--dataset", required=True, help="'bundled' or FORMAT:DIR")
    add_arguments(histories, ServeSettings, "serve", only=HISTORY_SETTINGS)
    histories.set_defaults(func=_cmd_load_histories)

    serve = sub.add_parser("serve", help="run the gRPC steering service")
    serve.add_argument("--ready-file", default="", help="write the bound port here once serving")
    add_arguments(serve, ServeSettings, "serve")
    # the local tritonserver dpr serve starts when neither --triton-url nor --in-process is set
    add_arguments(serve, TritonSettings, "triton")
    serve.set_defaults(func=_cmd_serve)

    steer = sub.add_parser("steer", help="call Steer on a running service")
    steer.add_argument("--target", default="127.0.0.1:50051")
    steer.add_argument("--user", required=True)
    steer.add_argument(
        "--prompt", action="append", help="repeat for a side-by-side table (default: none)"
    )
    steer.add_argument("--top-k", type=int, default=10)
    steer.add_argument("--must-tag", action="append", default=[])
    steer.add_argument("--must-not-tag", action="append", default=[])
    steer.add_argument(
        "--negative-mode", choices=("auto", "soft", "hard", "hybrid"), default="auto"
    )
    steer.add_argument(
        "--strength", type=float, default=None, help="0..4; absent: the export's default"
    )
    steer.add_argument("--timeout", type=float, default=5.0)
    steer.add_argument(
        "--token", default="", help="bearer token (default: the DPR_TOKEN variable, else none)"
    )
    _add_tls_client_arguments(steer)
    steer.add_argument("--json", action="store_true", help="print the response as JSON")
    steer.set_defaults(func=_cmd_steer)

    health = sub.add_parser("health", help="ask a running service's gRPC health (exit 0: SERVING)")
    health.add_argument("--target", default="127.0.0.1:50051")
    health.add_argument("--service", default="", help="a service name (default: the server)")
    health.add_argument("--timeout", type=float, default=2.0)
    _add_tls_client_arguments(health)
    health.set_defaults(func=_cmd_health)
