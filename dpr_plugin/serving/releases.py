"""Model releases: numbered exports, each with its own index, and a pointer to the served one.

```
<releases>/releases.json     {"current": "2", "previous": "1"}  (replaced atomically)
<releases>/1/repository/     an export (dpr export's repository: models, manifest, items)
<releases>/1/index/          its embedded index (or, on a Qdrant server, alias <alias>-1)
<releases>/2/ ...
```

(The index sits beside the repository, not in it: Triton would take a folder of the
repository for a model.)

A release is the unit that changes: its models and the index built from its item table go
together. ``dpr release add`` copies an export into the next number and builds its index;
``dpr release activate N`` points the service at release N once its index is there and was
built from its models; ``dpr release rollback`` points back at the previous one. A service
started with ``--releases`` follows the pointer without a restart
(``release_switch.ReleaseSwitch``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dpr_plugin.errors import ConfigError
from dpr_plugin.manifest import MANIFEST_FILE, Manifest, read_json_object
from dpr_plugin.serving.index.base import IndexInfo
from dpr_plugin.serving.settings import ServeSettings

POINTER = "releases.json"
REPOSITORY_DIR = "repository"
INDEX_DIR = "index"


@dataclass(frozen=True)
class Release:
    """One numbered release: its export and where its index is."""

    number: str
    folder: Path
    model_version: str

    @property
    def repository(self) -> Path:
        """Its export."""
        return self.folder / REPOSITORY_DIR

    @property
    def index_dir(self) -> Path:
        """Its embedded index."""
        return self.folder / INDEX_DIR

    def alias(self, base: str) -> str:
        """Its collection alias on a Qdrant server."""
        return f"{base}-{self.number}"

    def check_index(self, info: IndexInfo) -> None:
        """ConfigError unless ``info`` (its index's served generation) records this release's
        own model version."""
        if info.model_version != self.model_version:
            raise ConfigError(
                f"release {self.number}: index generation {info.generation} records model "
                f"{info.model_version or '(none)'}, the release's export is model "
                f"{self.model_version}; rebuild it: dpr index --repository {self.repository} "
                f"--index-dir {self.index_dir}"
            )

    def settings(self, settings: ServeSettings) -> ServeSettings:
        """``settings`` pointed at this release's export and index."""
        return dataclasses.replace(
            settings,
            repository=self.repository,
            index_dir=self.index_dir,
            qdrant_alias=self.alias(settings.qdrant_alias),
            releases="",
        )


class ReleaseStore:
    """The releases under ``root``; every change of the pointer is one atomic file replace."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def numbers(self) -> list[str]:
        """Every release, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if p.name.isdigit() and p.is_dir()]
        return sorted(found, key=int)

    def release(self, number: str) -> Release:
        """Release ``number``; ConfigError naming it when it is not a complete export."""
        folder = self.root / str(number)
        repository = folder / REPOSITORY_DIR
        if not (repository / MANIFEST_FILE).is_file():
            raise ConfigError(
                f"releases: {folder} is not a release (no {repository}/{MANIFEST_FILE})"
            )
        return Release(str(number), folder, Manifest.load(repository).model_version)

    def pointer(self) -> dict[str, str]:
        """``{"current": N, "previous": M}`` (either may be absent)."""
        path = self.root / POINTER
        if not path.is_file():
            return {}
        body = read_json_object(path, "releases")
        return {k: str(v) for k, v in body.items() if k in ("current", "previous") and v}

    def current(self) -> Release:
        """The release the pointer names; ConfigError when none is active yet."""
        number = self.pointer().get("current")
        if number is None:
            raise ConfigError(
                f"releases: nothing active under {self.root} (dpr release add, then activate)"
            )
        return self.release(number)

    def add(self, export: Path) -> Release:
        """Copies the export at ``export`` in as the next release (whole, or not at all)."""
        if not (Path(export) / MANIFEST_FILE).is_file():
            raise ConfigError(f"export: {export} has no {MANIFEST_FILE} (run dpr export)")
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = self.numbers()
        number = str(int(numbers[-1]) + 1 if numbers else 1)
        staging = Path(tempfile.mkdtemp(prefix=f".{number}.", dir=self.root))
        try:
            shutil.copytree(export, staging / REPOSITORY_DIR)
            os.rename(staging, self.root / number)  # fails if the number was taken meanwhile
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.release(number)

    def point(self, number: str) -> Release:
        """Makes ``number`` current (the current one becomes previous); the caller checks the
        release first (``dpr release activate`` does)."""
        release = self.release(number)
        pointer = self.pointer()
        old = pointer.get("current")
        body = {"current": release.number}
        if old is not None and old != release.number:
            body["previous"] = old
        elif "previous" in pointer:
            body["previous"] = pointer["previous"]
        fd, tmp = tempfile.mkstemp(prefix=".releases.", dir=self.root)
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / POINTER)
        return release

    def previous(self) -> Release:
        """The release before the current one; ConfigError when there is none."""
        number = self.pointer().get("previous")
        if number is None:
            raise ConfigError(f"releases: no previous release under {self.root} to roll back to")
        return self.release(number)
