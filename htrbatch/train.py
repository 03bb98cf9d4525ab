"""Training the CRNN with CTC, nanoGPT-style: one loop, read top to bottom.

Per epoch: shuffled width-bucketed batches with online augmentation -> CTC loss -> AdamW step;
then greedy validation CER under ``torch.no_grad``; ``<out>.last.pt`` (with optimizer and
scheduler state, so ``resume`` continues exactly) every epoch, ``<out>`` whenever validation CER
improves; early stopping when it has not improved for ``patience`` epochs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from htrbatch.data.augment import AugmentOptions, augment_line
from htrbatch.data.datasets import Sample, load_dataset
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
)
from htrbatch.pipeline import cpu_has_native_bf16, dtype_name


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
    init: str = ""  # start from the weights of this checkpoint (fine-tuning)
    rescan: bool = False  # look for new training files every epoch (data still being rendered)
    precision: str = "auto"  # auto | fp32 | bf16: autocast dtype of the forward pass, see below
    strokes: str = ""  # IAM-OnDB folder whose lines are rendered afresh every epoch (data.online)
    strokes_split: str = "trainset"
    render_workers: int = 1  # processes drawing --strokes lines ahead of the step (0 = inline)
    config: CRNNConfig = field(default_factory=CRNNConfig)


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
) -> tuple[list[np.ndarray], list[list[int]], list[str]]:
    """Read and prepare every line once: (images uint8 (H, W_i), label ids, texts)."""
    images, labels, texts = [], [], []
    jobs = [(str(s.image), height) for s in samples]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (s, img) in enumerate(zip(samples, pool.map(_load_prepared, jobs, chunksize=64))):
            if progress and i % 500 == 0:
                progress(i, len(samples))
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


TRAIN_PRECISIONS = ("auto", "fp32", "bf16")


def training_autocast_dtype(
    precision: str, flags: frozenset[str] | None = None
) -> torch.dtype | None:
    """The autocast dtype for training on the CPU, or None for plain fp32.

    ``auto`` takes bf16 where the CPU has bf16 instructions (``avx512_bf16`` or AMX), the same
    rule as inference (``pipeline.cpu_has_native_bf16``). On the 2-core development CPU
    (avx512_bf16, no AMX) a forward + backward step ran 1.6-2.1x faster under bf16 autocast than
    in fp32 (docs/benchmarks.md, Training). The LSTM and the CTC loss stay in fp32
    (``CRNN.forward``), so only the convolutions run in bf16.
    """
    if precision not in TRAIN_PRECISIONS:
        raise OptionsError(
            f"--precision {precision!r}: expected one of {', '.join(TRAIN_PRECISIONS)}"
        )
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_native_bf16(flags) else None


def _lr_at(step: int, total: int, options: TrainOptions) -> float:
    if step < options.warmup_steps:
        return options.lr * (step + 1) / options.warmup_steps
    p = min(1.0, (step - options.warmup_steps) / max(1, total - options.warmup_steps))
    return options.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))


def train(
    train_sets: Sequence[str | Path],
    val_set: str | Path,
    out: str | Path,
    options: TrainOptions = TrainOptions(),
    resume: bool = False,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train a CRNN on line datasets and write the best checkpoint to ``out``.

    ``log`` receives one dict per event (``{"event": "epoch", ...}``); the same records go to
    ``<out>.log.jsonl``. Returns the best validation CER and the history.
    """
    if options.init and resume:
        raise OptionsError("--init and --resume conflict: resume continues its own weights")
    autocast_dtype = training_autocast_dtype(options.precision)
    out = Path(out)
    last_path = out.with_name(out.stem + ".last.pt")
    log_path = out.with_name(out.stem + ".log.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)

    def emit(record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 1), **record}
        with log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if log:
            log(record)

    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)

    # Model, charset and optimizer: fresh, from --init weights, or from the last checkpoint.
    config, charset = options.config, Charset(DEFAULT_CHARSET)
    state = None
    if resume:
        if not last_path.is_file():
            raise OptionsError(f"--resume: {last_path} does not exist (nothing to resume)")
        state = read_checkpoint(last_path)
        config, charset = CRNNConfig.from_dict(state["config"]), Charset(state["charset"])
    elif options.init:
        loaded = load_checkpoint(options.init)
        config, charset = loaded.config, loaded.charset
    model = CRNN(config, len(charset))
    if state is not None:
        model.load_state_dict(state["state_dict"])
    elif options.init:
        model.load_state_dict(loaded.model.state_dict())
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    if state is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])

    def scan() -> list[Sample]:
        return [s for ds in train_sets for s in load_dataset(ds)]

    samples = scan()
    ink = None
    if options.strokes:
        ink = StrokeLines.read(options.strokes, options.strokes_split, charset)
    n_ink = len(ink.lines) if ink else 0
    val_samples = load_dataset(val_set)
    if options.val_limit:
        val_samples = val_samples[:: max(1, len(val_samples) // options.val_limit)][
            : options.val_limit
        ]
    emit(
        {
            "event": "loading",
            "train_lines": len(samples),
            "stroke_lines": n_ink,
            "val_lines": len(val_samples),
        }
    )
    tr_images, tr_labels, _ = prepare_samples(samples, config.height, charset)
    known = {s.image for s in samples}
    va_images, _, va_texts = prepare_samples(val_samples, config.height, charset)
    if not tr_images and not n_ink:
        raise DatasetError("no usable training lines (all unreadable or outside the charset)")
    widths = np.array([im.shape[1] for im in tr_images])
    steps_per_epoch = math.ceil((len(tr_images) + n_ink) / options.batch_size)
    if options.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, options.max_steps_per_epoch)
    total_steps = steps_per_epoch * options.epochs

    history: list[dict[str, Any]] = list(state.get("history", [])) if state else []
    start_epoch = int(state["epoch"]) + 1 if state else 1
    step = int(state.get("step", 0)) if state else 0
    best_cer = float(state.get("best_cer", math.inf)) if state else math.inf
    best_epoch = int(state.get("best_epoch", 0)) if state else 0
    if state is not None and "rng" in state:
        rng = np.random.default_rng(int(state["rng"]))
    saved_total = int(state.get("total_steps", total_steps)) if state else total_steps
    if saved_total != total_steps:
        # The cosine schedule is laid over epochs x steps: a new total moves the current lr.
        was, now = _lr_at(step, saved_total, options), _lr_at(step, total_steps, options)
        emit(
            {
                "event": "warning",
                "message": f"resuming with {total_steps} scheduled steps instead of "
                f"{saved_total} (--epochs or --max-steps-per-epoch changed): "
                f"the learning rate jumps from {was:.3g} to {now:.3g}",
            }
        )
    aug = AugmentOptions()
    t_start = time.time()
    emit(
        {
            "event": "start",
            "train_lines": len(tr_images),
            "stroke_lines": n_ink,
            "val_lines": len(va_images),
            "params": sum(p.numel() for p in model.parameters()),
            "precision": dtype_name(autocast_dtype),
            "config": asdict(config),
            "options": {k: v for k, v in asdict(options).items() if k != "config"},
        }
    )

    epoch = start_epoch - 1
    for epoch in range(start_epoch, options.epochs + 1):
        if options.rescan and epoch > start_epoch:
            new = [s for s in scan() if s.image not in known]
            if new:
                known.update(s.image for s in new)
                images, labels, _ = prepare_samples(new, config.height, charset)
                tr_images += images
                tr_labels += labels
                widths = np.array([im.shape[1] for im in tr_images])
                emit(
                    {
                        "event": "rescan",
                        "epoch": epoch,
                        "new_lines": len(images),
                        "train_lines": len(tr_images),
                    }
                )
        model.train()
        t0, seen, loss_sum = time.time(), 0, 0.0
        # Batches of pre-rendered images and of stroke lines (drawn now, for this epoch) mixed.
        plan = [(False, b) for b in _batches(widths, options.batch_size, rng)]
        drawn: Iterator[list[np.ndarray]] = iter(())
        if ink is not None:
            plan += [(True, b) for b in _batches(ink.widths, options.batch_size, rng)]
            plan = [plan[i] for i in rng.permutation(len(plan))]
        plan = plan[:steps_per_epoch]
        if ink is not None:
            drawn = ink.render_batches(
                [b for from_ink, b in plan if from_ink],
                epoch,
                config.height,
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
                pairs = [(tr_images[i], tr_labels[i]) for i in batch]
            if not pairs:
                continue
            lines = [im.astype(np.float32) / 255.0 for im, _ in pairs]
            if options.augment:
                lines = [augment_line(x, rng, aug) for x in lines]
            x, w = collate(lines)
            targets = torch.tensor([t for _, ids in pairs for t in ids], dtype=torch.long)
            target_lengths = torch.tensor([len(ids) for _, ids in pairs], dtype=torch.long)
            for g in optimizer.param_groups:
                g["lr"] = _lr_at(step, total_steps, options)
            with torch.autocast(
                "cpu", dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None
            ):
                logprobs, lengths = model(x, w)
            loss = torch.nn.functional.ctc_loss(
                logprobs, targets, lengths, target_lengths, blank=charset.blank, zero_infinity=True
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            seen += len(pairs)
            loss_sum += loss.item() * len(pairs)
        train_seconds = time.time() - t0

        val_cer, val_wer = evaluate_cer(model, va_images, va_texts, charset)
        record = {
            "event": "epoch",
            "epoch": epoch,
            "step": step,
            "loss": loss_sum / max(1, seen),
            "val_cer": val_cer,
            "val_wer": val_wer,
            "lr": optimizer.param_groups[0]["lr"],
            "lines_per_s": seen / max(train_seconds, 1e-9),
            "elapsed_s": time.time() - t_start,
        }
        history.append(record)
        improved = val_cer < best_cer
        if improved:
            best_cer, best_epoch = val_cer, epoch
            save_checkpoint(
                out, model, charset, meta={"epoch": epoch, "val_cer": val_cer, "val_wer": val_wer}
            )
        save_checkpoint(
            last_path,
            model,
            charset,
            meta={"epoch": epoch},
            extra={
                "optimizer": optimizer.state_dict(),
                "epoch": epoch,
                "step": step,
                "total_steps": total_steps,
                "best_cer": best_cer,
                "best_epoch": best_epoch,
                "history": history,
                "rng": int(rng.integers(2**31)),
            },
        )
        emit({**record, "best": improved})
        if epoch - best_epoch >= options.patience:
            emit({"event": "early_stop", "epoch": epoch, "best_epoch": best_epoch})
            break
        if options.max_minutes and (time.time() - t_start) / 60 > options.max_minutes:
            emit({"event": "time_limit", "epoch": epoch})
            break

    return TrainResult(
        best_cer=best_cer,
        best_epoch=best_epoch,
        epochs_run=epoch - start_epoch + 1,
        history=history,
        checkpoint=out,
    )
