"""The steering service's method handlers: admission, then decoding, then the servicer.

**Admission.** At most ``max_in_flight`` calls are worked on at once; a call beyond that, or
one that reaches its handler with less of its deadline left than calls have recently taken
(it queued behind a burst, and its answer would come too late), is answered RESOURCE_EXHAUSTED
at once (and counted in ``dpr_shed_requests_total``) instead of running into its deadline:
under a burst of 1,500 calls the service used to answer one and let 922 run out of time.

**Decoding.** grpcio's own decoding (the generated ``add_SteeringServiceServicer_to_server``)
answers a message that is not valid protobuf, or carries invalid UTF-8 in a string field, with
UNKNOWN and a traceback in the log. Here each handler takes the raw bytes and parses them: such a
message is INVALID_ARGUMENT ``request: ...``, counted like any other rejected call, logged on
one line.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from prometheus_client import Counter

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.servicer import SteeringServicer

log = logging.getLogger("dpr.grpc")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SteeringService"].full_name

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)


class InFlightLimit:
    """Counts the calls being worked on (one event loop: no lock needed), and how long recent
    ones took: a call that arrives with less of its deadline left than the median of the last
    ``window`` calls (or than ``min_time_left_s``) is shed too; a median, so that one slow call
    (a store under a held lock) does not shed the calls after it.

    Args:
        limit: Most calls worked on at once.
        min_time_left_s: The least time left a call must arrive with.
        window: How many recent calls the median is taken over.
    """

    def __init__(self, limit: int, min_time_left_s: float = 0.05, window: int = 31) -> None:
        self.limit = limit
        self.min_time_left_s = min_time_left_s
        self.count = 0
        self._recent: deque[float] = deque(maxlen=window)

    def needed_s(self) -> float:
        """The time left below which a call is shed on arrival."""
        if not self._recent:
            return self.min_time_left_s
        return max(self.min_time_left_s, statistics.median(self._recent))

    def try_enter(self) -> bool:
        """Takes a slot if one is free."""
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def leave(self, seconds: float) -> None:
        """Gives the slot back; ``seconds`` is how long the call took."""
        self.count -= 1
        self._recent.append(seconds)


def method_handler(
    method: Callable[[RequestT, grpc.aio.ServicerContext], Awaitable[ResponseT]],
    request_type: type[RequestT],
    rejected: Counter,
    limit: InFlightLimit,
    shed: Counter,
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[ResponseT]]:
    """``method`` behind admission (``limit``; refusals counted in ``shed``) and decoding
    (malformed requests counted in ``rejected``), taking the raw request bytes."""
    name = request_type.DESCRIPTOR.name.removesuffix("Request")

    async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> ResponseT:
        left = context.time_remaining()
        needed = limit.needed_s() if left is not None else 0.0
        if left is not None and left < needed:
            # it waited so long that its answer would likely come too late: say so now
            # rather than start work whose answer nobody will read
            shed.labels(name).inc()
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"overloaded: {left * 1000:.0f} ms of the deadline left on arrival, calls "
                f"take {needed * 1000:.0f} ms",
            )
        if not limit.try_enter():
            shed.labels(name).inc()
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"overloaded: {limit.limit} calls in flight; retry with backoff",
            )
        started = time.monotonic()
        try:
            return await _decode_and_call(raw, context)
        finally:
            limit.leave(time.monotonic() - started)

    async def _decode_and_call(raw: bytes, context: grpc.aio.ServicerContext) -> ResponseT:
        try:
            request = request_type.FromString(raw)
        except DecodeError:
            rejected.labels(grpc.StatusCode.INVALID_ARGUMENT.name).inc()
            full_name = request_type.DESCRIPTOR.full_name
            log.info("request rejected: INVALID_ARGUMENT: not a valid %s", full_name)
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request: not a valid {full_name} (malformed protobuf or invalid UTF-8 in a "
                "string)",
            )
            raise  # unreachable: abort raises
        return await method(request, context)

    return handle


def steering_handler(servicer: SteeringServicer, max_in_flight: int) -> grpc.GenericRpcHandler:
    """The ``dpr.v1.SteeringService`` methods of ``servicer``, for ``add_generic_rpc_handlers``,
    sharing one limit of ``max_in_flight`` calls."""
    metrics = servicer.metrics
    limit = InFlightLimit(max_in_flight)
    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "Steer": grpc.unary_unary_rpc_method_handler(
                method_handler(
                    servicer.Steer, pb.SteerRequest, metrics.errors, limit, metrics.shed
                ),
                response_serializer=pb.SteerResponse.SerializeToString,
            ),
            "AppendInteractions": grpc.unary_unary_rpc_method_handler(
                method_handler(
                    servicer.AppendInteractions,
                    pb.AppendInteractionsRequest,
                    metrics.append_errors,
                    limit,
                    metrics.shed,
                ),
                response_serializer=pb.AppendInteractionsResponse.SerializeToString,
            ),
        },
    )
