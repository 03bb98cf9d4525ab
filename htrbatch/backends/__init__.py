"""Where ``transcribe`` runs: in this machine's processes (``local``, the default) or on a Ray
cluster (``ray``, the ``ray`` extra).

Both take the same :class:`~htrbatch.pipeline.TranscribeOptions` and the same
:class:`~htrbatch.pipeline.FileJob` list, and yield one :class:`~htrbatch.pipeline.FileResult`
per job in job order, so the caller (the CLI) writes, resumes and reports the same way whichever
runs. Ray is imported here only when asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from htrbatch.errors import OptionsError
from htrbatch.pipeline import FileJob, FileResult, TranscribeOptions

BACKENDS = ("local", "ray")
RAY_INSTALL = "pip install 'htrbatch[ray]'"


@dataclass(frozen=True)
class BackendOptions:
    """Which backend, and for ``ray`` which cluster and how many recogniser actors.

    ``address``: None starts a Ray instance on this machine (or joins the one ``RAY_ADDRESS``
    names), ``"auto"`` joins the cluster running on this machine, ``HOST:PORT`` a cluster's head
    (``ray://HOST:10001`` for Ray Client). ``actors``: 0 = one per GPU of the cluster, one when it
    has none."""

    name: str = "local"
    address: str | None = None
    actors: int = 0

    def validate(self) -> None:
        if self.name not in BACKENDS:
            raise OptionsError(f"--backend {self.name!r}: expected one of {', '.join(BACKENDS)}")
        if self.actors < 0:
            raise OptionsError(f"--ray-actors {self.actors}: must be 0 (auto) or more")
        if self.name != "ray":
            if self.address is not None:
                raise OptionsError(
                    f"--ray-address {self.address} with --backend {self.name}: "
                    "a Ray address needs --backend ray"
                )
            if self.actors:
                raise OptionsError(
                    f"--ray-actors {self.actors} with --backend {self.name}: "
                    "recogniser actors need --backend ray"
                )


class Backend(Protocol):
    """What the CLI runs a batch through. The backends subclass it for its context manager
    (``with open_backend(...) as b``: ``close`` on the way out)."""

    precision_note: str | None  # why an explicit --precision runs as something else, or None

    def transcribe_files(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_backend(options: TranscribeOptions, backend: BackendOptions = BackendOptions()) -> Backend:
    """The backend ``backend`` names, ready to transcribe with ``options`` (model loaded; for
    Ray, connected and its recogniser actors started). OptionsError for bad or conflicting
    options, and for ``ray`` when Ray is not installed (naming the extra)."""
    backend.validate()
    options.validate()
    if backend.name == "local":
        from htrbatch.backends.local import LocalBackend

        return LocalBackend(options)
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise OptionsError(
            f"--backend ray needs Ray, which is not installed: {RAY_INSTALL}"
        ) from exc
    from htrbatch.backends.ray import RayBackend

    return RayBackend(options, backend)
