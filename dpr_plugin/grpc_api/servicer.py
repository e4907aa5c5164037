"""The SteeringService servicer: validate → pipeline → convert, errors through one table.

Logs carry the request id and the user id (escaped and bounded: ``log_safety.log_safe``), the
served path and timings; never the prompt text (only its length and a keyed digest, enough to
correlate repeated prompts: ``log_safety.PromptDigest``). The per-request
access line is at DEBUG (``dpr --verbose serve``); rejected and failed requests are
logged at INFO and ERROR.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable

import grpc
from prometheus_client import Counter

from dpr_plugin.grpc_api.conversion import steer_response
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2_grpc as pb_grpc
from dpr_plugin.grpc_api.log_safety import PromptDigest, log_safe
from dpr_plugin.grpc_api.status import status_of
from dpr_plugin.grpc_api.validation import append_request, steer_query
from dpr_plugin.grpc_api.worker_loop import WorkRunner, same_loop
from dpr_plugin.serving.pipeline import SteeringPipeline
from dpr_plugin.serving.steer_query import SteerQuery, SteerResult

log = logging.getLogger("dpr.grpc")


class SteeringServicer(pb_grpc.SteeringServiceServicer):
    """Implements dpr.v1.SteeringService on a pipeline.

    Args:
        pipeline: Does the work.
        digest: Names prompts in the access log.
        work: Where the pipeline's coroutines run (``worker_loop``): the pipeline's own loop
            when that is not the one taking calls.
        current: Gives the pipeline to use, read per call (``release_switch``); ``None``:
            always ``pipeline``. A call runs wholly on the pipeline it starts on.
    """

    def __init__(
        self,
        pipeline: SteeringPipeline,
        digest: PromptDigest | None = None,
        work: WorkRunner = same_loop,
        current: Callable[[], SteeringPipeline] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.metrics = pipeline.metrics
        self.digest = digest or PromptDigest()
        self.work = work
        self.current = current or (lambda: self.pipeline)

    async def _steer(self, query: SteerQuery, deadline: float | None) -> SteerResult:
        # runs where the work runs: the pipeline is picked there, in the same step that
        # counts the call in its in_flight (what a release switch waits on)
        return await self.current().steer(query, deadline)

    async def _fail(
        self,
        context: grpc.aio.ServicerContext,
        exc: BaseException,
        request_id: str,
        counter: Counter,
    ) -> None:
        code, message = status_of(exc, request_id)
        counter.labels(code.name).inc()
        if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
            log.info("request %s: %s: %s", request_id, code.name, message)
        else:
            log.error("request %s: %s: %r", request_id, code.name, exc)
        await context.abort(code, message)

    async def Steer(  # noqa: N802 - the gRPC method name
        self, request: pb.SteerRequest, context: grpc.aio.ServicerContext
    ) -> pb.SteerResponse:
        """Answers one Steer call."""
        # the client's id, as a log may show it (validation rejects a malformed one after this)
        request_id = log_safe(request.request_id) or uuid.uuid4().hex
        try:
            bundle = self.current().bundle
            query = steer_query(request, bundle.tags, bundle.fields)
            query_id = query.request_id
            remaining = context.time_remaining()
            deadline = None if remaining is None else time.monotonic() + remaining
            result = await self.work(self._steer(query, deadline))
        except asyncio.CancelledError:  # the client's deadline expired or it went away
            self.metrics.cancelled.labels("Steer").inc()
            raise
        except Exception as exc:  # every failure goes through the status table
            await self._fail(context, exc, request_id, self.metrics.errors)
            raise  # unreachable: abort raises
        if log.isEnabledFor(logging.DEBUG):  # the access log; metrics count every request
            log.debug(
                "request %s user %s prompt[%s] path=%s items=%d total=%.1fms",
                log_safe(query_id),
                log_safe(query.user_id),
                self.digest(query.prompt),
                result.served_path.value,
                len(result.items),
                result.timings_ms.get("total", 0.0),
            )
        return steer_response(result)

    async def AppendInteractions(  # noqa: N802 - the gRPC method name
        self, request: pb.AppendInteractionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendInteractionsResponse:
        """Records events in the history store."""
        try:
            user_id, items, key = append_request(request)
            length = await self.work(self.current().history.append(user_id, items, key))
        except asyncio.CancelledError:
            self.metrics.cancelled.labels("AppendInteractions").inc()
            raise
        except Exception as exc:
            await self._fail(context, exc, "append", self.metrics.append_errors)
            raise
        return pb.AppendInteractionsResponse(history_length=length)
