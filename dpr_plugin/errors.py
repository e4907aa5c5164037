"""The package's flat exception tree: one base class, one subclass per kind of failure."""

from __future__ import annotations

from pathlib import Path


class DprError(Exception):
    """Base class of every error this package raises on purpose."""


class DataFormatError(DprError):
    """A data file is malformed; the message names the file and, where known, the line.

    Attributes:
        path: The offending file.
        line: 1-based line number, or ``None`` when the problem concerns the whole file.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


class ConfigError(DprError):
    """A setting or a checkpoint configuration is invalid; the message names the field."""


def require_positive(config: object, *names: str) -> None:
    """Raises a ConfigError naming the first of ``names`` whose value is below 1."""
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ConfigError(f"{name}: must be >= 1, got {value}")


def require_rate(config: object, name: str) -> None:
    """Raises a ConfigError unless ``name`` is a rate in [0, 1)."""
    value = getattr(config, name)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}: must be in [0, 1), got {value}")


class CheckpointError(DprError):
    """A checkpoint directory is missing, incomplete or inconsistent."""


class InferenceError(DprError):
    """A model rejected a request or failed; names the model and, where known, the tensor.

    Attributes:
        model: Served model name.
        tensor: Offending tensor name, or ``None``.
    """

    def __init__(self, model: str, message: str, tensor: str | None = None) -> None:
        self.model = model
        self.tensor = tensor
        where = f"{model}.{tensor}" if tensor else model
        super().__init__(f"{where}: {message}")


class BackendUnavailableError(DprError):
    """The inference server (or another remote component) cannot be reached or is not ready."""


class InferenceTimeoutError(InferenceError):
    """A model did not answer within the caller's deadline."""


class TritonStartError(BackendUnavailableError):
    """A local tritonserver exited or did not become ready; the message carries its log's tail."""


class ParityError(DprError):
    """An exported model disagrees with PyTorch beyond the documented tolerance."""


class FieldError(DprError):
    """A request field is malformed or cannot be stored; the message starts with the field.

    Raised by request validation (``top_k``, ``must[1].field``) and by the history stores
    (``user_id``, ``item_ids[i]``, for ``append_many`` ``histories[n].item_ids[i]``). The gRPC
    layer answers INVALID_ARGUMENT.

    Attributes:
        field: The offending field.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class UserNotFoundError(DprError):
    """No history for the user and no prompt to steer a cold start with."""


class DeadlineExceededError(DprError):
    """The caller's deadline passed before an answer could be built."""


class HistoryUnavailableError(DprError):
    """The history store cannot be reached or did not answer in time."""


class IndexQueryError(DprError):
    """The index rejected a query or a build (bad field, wrong dimension...)."""


class IndexUnavailableError(DprError):
    """The index cannot be reached, is not built yet, or did not answer within the deadline."""
