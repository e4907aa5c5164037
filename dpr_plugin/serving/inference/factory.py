"""The one place the inference backends are chosen: a Triton server (named by URL, or one a
launcher starts), or onnxruntime in-process; and the in-process fallback for the unsteered
vector when Triton is down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from dpr_plugin.contract import SEQ_BACKBONE
from dpr_plugin.errors import ConfigError
from dpr_plugin.manifest import model_path
from dpr_plugin.serving.inference.base import InferenceBackend


class LaunchedTriton(Protocol):
    """A tritonserver the service started itself and must stop (the local harness)."""

    grpc_url: str

    def supervise(self) -> None:
        """Starts restarting the server whenever it dies (call in the running event loop)."""
        ...

    async def stop(self) -> None:
        """Stops supervising, then the server."""
        ...


TritonLauncher = Callable[[Path, Callable[[str], None]], LaunchedTriton]
"""``(repository, on_restart)`` → a started server; ``on_restart`` gets ``"ok"`` or
``"failed"`` after each restart attempt."""


@dataclass
class Backends:
    """The backends of a running service.

    Attributes:
        primary: Answers every inference.
        fallback: Computes the unsteered vector when ``primary`` fails (``None`` when the
            primary runs in-process already, or the export's ONNX files are not local).
        launched: The tritonserver started for ``primary``, if any.
    """

    primary: InferenceBackend
    fallback: InferenceBackend | None = None
    launched: LaunchedTriton | None = None

    async def close(self) -> None:
        """Closes the backends, then stops a launched server."""
        for backend in (self.primary, self.fallback):
            if backend is not None:
                await backend.close()
        if self.launched is not None:
            await self.launched.stop()


def open_backends(
    repository: Path,
    triton_url: str = "",
    in_process: bool = False,
    launcher: TritonLauncher | None = None,
    on_restart: Callable[[str], None] = lambda outcome: None,
) -> Backends:
    """The backends the settings name.

    Args:
        repository: The exported model repository.
        triton_url: A running Triton's gRPC address; empty asks ``launcher`` for one.
        in_process: Run the models with onnxruntime inside the service instead.
        launcher: Starts a local tritonserver when no URL is given.
        on_restart: Passed to the launcher (restart metrics).

    Raises:
        ConfigError: Neither a URL, nor in-process, nor a launcher.
    """
    from dpr_plugin.serving.inference.local_runtime import LocalRuntime

    repository = Path(repository)
    if in_process:
        return Backends(LocalRuntime(repository))
    from dpr_plugin.serving.inference.triton_client import TritonBackend

    launched = None
    if not triton_url:
        if launcher is None:
            raise ConfigError("triton_url: required when no local tritonserver can be launched")
        launched = launcher(repository, on_restart)
        triton_url = launched.grpc_url
    # The unsteered vector when Triton is down: the same export, in-process.
    local = model_path(repository, SEQ_BACKBONE.name).is_file()
    return Backends(
        TritonBackend(triton_url), LocalRuntime(repository) if local else None, launched
    )
