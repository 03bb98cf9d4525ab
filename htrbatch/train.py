"""Training the CRNN with CTC, nanoGPT-style: one loop, read top to bottom.

Per epoch: shuffled width-bucketed batches with online augmentation -> CTC loss -> AdamW step;
then greedy validation CER under ``torch.no_grad``; ``<out>.last.pt`` (with optimizer and
scheduler state, so ``resume`` continues exactly) every epoch, ``<out>`` whenever validation CER
improves; early stopping when it has not improved for ``patience`` epochs.

Fine-tuning (``init``): the run starts from a checkpoint's weights (``"default"`` = the shipped
model) and, unless ``extend_charset`` is off, adds the training lines' characters that its
charset lacks as new outputs (:meth:`CRNN.add_outputs`; the known ones keep their index and
weights). :data:`FINETUNING` holds the learning rate, warm-up and patience that suit it.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from htrbatch.assets import model_file
from htrbatch.data.augment import AugmentOptions, augment_line
from htrbatch.data.datasets import Sample, scan_dataset
from htrbatch.data.layout_lines import LayoutPage, LayoutScan, iter_layout_lines
from htrbatch.data.online import StrokeLines
from htrbatch.decode import GreedyDecoder
from htrbatch.errors import DatasetError, OptionsError
from htrbatch.metrics import corpus_rates
from htrbatch.model import (
    CRNN,
    DEFAULT_CHARSET,
    Charset,
    CRNNConfig,
    collate,
    load_checkpoint,
    prepare_line_u8,
    read_checkpoint,
    save_checkpoint,
    usable_label,
)
from htrbatch.runtime import Precision, choose_precision, set_threads


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 40
    batch_size: int = 24
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    patience: int = 8
    augment: bool = True
    seed: int = 0
    threads: int = 0  # 0 = torch's default
    max_steps_per_epoch: int = 0  # 0 = the whole training set each epoch
    val_limit: int = 0  # 0 = all validation lines
    max_minutes: float = 0.0  # 0 = no time limit; otherwise stop after the epoch that passes it
    init: str = ""  # start from this checkpoint's weights (fine-tuning); "default" = shipped model
    extend_charset: bool = True  # with init: add the training data's new characters as outputs
    rescan: bool = False  # look for new training files every epoch (data still being rendered)
    precision: str = "auto"  # auto | fp32 | bf16: autocast dtype of the forward pass, see below
    strokes: str = ""  # IAM-OnDB folder whose lines are rendered afresh every epoch (data.online)
    strokes_split: str = "trainset"
    render_workers: int = 1  # processes drawing --strokes lines ahead of the step (0 = inline)
    line_types: tuple[str, ...] = ()  # PAGE XML/ALTO collections: only lines of these types
    config: CRNNConfig = field(default_factory=CRNNConfig)


# What fine-tuning a trained model changes: a short warm-up (a few dozen pages give only tens of
# steps per epoch; 300 steps would be most of the run) and earlier stopping (a small validation
# set stops improving within a few epochs, then the model only memorises the training pages).
# The peak learning rate stays 1e-3: fine-tuning the shipped model on 10 and 20 Hooker pages
# reached a lower held-out CER with it than with 5e-4 or 3e-4 (docs/benchmarks.md, Fine-tuning).
FINETUNING = TrainOptions(init="default", lr=1e-3, warmup_steps=50, patience=5)
# The options that FINETUNING sets and a resumed run keeps from the run it continues.
# What a resumed run keeps from its own start (unless given again): the cosine schedule is
# laid over epochs x steps, so a resume that fell back to the default epochs would move it.
SCHEDULE_FIELDS = ("lr", "warmup_steps", "patience", "epochs")


def init_path(init: str) -> Path:
    """The checkpoint ``--init`` names: a shipped model's name (``"default"``, ``"hooker"``) or a
    path."""
    return model_file(init)


@dataclass
class TrainResult:
    best_cer: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, Any]]
    checkpoint: Path


def _load_prepared(args: tuple[str, int]) -> np.ndarray | None:
    path, height = args
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None or min(img.shape) < 2:
        return None
    return prepare_line_u8(img, height)


def _load_prepared_page(
    args: tuple[str, str, list[str], int],
) -> tuple[list[np.ndarray | None], list[str]]:
    """The lines ``ids`` of one page of a PAGE XML/ALTO collection, cut along their polygons
    (:func:`~htrbatch.data.layout_lines.iter_layout_lines`, as ``data layout-lines`` exports
    them) and prepared; None for a line that gave no image; and the problems met."""
    image, layout, ids, height = args
    scan = LayoutScan()
    crops: dict[str, list[np.ndarray]] = {}
    page = LayoutPage(Path(image), Path(layout))
    for s in iter_layout_lines([page], scan=scan, ids=set(ids)):
        crops.setdefault(s.line.id, []).append(s.image)
    out: list[np.ndarray | None] = []
    for line_id in ids:
        got = crops.get(line_id)
        out.append(prepare_line_u8(got.pop(0), height) if got else None)
    return out, [str(e) for e in scan.errors]


def fits_ctc(ids: list[int], width: int) -> bool:
    """Whether a prepared line ``width`` pixels wide can carry ``ids`` under CTC: a frame per
    label plus one between repeats, at one frame per 4 pixels."""
    return len(ids) * 4 <= width


def prepare_samples(
    samples: Sequence[Sample],
    height: int,
    charset: Charset,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    errors: list[str] | None = None,
) -> tuple[list[np.ndarray], list[list[int]], list[str]]:
    """Read and prepare every line once: (images uint8 (H, W_i), label ids, texts), in sample
    order. Line images are read from their files; lines of PAGE XML/ALTO collections
    (``Sample.line``) are cut from their page in memory, one page read per group of lines.
    Lines that cannot be read are left out; the problems met on pages go to ``errors``."""
    read: list[np.ndarray | None] = [None] * len(samples)
    files = [i for i, s in enumerate(samples) if s.line is None]
    pages: dict[tuple[Path, Path], list[int]] = {}
    for i, s in enumerate(samples):
        if s.line is not None and s.layout is not None:
            pages.setdefault((s.image, s.layout), []).append(i)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = [(str(samples[i].image), height) for i in files]
        for n, (i, img) in enumerate(zip(files, pool.map(_load_prepared, jobs, chunksize=64))):
            if progress and n % 500 == 0:
                progress(n, len(samples))
            read[i] = img
        page_jobs = [
            (str(image), str(layout), [str(samples[i].line) for i in members], height)
            for (image, layout), members in pages.items()
        ]
        for members, (imgs, problems) in zip(
            pages.values(), pool.map(_load_prepared_page, page_jobs)
        ):
            for i, img in zip(members, imgs):
                read[i] = img
            if errors is not None:
                errors.extend(problems)
    images, labels, texts = [], [], []
    for s, img in zip(samples, read):
        ids = charset.encode(s.text)
        if img is None or not ids or not fits_ctc(ids, img.shape[1]):
            continue
        images.append(img)
        labels.append(ids)
        texts.append(s.text)
    return images, labels, texts


def _batches(widths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices grouped by similar width (little padding), batches in random order."""
    noisy = widths * rng.uniform(0.9, 1.1, size=len(widths))
    order = np.argsort(noisy)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def evaluate_cer(
    model: CRNN, images: list[np.ndarray], texts: list[str], charset: Charset, batch_size: int = 32
) -> tuple[float, float]:
    model.eval()
    greedy = GreedyDecoder(charset.labels, charset.blank)
    preds: list[str] = [""] * len(images)
    order = np.argsort([im.shape[1] for im in images])
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        x, widths = collate([images[j].astype(np.float32) / 255.0 for j in idx])
        lp, lengths = model(x, widths)
        lp = lp.numpy()  # (T, B, C)
        for b, j in enumerate(idx):
            preds[j] = greedy.decode(lp[: int(lengths[b]), b]).text
    rates = corpus_rates(zip(texts, preds))
    return rates.cer, rates.wer


def training_precision(precision: str, flags: Iterable[str] | None = None) -> Precision:
    """The autocast dtype for training on the CPU (and a note when it is not what was asked).

    The one policy of :func:`htrbatch.runtime.choose_precision` with ``training=True``:
    ``auto`` takes bf16 where the CPU has bf16 instructions (``avx512_bf16`` or AMX), as for
    inference; ``bf16`` is bf16 even where emulated; ``fp32`` is fp32. On the 2-core development
    CPU (avx512_bf16, no AMX) a forward + backward step ran 1.6-2.1x faster under bf16 autocast
    than in fp32 (docs/benchmarks.md, Training). The LSTM and the CTC loss stay in fp32
    (``CRNN.forward``), so only the convolutions run in bf16.
    """
    return choose_precision(precision, torch.device("cpu"), flags, training=True)


def training_autocast_dtype(
    precision: str, flags: Iterable[str] | None = None
) -> torch.dtype | None:
    """The autocast dtype of :func:`training_precision`, or None for plain fp32."""
    return training_precision(precision, flags).dtype


def _lr_at(step: int, total: int, options: TrainOptions) -> float:
    if step < options.warmup_steps:
        return options.lr * (step + 1) / options.warmup_steps
    p = min(1.0, (step - options.warmup_steps) / max(1, total - options.warmup_steps))
    return options.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


# --------------------------------------------------------------------------- set-up pieces


Emit = Callable[[dict[str, Any]], None]


def _event_log(path: Path, log: Emit | None) -> Emit:
    """``emit(record)``: time-stamp a record, append it to ``path`` (JSON lines), pass it to
    ``log``."""

    def emit(record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 1), **record}
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if log:
            log(record)

    return emit


def _read_last(last_path: Path) -> dict[str, Any]:
    """The resumable state ``<out>.last.pt`` holds (weights, optimizer, progress)."""
    if not last_path.is_file():
        raise OptionsError(f"--resume: {last_path} does not exist (nothing to resume)")
    return read_checkpoint(last_path)


def _build_model(options: TrainOptions, state: dict[str, Any] | None) -> tuple[CRNN, Charset]:
    """The model and its charset: fresh from ``options.config``, from ``--init`` weights, or
    from the resumed ``state``."""
    config, charset = options.config, Charset(DEFAULT_CHARSET)
    if state is not None:
        config, charset = CRNNConfig.from_dict(state["config"]), Charset(state["charset"])
    elif options.init:
        loaded = load_checkpoint(init_path(options.init))
        config, charset = loaded.config, loaded.charset
    model = CRNN(config, len(charset))
    if state is not None:
        model.load_state_dict(state["state_dict"])
    elif options.init:
        model.load_state_dict(loaded.model.state_dict())
    return model, charset


def _build_optimizer(
    model: CRNN, options: TrainOptions, state: dict[str, Any] | None
) -> torch.optim.Optimizer:
    """AdamW over the model's parameters, with the resumed ``state``'s moments if any."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    if state is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    return optimizer


def fit_charset(
    charset: Charset, train_texts: Sequence[str], val_texts: Sequence[str], extend: bool
) -> tuple[Charset, dict[str, Any]]:
    """The charset to train with, and a ``charset`` event that reports it.

    With ``extend``, the characters of ``train_texts`` that ``charset`` lacks are appended as new
    labels (in code-point order; those :func:`usable_label` refuses stay out). A character still
    outside the charset is left out of its line's label: the line is kept, the model learns to
    write nothing for that mark. The event counts such characters in the training and the
    validation lines (a validation character the model cannot write is a CER error it cannot
    avoid).
    """
    if extend:
        new = sorted({c for t in train_texts for c in charset.missing(t) if usable_label(c)})
        charset, added = charset.extended(new), new
    else:
        added = []

    def outside(texts: Sequence[str]) -> tuple[int, dict[str, int]]:
        lines, counts = 0, Counter[str]()
        for text in texts:
            missing = charset.missing(text)
            if missing:
                lines += 1
                counts.update(c for c in text if c in missing)
        return lines, dict(counts.most_common())

    train_lines, train_chars = outside(train_texts)
    val_lines, val_chars = outside(val_texts)
    event = {
        "event": "charset",
        "labels": len(charset),
        "added": "".join(added),
        "outside_train_lines": train_lines,
        "outside_train": train_chars,
        "outside_val_lines": val_lines,
        "outside_val": val_chars,
    }
    return charset, event


@dataclass
class TrainingData:
    """The training lines (prepared images, plus stroke lines drawn afresh every epoch) and the
    validation lines, as model inputs (uint8, ink = 255) with label ids."""

    train_sets: Sequence[str | Path]
    line_types: tuple[str, ...]
    height: int
    charset: Charset
    images: list[np.ndarray]
    labels: list[list[int]]
    known: set[Path]  # the training files already read (for --rescan)
    ink: StrokeLines | None
    val_images: list[np.ndarray]
    val_texts: list[str]

    @classmethod
    def load(
        cls,
        train_sets: Sequence[str | Path],
        val_set: str | Path,
        options: TrainOptions,
        height: int,
        charset: Charset,
        emit: Emit,
        extend_charset: bool = False,
    ) -> TrainingData:
        """Read the lines; with ``extend_charset``, ``charset`` grows by the training lines'
        new characters first (:func:`fit_charset`; the data's ``charset`` is then the grown
        one)."""
        problems: list[str] = []
        samples = _scan(train_sets, options.line_types, problems)
        val_samples = _scan([val_set], options.line_types, problems)
        if options.val_limit:
            val_samples = val_samples[:: max(1, len(val_samples) // options.val_limit)][
                : options.val_limit
            ]
        charset, report = fit_charset(
            charset, [s.text for s in samples], [s.text for s in val_samples], extend_charset
        )
        emit(report)
        ink = None
        if options.strokes:
            ink = StrokeLines.read(options.strokes, options.strokes_split, charset)
        emit(
            {
                "event": "loading",
                "train_lines": len(samples),
                "stroke_lines": len(ink.lines) if ink else 0,
                "val_lines": len(val_samples),
            }
        )
        images, labels, _ = prepare_samples(samples, height, charset, errors=problems)
        va_images, _, va_texts = prepare_samples(val_samples, height, charset, errors=problems)
        _warn_problems(problems, emit)
        data = cls(
            train_sets,
            options.line_types,
            height,
            charset,
            images,
            labels,
            {s.image for s in samples},
            ink,
            va_images,
            va_texts,
        )
        if not images and not data.n_ink:
            raise DatasetError("no usable training lines (all unreadable or outside the charset)")
        return data

    @property
    def n_ink(self) -> int:
        return len(self.ink.lines) if self.ink else 0

    @property
    def widths(self) -> np.ndarray:
        return np.array([im.shape[1] for im in self.images])

    def steps_per_epoch(self, options: TrainOptions) -> int:
        steps = math.ceil((len(self.images) + self.n_ink) / options.batch_size)
        if options.max_steps_per_epoch:
            steps = min(steps, options.max_steps_per_epoch)
        return steps

    def rescan(self, epoch: int, emit: Emit) -> None:
        """Add the training files that appeared since the last look (``--rescan``)."""
        problems: list[str] = []
        scanned = _scan(self.train_sets, self.line_types, problems)
        new = [s for s in scanned if s.image not in self.known]
        if not new:
            return
        self.known.update(s.image for s in new)
        images, labels, _ = prepare_samples(new, self.height, self.charset, errors=problems)
        _warn_problems(problems, emit)
        self.images += images
        self.labels += labels
        emit(
            {
                "event": "rescan",
                "epoch": epoch,
                "new_lines": len(images),
                "train_lines": len(self.images),
            }
        )

    def epoch_batches(
        self, epoch: int, steps: int, options: TrainOptions, rng: np.random.Generator
    ) -> Iterator[list[tuple[np.ndarray, list[int]]]]:
        """This epoch's batches of (image, label ids), at most ``steps``: width-bucketed batches
        of prepared images and of stroke lines (drawn now, for this epoch), mixed."""
        ink = self.ink
        plan = [(False, b) for b in _batches(self.widths, options.batch_size, rng)]
        drawn: Iterator[list[np.ndarray]] = iter(())
        if ink is not None:
            plan += [(True, b) for b in _batches(ink.widths, options.batch_size, rng)]
            plan = [plan[i] for i in rng.permutation(len(plan))]
        plan = plan[:steps]
        if ink is not None:
            drawn = ink.render_batches(
                [b for from_ink, b in plan if from_ink],
                epoch,
                self.height,
                seed=options.seed,
                workers=options.render_workers,
            )
        for from_ink, batch in plan:
            if from_ink:
                assert ink is not None
                pairs = [
                    (im, ink.labels[i])
                    for im, i in zip(next(drawn), batch)
                    if fits_ctc(ink.labels[i], im.shape[1])
                ]
            else:
                pairs = [(self.images[i], self.labels[i]) for i in batch]
            if pairs:
                yield pairs


def _scan(
    datasets: Sequence[str | Path], line_types: tuple[str, ...], problems: list[str]
) -> list[Sample]:
    """The samples of ``datasets`` (line datasets or PAGE XML/ALTO collections, of which only
    lines of ``line_types`` when given); the problems met go to ``problems``."""
    samples = []
    for ds in datasets:
        scan = scan_dataset(ds, line_types=line_types)
        samples += scan.samples
        problems += [str(e) for e in scan.errors]
    return samples


def _warn_problems(problems: list[str], emit: Emit, shown: int = 5) -> None:
    """One warning event for the lines and files that could not be read (the first few named)."""
    if problems:
        more = f" (and {len(problems) - shown} more)" if len(problems) > shown else ""
        emit(
            {
                "event": "warning",
                "message": f"{len(problems)} problem(s) reading the data, left out: "
                + "; ".join(problems[:shown])
                + more,
            }
        )


def _batch_tensors(
    pairs: list[tuple[np.ndarray, list[int]]],
    rng: np.random.Generator,
    augment: AugmentOptions | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch as model input and CTC targets: (images, widths, targets, target lengths)."""
    lines = [im.astype(np.float32) / 255.0 for im, _ in pairs]
    if augment is not None:
        lines = [augment_line(x, rng, augment) for x in lines]
    x, w = collate(lines)
    targets = torch.tensor([t for _, ids in pairs for t in ids], dtype=torch.long)
    target_lengths = torch.tensor([len(ids) for _, ids in pairs], dtype=torch.long)
    return x, w, targets, target_lengths


@dataclass
class Progress:
    """Where a run stands; ``<out>.last.pt`` carries it so that ``resume`` continues exactly."""

    epoch: int = 0  # the last finished epoch
    step: int = 0
    best_cer: float = math.inf
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    total_steps: int | None = None  # the schedule length of the run that saved it

    @classmethod
    def resumed(cls, state: dict[str, Any] | None) -> Progress:
        if state is None:
            return cls()
        return cls(
            epoch=int(state["epoch"]),
            step=int(state.get("step", 0)),
            best_cer=float(state.get("best_cer", math.inf)),
            best_epoch=int(state.get("best_epoch", 0)),
            history=list(state.get("history", [])),
            total_steps=int(state["total_steps"]) if "total_steps" in state else None,
        )


def _warn_if_schedule_moved(
    progress: Progress, total_steps: int, options: TrainOptions, emit: Emit
) -> None:
    """The cosine schedule is laid over epochs x steps: a resumed run with another total moves
    the current learning rate; say so."""
    saved = progress.total_steps
    if saved is None or saved == total_steps:
        return
    was, now = _lr_at(progress.step, saved, options), _lr_at(progress.step, total_steps, options)
    emit(
        {
            "event": "warning",
            "message": f"resuming with {total_steps} scheduled steps instead of "
            f"{saved} (--epochs or --max-steps-per-epoch changed): "
            f"the learning rate jumps from {was:.3g} to {now:.3g}",
        }
    )


def _save_last(
    path: Path,
    model: CRNN,
    charset: Charset,
    optimizer: torch.optim.Optimizer,
    progress: Progress,
    total_steps: int,
    rng: np.random.Generator,
    options: TrainOptions,
) -> None:
    """``<out>.last.pt``: weights plus all that ``resume`` needs to continue exactly (the numpy
    generator continues from a seed drawn from it here; ``schedule`` for
    :func:`resume_options`)."""
    save_checkpoint(
        path,
        model,
        charset,
        meta={"epoch": progress.epoch},
        extra={
            "optimizer": optimizer.state_dict(),
            "epoch": progress.epoch,
            "step": progress.step,
            "total_steps": total_steps,
            "best_cer": progress.best_cer,
            "best_epoch": progress.best_epoch,
            "history": progress.history,
            "rng": int(rng.integers(2**31)),
            "schedule": {k: getattr(options, k) for k in SCHEDULE_FIELDS},
        },
    )


def resume_options(out: str | Path, options: TrainOptions) -> TrainOptions:
    """``options`` with the learning rate, warm-up, patience and epochs of the run that
    ``<out>.last.pt`` holds, so that a resumed run goes on with its own schedule (the command
    line may set them again). ``options`` as they are when there is no such file or it
    predates them."""
    out = Path(out)
    last_path = out.with_name(out.stem + ".last.pt")
    if not last_path.is_file():
        return options
    saved = read_checkpoint(last_path).get("schedule", {})
    return replace(options, **{k: v for k, v in saved.items() if k in SCHEDULE_FIELDS})


# --------------------------------------------------------------------------- the loop

# Seconds between two "progress" events within an epoch (an epoch can take an hour on 2 cores).
PROGRESS_SECONDS = 30.0


def train(
    train_sets: Sequence[str | Path],
    val_set: str | Path,
    out: str | Path,
    options: TrainOptions = TrainOptions(),
    resume: bool = False,
    log: Emit | None = None,
) -> TrainResult:
    """Train a CRNN on line datasets and write the best checkpoint to ``out``.

    ``log`` receives one dict per event (``{"event": "epoch", ...}``); the same records go to
    ``<out>.log.jsonl``. Returns the best validation CER and the history.
    """
    if options.init and resume:
        raise OptionsError("--init and --resume conflict: resume continues its own weights")
    precision = training_precision(options.precision)
    out = Path(out)
    last_path = out.with_name(out.stem + ".last.pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    emit = _event_log(out.with_name(out.stem + ".log.jsonl"), log)
    if precision.note:
        emit({"event": "note", "message": precision.note})

    set_threads(options.threads)
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)

    # Model, charset and optimizer: fresh, from --init weights, or from the last checkpoint. A
    # fine-tune adds the training lines' new characters as outputs before the optimizer sees
    # the parameters.
    state = _read_last(last_path) if resume else None
    model, charset = _build_model(options, state)
    extend = bool(options.init) and options.extend_charset
    data = TrainingData.load(
        train_sets, val_set, options, model.config.height, charset, emit, extend_charset=extend
    )
    if len(data.charset) > len(charset):
        generator = torch.Generator().manual_seed(options.seed)
        model.add_outputs(len(data.charset) - len(charset), generator=generator)
        charset = data.charset
    optimizer = _build_optimizer(model, options, state)
    steps_per_epoch = data.steps_per_epoch(options)
    total_steps = steps_per_epoch * options.epochs

    progress = Progress.resumed(state)
    if state is not None and "rng" in state:
        rng = np.random.default_rng(int(state["rng"]))
    _warn_if_schedule_moved(progress, total_steps, options, emit)
    aug = AugmentOptions() if options.augment else None
    t_start = time.time()
    emit(
        {
            "event": "start",
            "train_lines": len(data.images),
            "stroke_lines": data.n_ink,
            "val_lines": len(data.val_images),
            "params": sum(p.numel() for p in model.parameters()),
            "precision": precision.name,
            "config": asdict(model.config),
            "options": {k: v for k, v in asdict(options).items() if k != "config"},
        }
    )

    start_epoch = progress.epoch + 1
    epoch = start_epoch - 1  # the last epoch run, if none runs
    for epoch in range(start_epoch, options.epochs + 1):
        if options.rescan and epoch > start_epoch:
            data.rescan(epoch, emit)
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        next_progress = t0 + PROGRESS_SECONDS
        batches = data.epoch_batches(epoch, steps_per_epoch, options, rng)
        for batch_no, pairs in enumerate(batches, 1):
            x, w, targets, target_lengths = _batch_tensors(pairs, rng, aug)
            for g in optimizer.param_groups:
                g["lr"] = _lr_at(progress.step, total_steps, options)
            with torch.autocast(
                "cpu", dtype=precision.dtype or torch.bfloat16, enabled=precision.dtype is not None
            ):
                logprobs, lengths = model(x, w)
            loss = torch.nn.functional.ctc_loss(
                logprobs, targets, lengths, target_lengths, blank=charset.blank, zero_infinity=True
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            progress.step += 1
            seen += len(pairs)
            loss_sum += loss.item() * len(pairs)
            if time.time() >= next_progress:  # a slow CPU: show where the epoch stands
                emit(
                    {
                        "event": "progress",
                        "epoch": epoch,
                        "batch": batch_no,
                        "batches": steps_per_epoch,
                        "loss": loss_sum / seen,
                        "lines_per_s": seen / max(time.time() - t0, 1e-9),
                    }
                )
                next_progress = time.time() + PROGRESS_SECONDS
        train_seconds = time.time() - t0

        val_cer, val_wer = evaluate_cer(model, data.val_images, data.val_texts, charset)
        record = {
            "event": "epoch",
            "epoch": epoch,
            "step": progress.step,
            "loss": loss_sum / max(1, seen),
            "val_cer": val_cer,
            "val_wer": val_wer,
            "lr": optimizer.param_groups[0]["lr"],
            "lines_per_s": seen / max(train_seconds, 1e-9),
            "elapsed_s": time.time() - t_start,
        }
        progress.epoch = epoch
        progress.history.append(record)
        improved = val_cer < progress.best_cer
        if improved:
            progress.best_cer, progress.best_epoch = val_cer, epoch
            save_checkpoint(
                out, model, charset, meta={"epoch": epoch, "val_cer": val_cer, "val_wer": val_wer}
            )
        _save_last(last_path, model, charset, optimizer, progress, total_steps, rng, options)
        emit({**record, "best": improved})
        if epoch - progress.best_epoch >= options.patience:
            emit({"event": "early_stop", "epoch": epoch, "best_epoch": progress.best_epoch})
            break
        if options.max_minutes and (time.time() - t_start) / 60 > options.max_minutes:
            emit({"event": "time_limit", "epoch": epoch})
            break

    return TrainResult(
        best_cer=progress.best_cer,
        best_epoch=progress.best_epoch,
        epochs_run=epoch - start_epoch + 1,
        history=progress.history,
        checkpoint=out,
    )
