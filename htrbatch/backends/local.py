"""The local backend: this machine's worker processes prepare pages while this process
recognises them (:meth:`htrbatch.pipeline.Transcriber.transcribe_files`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from htrbatch.backends import Backend
from htrbatch.pipeline import FileJob, FileResult, TranscribeOptions, Transcriber


class LocalBackend(Backend):
    def __init__(self, options: TranscribeOptions) -> None:
        self.transcriber = Transcriber(options)
        self.precision_note = self.transcriber.recognizer.precision_note

    def transcribe_files(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        return self.transcriber.transcribe_files(jobs)

    def close(self) -> None:
        pass
