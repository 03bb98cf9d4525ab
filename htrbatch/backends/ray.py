"""The Ray backend (Ray core: tasks and actors; the ``ray`` extra).

- Page tasks (one CPU each, retried when their worker dies) read, clean, segment and normalise
  one file with :func:`htrbatch.pipeline.prepare_file`, the function the local workers run. Each
  returns two objects: the file's line count (small, to the driver) and the prepared file (left
  in the object store).
- Recogniser actors (the model loaded once per actor; one GPU each when the cluster has GPUs,
  where ``--precision auto`` runs fp16) take a group of prepared files by reference and return
  their :class:`~htrbatch.pipeline.FileResult` through
  :meth:`~htrbatch.pipeline.Transcriber.recognise_prepared`. An actor that dies is restarted and
  its group sent again (``max_task_retries``).
- The driver submits page tasks through a bounded window, groups the prepared files in input
  order exactly as the local backend does (:attr:`~htrbatch.pipeline.Transcriber.group_lines`),
  so the recogniser sees the same batches and the text is the same, and yields results in input
  order. Outputs are written by the caller on the driver: the output folder need not be shared,
  the inputs must be readable at the same path on every node.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import ray
from ray.exceptions import RayError

from htrbatch.backends import Backend, BackendOptions
from htrbatch.errors import OptionsError
from htrbatch.pipeline import (
    FileJob,
    FileResult,
    PreparedFile,
    TranscribeOptions,
    Transcriber,
    prepare_file,
)
from htrbatch.segment import SegmentOptions

# Test hook: with this set to a path P, the first page task exits (os._exit) after creating
# P.page, and the first recogniser actor to reach its second group after creating P.actor: each
# once (while its file does not exist), workers dying mid-run.
DIE_ONCE_ENV = "HTRBATCH_RAY_TEST_DIE_ONCE"
PAGE_RETRIES = 3  # a page task whose worker process dies is run again this many times
ACTOR_TASK_RETRIES = 3  # a group whose actor dies is sent to the restarted actor this many times


def _die_once(kind: str) -> None:
    marker = os.environ.get(DIE_ONCE_ENV)
    if marker and not (path := Path(f"{marker}.{kind}")).exists():
        path.write_text(f"{os.getpid()}\n", encoding="utf-8")
        os._exit(1)


def _prepare(
    job: FileJob, segment: SegmentOptions, height: int, dpi: int
) -> tuple[int, PreparedFile]:
    cv2.setNumThreads(1)  # one CPU per task; OpenCV's own threads would oversubscribe
    _die_once("page")
    prepared = prepare_file(job, segment, height, dpi)
    return sum(len(p.lines) for p in prepared.pages), prepared


_prepare_task = ray.remote(num_cpus=1, num_returns=2, max_retries=PAGE_RETRIES)(_prepare)


class _Recogniser:
    """One model (and decoder) per actor; groups of prepared files in, their results out."""

    def __init__(self, options: TranscribeOptions) -> None:
        self.transcriber = Transcriber(options)
        self.calls = 0

    def info(self) -> tuple[int, int, str | None, str, str]:
        """What the driver needs: line height, lines per group, precision note, device,
        precision."""
        rec = self.transcriber.recognizer
        return (
            rec.height,
            self.transcriber.group_lines,
            rec.precision_note,
            str(rec.device),
            rec.precision,
        )

    def recognise(self, *group: PreparedFile) -> list[FileResult]:
        # Ray resolves the ObjectRef arguments: the prepared files come from the object store.
        self.calls += 1
        if self.calls >= 2:
            _die_once("actor")
        return self.transcriber.recognise_prepared(group)


_RecogniserActor = ray.remote(max_restarts=-1, max_task_retries=ACTOR_TASK_RETRIES)(_Recogniser)


class RayBackend(Backend):
    """Transcribe on a Ray cluster; see the module docstring."""

    def __init__(self, options: TranscribeOptions, backend: BackendOptions) -> None:
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            try:
                ray.init(
                    address=backend.address,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=True,
                )
            except Exception as exc:  # ConnectionError, ValueError, RuntimeError, ...
                where = backend.address or "a local Ray instance"
                raise OptionsError(
                    f"--ray-address {where}: cannot connect: {exc.__class__.__name__}: {exc}"
                ) from exc
        self.actors: list[Any] = []
        self.test_env: dict[str, Any] | None = None  # the test hook's env for tasks and actors
        try:
            self._start_actors(options, backend)
        except BaseException:
            self.close()
            raise

    def _start_actors(self, options: TranscribeOptions, backend: BackendOptions) -> None:
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 0))
        n = backend.actors or (int(gpus) if gpus >= 1 else 1)
        threads = options.threads or 1  # torch threads per actor, and the CPUs it holds
        if n * threads >= cpus:
            raise OptionsError(
                f"--ray-actors {n} with --threads {threads}: the actors would hold "
                f"{n * threads} of the cluster's {cpus} CPU(s) and leave none for page tasks"
            )
        if options.device == "cuda" and gpus == 0:
            raise OptionsError("--device cuda with --backend ray: the Ray cluster has no GPU")
        actor_options: dict[str, Any] = {"num_cpus": threads}
        if gpus and options.device != "cpu":
            actor_options["num_gpus"] = min(1.0, gpus / n)  # several actors may share a GPU
        if os.environ.get(DIE_ONCE_ENV):
            self.test_env = {"env_vars": {DIE_ONCE_ENV: os.environ[DIE_ONCE_ENV]}}
            actor_options["runtime_env"] = self.test_env
        # the actors run in-process (no page workers of their own): the page tasks do that;
        # with workers=0 they also decode in their own process (pipeline.decode_workers), so an
        # actor uses only the `threads` CPUs it holds
        actor_opts = replace(options, workers=0, threads=threads)
        self.actors = [
            _RecogniserActor.options(**actor_options).remote(actor_opts) for _ in range(n)
        ]
        try:
            infos = ray.get([a.info.remote() for a in self.actors])
        except RayError as exc:
            raise OptionsError(f"--backend ray: a recogniser actor failed to start: {exc}") from exc
        self.height, self.group_lines, self.precision_note, self.device, self.precision = infos[0]
        self.options = options
        self.window = max(4, 2 * cpus)  # page tasks submitted and not yet grouped
        self.in_flight = 2 * n  # groups sent to actors and not yet collected

    def transcribe_files(self, jobs: Iterable[FileJob]) -> Iterator[FileResult]:
        """One :class:`FileResult` per job, in job order (see the module docstring)."""
        opts = self.options
        seg, height, dpi = opts.segment, self.height, opts.dpi
        todo = iter(jobs)
        pages: deque[tuple[FileJob, Any, Any]] = deque()
        groups: deque[tuple[list[FileJob], Any, int]] = deque()  # jobs, result, actor
        load = [0] * len(self.actors)  # groups in flight per actor
        group_jobs: list[FileJob] = []
        group_refs: list[Any] = []
        n_lines = 0

        def fill() -> None:
            while len(pages) < self.window:
                job = next(todo, None)
                if job is None:
                    return
                task = _prepare_task
                if self.test_env is not None:
                    task = task.options(runtime_env=self.test_env)
                count, prepared = task.remote(job, seg, height, dpi)
                pages.append((job, count, prepared))

        def send() -> None:
            k = min(range(len(load)), key=load.__getitem__)
            load[k] += 1
            ref = self.actors[k].recognise.remote(*group_refs)
            groups.append((list(group_jobs), ref, k))

        def collect() -> list[FileResult]:
            jobs_, ref, k = groups.popleft()
            load[k] -= 1
            try:
                return ray.get(ref)
            except RayError as exc:
                why = f"recognition failed on Ray: {exc.__class__.__name__}"
                return [FileResult(j, [], f"{j.path}: {why}") for j in jobs_]

        fill()
        while pages:
            job, count, prepared = pages.popleft()
            fill()
            try:
                lines = ray.get(count)
            except RayError as exc:  # the task's workers died PAGE_RETRIES + 1 times
                lines = 0
                error = f"{job.path}: a Ray worker died while reading it ({exc.__class__.__name__})"
                prepared = ray.put(PreparedFile(job, [], error))
            group_jobs.append(job)
            group_refs.append(prepared)
            n_lines += lines
            if n_lines >= self.group_lines:
                send()
                group_jobs, group_refs, n_lines = [], [], 0
            # hand back what is done, without waiting while the actors have room
            while groups and (
                len(groups) > self.in_flight or ray.wait([groups[0][1]], timeout=0)[0]
            ):
                yield from collect()
        if group_refs:
            send()
        while groups:
            yield from collect()

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self.owns_ray and ray.is_initialized():
            ray.shutdown()
        self.owns_ray = False
