"""The standard health service, with watch streams that end when the server stops.

grpcio's ``HealthServicer.Watch`` never returns: an open ``Health.Watch`` stream (a load
balancer's) kept the server's graceful stop waiting for its whole grace period, after which
every call still in flight was cancelled. Here ``end_watches`` makes every watch stream send
its last status and return OK, so the server can stop as soon as the real calls are done.
"""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2


class DrainingHealthServicer(health.aio.HealthServicer):
    """``grpc.health.v1.Health`` whose watch streams end on ``end_watches``."""

    def __init__(self) -> None:
        super().__init__()
        self._ending = False

    async def Watch(  # noqa: N802 - the gRPC method name
        self, request: health_pb2.HealthCheckRequest, context: object
    ) -> None:
        """Streams the service's status on every change until ``end_watches``."""
        condition = self._server_watchers[request.service]
        sent = None
        try:
            async with condition:
                while True:
                    status = self._server_status.get(
                        request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
                    )
                    if status != sent:
                        await context.write(health_pb2.HealthCheckResponse(status=status))  # type: ignore[attr-defined]
                        sent = status
                    if self._ending:
                        return
                    await condition.wait()
        finally:
            self._server_watchers.pop(request.service, None)

    async def end_watches(self) -> None:
        """Every open watch stream sends the current status (if not sent yet) and ends OK."""
        self._ending = True
        for condition in list(self._server_watchers.values()):
            async with condition:
                condition.notify_all()
