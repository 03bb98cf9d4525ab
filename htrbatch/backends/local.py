"""The local backend: this machine's worker processes prepare pages while this process
recognises them (:meth:`htrbatch.pipeline.Transcriber.transcribe_files`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import TracebackType

from htrbatch.pipeline import FileJob, FileResult, TranscribeOptions, Transcriber


class LocalBackend:
    def __init__(self, options: TranscribeOptions) -> None:
        self.transcriber = Transcriber(options)
        self.precision_note = self.transcriber.recognizer.precision_note

    def transcribe_files(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        return self.transcriber.transcribe_files(jobs)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
