"""Fine-tuning: --init (the shipped model or a checkpoint), new characters as new outputs, the
fine-tuning schedule, resuming a fine-tune."""

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import htrbatch.cli.train as cli_train
import htrbatch.train as train_module
from htrbatch.assets import default_model_path
from htrbatch.cli import app
from htrbatch.decode import BeamDecoder, DecodeOptions, GreedyDecoder
from htrbatch.model import (
    CRNN,
    DEFAULT_CHARSET,
    Charset,
    collate,
    load_checkpoint,
    prepare_line,
    read_checkpoint,
    usable_label,
)
from htrbatch.pipeline import Recognizer
from htrbatch.train import (
    FINETUNING,
    TrainOptions,
    fit_charset,
    init_path,
    resume_options,
    train,
)
from tests.conftest import draw_lines
from tests.test_train import TINY


def _events(out: Path) -> list[dict]:
    return [json.loads(x) for x in out.with_name(out.stem + ".log.jsonl").read_text().splitlines()]


@pytest.fixture
def pound_lines(tmp_path: Path) -> Path:
    """Six lines, three with characters the default charset lacks (the Hooker letters' £ é)."""
    root = tmp_path / "pounds"
    root.mkdir()
    texts = ["£5 to him", "the café", "a line", "£ 20", "more text", "end"]
    for i, text in enumerate(texts):
        # cv2's Hershey fonts draw only ASCII: the image shows "?" where the label has "£"; the
        # tests are about the labels and the outputs, not about reading the glyph
        img = draw_lines([text.encode("ascii", "replace").decode()], width=90 + 30 * len(text))
        cv2.imwrite(str(root / f"l{i}.png"), img[20:110])
        (root / f"l{i}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root


def test_charset_extension_keeps_known_labels() -> None:
    cs = Charset(DEFAULT_CHARSET)
    grown = cs.extended(["£", "a", "é", "£"])
    assert grown.labels[: len(cs)] == cs.labels and grown.labels[len(cs) :] == ["£", "é"]
    assert grown.encode("a£") == cs.encode("a") + [len(cs)]
    assert cs.missing("£5 to é£") == ["£", "é"]
    assert usable_label("£") and usable_label("∞")
    # pyctcdecode would take U+2581 for a BPE marker; whitespace and control characters no label
    assert not any(usable_label(c) for c in ("\u2581", "\t", "\u00a0", "\x07", "ab"))

    # fit_charset: extends from the training texts only, reports what stays outside
    charset, event = fit_charset(cs, ["£5", "caf\u00e9", "x\u2581y"], ["\u221e and £"], True)
    assert event["added"] == "£é" and event["labels"] == len(cs) + 2 == len(charset)
    assert event["outside_train"] == {"\u2581": 1} and event["outside_train_lines"] == 1
    assert event["outside_val"] == {"\u221e": 1} and event["outside_val_lines"] == 1
    same, event = fit_charset(cs, ["£5 ££"], [], False)
    assert same.labels == cs.labels and event["added"] == ""
    assert event["outside_train"] == {"£": 3} and event["outside_train_lines"] == 1


def test_add_outputs_keeps_the_scores_of_known_characters() -> None:
    torch.manual_seed(0)
    model = CRNN(TINY, len(Charset(DEFAULT_CHARSET))).eval()
    x, w = collate([prepare_line(draw_lines(["a test line"], width=300, line_h=40), 32)])
    scores: dict[str, torch.Tensor] = {}
    model.head.register_forward_hook(lambda m, i, o: scores.__setitem__("z", o.detach()))
    with torch.no_grad():
        before, _ = model(x, w)
        z_before = scores["z"]
        n_old = z_before.shape[-1]
        model.add_outputs(3, generator=torch.Generator().manual_seed(0))
        after, _ = model(x, w)
        z_after = scores["z"]
    assert after.shape[-1] == n_old + 3
    # the blank's and every known character's scores are exactly the old ones ...
    assert torch.equal(z_after[..., :n_old], z_before)
    # ... so their log-probs renormalised without the new outputs are the old log-probs
    renorm = after[..., :n_old] - after[..., :n_old].logsumexp(-1, keepdim=True)
    assert torch.allclose(renorm, before, atol=1e-5)
    # a new output starts as the mean of the known characters' rows (plus 1 % noise): it scores
    # like an average known character
    weight, bias = model.head[-1].weight.detach(), model.head[-1].bias.detach()
    known = weight[1:n_old]
    assert ((weight[n_old:] - known.mean(0)).abs() < 0.05 * known.std()).all()
    assert torch.allclose(bias[n_old:], bias[1:n_old].mean().expand(3))
    assert not torch.equal(weight[n_old], weight[n_old + 1])  # the noise tells them apart

    # the new outputs learn: a CTC step towards a new label moves their rows
    model.train()
    head = model.head[-1]
    logprobs, lengths = model(x, w)
    target = torch.tensor([n_old + 1, 5, n_old + 2])
    loss = torch.nn.functional.ctc_loss(logprobs, target, lengths, torch.tensor([3]))
    loss.backward()
    assert head.weight.grad is not None
    assert (
        head.weight.grad[n_old + 1].abs().sum() > 0 and head.weight.grad[n_old + 2].abs().sum() > 0
    )


def test_finetune_adds_new_characters_and_decodes_them(
    tiny_checkpoint: Path, pound_lines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ft" / "x.pt"
    opts = replace(
        FINETUNING, init=str(tiny_checkpoint), epochs=1, batch_size=4, threads=1, augment=False
    )
    result = train([pound_lines], pound_lines, out, opts)
    assert result.epochs_run == 1
    charset_event = next(e for e in _events(out) if e["event"] == "charset")
    assert charset_event["added"] == "£é" and charset_event["outside_train"] == {}

    base = load_checkpoint(tiny_checkpoint)
    tuned = load_checkpoint(out)  # the checkpoint describes its grown charset itself
    n_old = len(base.charset)
    assert tuned.charset.labels == base.charset.labels + ["£", "é"]
    assert tuned.model.head[-1].out_features == n_old + 2
    # trained: the known rows moved from the checkpoint's (so did the new ones, from their start)
    w_old, w_new = base.model.head[-1].weight, tuned.model.head[-1].weight
    assert not torch.equal(w_new[:n_old], w_old)

    # both decoders take the grown labels: a frame that says "£" decodes to "£"
    lp = np.full((6, n_old + 2), -20.0, np.float32)
    lp[:, 0] = 0.0
    lp[1, n_old] = 0.0
    lp[1, 0] = -20.0
    lp[3, tuned.charset.encode("5")[0]], lp[3, 0] = 0.0, -20.0
    assert GreedyDecoder(tuned.charset.labels).decode(lp).text == "£5"
    assert BeamDecoder(tuned.charset.labels).decode(lp).text == "£5"
    # and so does the whole recogniser, beam search with the shipped LM included
    rec = Recognizer(str(out), "cpu", decode=DecodeOptions(), precision="fp32")
    assert len(rec.logprobs([cv2.imread(str(pound_lines / "l0.png"), 0)])[0][0]) == n_old + 2
    assert isinstance(rec.recognize([cv2.imread(str(pound_lines / "l0.png"), 0)])[0].text, str)


def test_no_extend_charset_leaves_new_characters_out(
    tiny_checkpoint: Path, pound_lines: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.pt"
    opts = replace(
        FINETUNING, init=str(tiny_checkpoint), extend_charset=False, epochs=1, batch_size=4,
        max_steps_per_epoch=1, threads=1,
    )  # fmt: skip
    train([pound_lines], pound_lines, out, opts)
    event = next(e for e in _events(out) if e["event"] == "charset")
    assert event["added"] == "" and event["outside_train"] == {"£": 2, "é": 1}
    assert event["outside_train_lines"] == 3
    assert load_checkpoint(out).charset.labels == load_checkpoint(tiny_checkpoint).charset.labels


def test_resume_after_extension_keeps_charset_and_schedule(
    tiny_checkpoint: Path, pound_lines: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "x.pt"
    opts = replace(
        FINETUNING, init=str(tiny_checkpoint), lr=5e-4, epochs=1, batch_size=4,
        max_steps_per_epoch=1, threads=1,
    )  # fmt: skip
    train([pound_lines], pound_lines, out, opts)
    labels = read_checkpoint(out.with_name("x.last.pt"))["charset"]
    assert labels[-2:] == ["£", "é"]

    # resumed without --init (so from the training defaults): the run's own lr, warm-up,
    # patience and epochs come back (a resume without --epochs does not fall back to 40 and
    # move the learning rate); `--epochs 2` given again extends the run
    plain = TrainOptions(batch_size=4, max_steps_per_epoch=1, threads=1)
    resumed = resume_options(out, plain)
    assert (plain.lr, plain.warmup_steps, plain.patience, plain.epochs) == (1e-3, 300, 8, 40)
    assert (resumed.lr, resumed.warmup_steps, resumed.patience) == (5e-4, 50, 5)
    assert resumed.epochs == 1 and resumed.init == ""
    assert resume_options(tmp_path / "none.pt", plain) == plain
    # the same through the CLI: `--resume` alone keeps the run's epochs, `--epochs` wins
    seen: list[TrainOptions] = []

    def fake_train(train_sets, val, out, options, resume=False, log=None):  # noqa: ANN001
        seen.append(options)
        return train_module.TrainResult(0.5, 1, 1, [], Path(out))

    with monkeypatch.context() as m:
        m.setattr(cli_train, "train", fake_train)
        args = ["train", "--train", str(pound_lines), "--val", str(pound_lines), "--out", str(out)]
        for extra, epochs in (([], 1), (["--epochs", "3"], 3)):
            r = CliRunner().invoke(app, [*args, "--resume", *extra])
            assert r.exit_code == 0, r.output
            assert (seen[-1].epochs, seen[-1].lr) == (epochs, 5e-4)
    resumed = replace(resumed, epochs=2)
    result = train([pound_lines], pound_lines, out, resumed, resume=True)
    assert result.epochs_run == 1
    last = read_checkpoint(out.with_name("x.last.pt"))
    assert last["epoch"] == 2 and last["charset"] == labels
    assert load_checkpoint(out.with_name("x.last.pt")).model.head[-1].out_features == 1 + len(
        labels
    )
    events = _events(out)
    assert [e["added"] for e in events if e["event"] == "charset"] == ["£é", ""]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]


def test_progress_events_within_an_epoch(
    line_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_module, "PROGRESS_SECONDS", 0.0)
    out = tmp_path / "m.pt"
    opts = TrainOptions(epochs=1, batch_size=2, config=TINY, threads=1)
    train([line_dataset], line_dataset, out, opts)
    progress = [e for e in _events(out) if e["event"] == "progress"]
    assert [e["batch"] for e in progress] == [1, 2, 3]
    assert all(e["batches"] == 3 and e["loss"] > 0 for e in progress)


def test_init_default_is_the_shipped_model() -> None:
    assert init_path("default") == default_model_path()
    assert init_path("runs/x.pt") == Path("runs/x.pt")
    shipped = read_checkpoint(init_path("default"))
    assert "".join(shipped["charset"]) == DEFAULT_CHARSET


def test_cli_fine_tuning_defaults(
    line_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[TrainOptions] = []

    def fake_train(train_sets, val, out, options, resume=False, log=None):  # noqa: ANN001
        seen.append(options)
        event = {"event": "charset", "labels": 88, "added": "£é∞", "outside_train": {}}
        log({**event, "outside_train_lines": 0, "outside_val": {"x": 2}, "outside_val_lines": 1})
        return train_module.TrainResult(0.5, 1, 1, [], Path(out))

    monkeypatch.setattr(cli_train, "train", fake_train)
    runner = CliRunner()
    args = ["train", "--train", str(line_dataset), "--val", str(line_dataset)]
    out = ["--out", str(tmp_path / "x.pt")]

    r = runner.invoke(app, [*args, *out, "--init", "default"])
    assert r.exit_code == 0, r.output
    assert "added 3 characters: £ é ∞" in r.output and "1 val lines" in r.output
    o = seen[-1]
    assert o.init == "default" and o.extend_charset
    assert (o.lr, o.warmup_steps, o.patience) == (FINETUNING.lr, FINETUNING.warmup_steps, 5)

    # what is given wins; without --init the training defaults apply
    runner.invoke(app, [*args, *out, "--init", "default", "--lr", "1e-4", "--no-extend-charset"])
    o = seen[-1]
    assert (o.lr, o.warmup_steps, o.extend_charset) == (1e-4, FINETUNING.warmup_steps, False)
    runner.invoke(app, [*args, *out])
    o = seen[-1]
    assert (o.init, o.lr, o.warmup_steps) == ("", TrainOptions().lr, TrainOptions().warmup_steps)

    r = runner.invoke(app, [*args, *out, "--no-extend-charset"])
    assert r.exit_code != 0 and "--no-extend-charset needs --init" in r.output
    assert len(seen) == 3
