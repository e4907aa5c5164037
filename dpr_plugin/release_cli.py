"""``dpr release``: numbered model releases, each an export with its own index (no torch).

* ``dpr release add --releases DIR --export REPO``   copy an export in as the next release,
  build its index (recording its model version)
* ``dpr release activate N --releases DIR``           serve release N (after checking it)
* ``dpr release rollback --releases DIR``             serve the previous release again
* ``dpr release list --releases DIR``                 the releases, the current and previous

A ``dpr serve --releases DIR`` follows ``activate`` and ``rollback`` within
``--release-poll-s`` without a restart (``serving/release_switch.py``).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from dpr_plugin.errors import ConfigError
from dpr_plugin.settings import add_arguments, build

RELEASE_SETTINGS = ("releases", "qdrant_url", "qdrant_alias")
"""The ServeSettings fields ``dpr release`` takes as flags (as ``dpr serve`` reads them)."""


def _settings(args: argparse.Namespace):  # -> ServeSettings (imported late: no grpc here)
    from dpr_plugin.serving.settings import ServeSettings

    settings = build(ServeSettings, args, "serve")
    if not settings.releases:
        raise ConfigError(
            "releases: give the releases directory (--releases or DPR_SERVE_RELEASES)"
        )
    return settings


def _check(settings, number: str):  # -> Release
    """The release, once its index is there and was built from its models."""
    from dpr_plugin.serving.index.factory import open_index
    from dpr_plugin.serving.releases import ReleaseStore

    release = ReleaseStore(Path(settings.releases)).release(number)
    mine = release.settings(settings)

    async def check() -> None:
        index = open_index(
            mine.qdrant_url, mine.qdrant_alias, Path(mine.index_dir), 10.0, release.model_version
        )
        try:
            release.check_index(await index.info())
        finally:
            await index.close()

    asyncio.run(check())
    return release


def _cmd_add(args: argparse.Namespace) -> int:
    from dpr_plugin.service_cli import build_index
    from dpr_plugin.serving.index.base import AnnSettings
    from dpr_plugin.serving.releases import ReleaseStore

    settings = _settings(args)
    release = ReleaseStore(Path(settings.releases)).add(Path(args.export))
    print(f"release {release.number}: model {release.model_version} at {release.repository}")
    build_index(release.settings(settings), build(AnnSettings, args, "index"))
    print(f"activate it with: dpr release activate {release.number} --releases {settings.releases}")
    return 0


def _cmd_activate(args: argparse.Namespace) -> int:
    from dpr_plugin.serving.releases import ReleaseStore

    settings = _settings(args)
    release = _check(settings, args.number)
    ReleaseStore(Path(settings.releases)).point(release.number)
    print(f"release {release.number} (model {release.model_version}) is current")
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from dpr_plugin.serving.releases import ReleaseStore

    settings = _settings(args)
    store = ReleaseStore(Path(settings.releases))
    release = _check(settings, store.previous().number)
    store.point(release.number)
    print(f"rolled back: release {release.number} (model {release.model_version}) is current")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from dpr_plugin.serving.releases import ReleaseStore

    store = ReleaseStore(Path(_settings(args).releases))
    pointer = store.pointer()
    marks = {pointer.get("current"): "current", pointer.get("previous"): "previous"}
    for number in store.numbers():
        release = store.release(number)
        print(f"{number:>4}  model {release.model_version}  {marks.get(number, '')}".rstrip())
    return 0


def add_release_commands(sub: argparse._SubParsersAction) -> None:
    """Registers ``dpr release`` and its subcommands."""
    from dpr_plugin.serving.index.base import AnnSettings
    from dpr_plugin.serving.settings import ServeSettings

    release = sub.add_parser("release", help="numbered model releases: add, activate, rollback")
    actions = release.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="copy an export in as the next release, index it")
    add.add_argument("--export", required=True, help="an exported repository (dpr export)")
    add_arguments(add, AnnSettings, "index")
    add.set_defaults(func=_cmd_add)
    activate = actions.add_parser("activate", help="serve release N")
    activate.add_argument("number", help="the release's number (dpr release list)")
    activate.set_defaults(func=_cmd_activate)
    rollback = actions.add_parser("rollback", help="serve the previous release again")
    rollback.set_defaults(func=_cmd_rollback)
    listing = actions.add_parser("list", help="the releases, the current and previous one")
    listing.set_defaults(func=_cmd_list)
    for parser in (add, activate, rollback, listing):
        add_arguments(parser, ServeSettings, "serve", only=RELEASE_SETTINGS)
