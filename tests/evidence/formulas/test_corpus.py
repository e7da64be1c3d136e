"""The engine against real Beast Modes: tests/evidence/formulas/corpus/beast_modes.json.

Each entry is a formula copied verbatim from Domo's knowledge base or a Dojo thread, with its
source and the flaw codes a reviewer labelled it with (no labels: clean). Only error and warning
flaws count. Figures, printed with `pytest -s`:

* recall: labelled (formula, code) pairs the engine reports / labelled pairs;
* clean false-alarm rate: clean formulas with any flaw reported / clean formulas;
* unlabelled-code rate: codes reported on flawed formulas that their labels do not hold /
  codes reported on flawed formulas.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.formulas import FLAW_CODES, USES, analyze

CORPUS = json.loads((Path(__file__).parent / "corpus" / "beast_modes.json").read_text(encoding="utf-8"))


def _reported(entry: dict) -> set[str]:
    analysis = analyze(entry["formula"], used_as=entry["used_as"])
    return {flaw.code for flaw in analysis.flaws if flaw.severity in ("error", "warning")}


def score(corpus: list[dict]) -> dict[str, float | int]:
    labelled = found = clean = clean_alarms = flawed_reported = unlabelled = 0
    for entry in corpus:
        labels, reported = set(entry["labels"]), _reported(entry)
        if labels:
            labelled += len(labels)
            found += len(labels & reported)
            flawed_reported += len(reported)
            unlabelled += len(reported - labels)
        else:
            clean += 1
            clean_alarms += bool(reported)
    return {
        "formulas": len(corpus),
        "clean": clean,
        "flawed": len(corpus) - clean,
        "labelled": labelled,
        "recall": found / labelled,
        "clean_false_alarms": clean_alarms / clean,
        "unlabelled_codes": unlabelled / flawed_reported,
    }


def test_the_corpus_is_sourced_real_formulas_with_known_labels():
    assert len(CORPUS) >= 60
    assert sum(not entry["labels"] for entry in CORPUS) >= 25
    assert len({entry["id"] for entry in CORPUS}) == len(CORPUS)
    for entry in CORPUS:
        assert entry["formula"].strip() and entry["note"].strip()
        assert entry["source"]["url"].startswith("https://") and entry["source"]["title"]
        assert set(entry["labels"]) <= set(FLAW_CODES)
        assert entry["used_as"] in USES


def test_recall_and_false_alarms_on_the_corpus(capsys):
    figures = score(CORPUS)
    with capsys.disabled():
        print(
            f"\nBeast Mode corpus: {figures['formulas']} formulas ({figures['clean']} clean, "
            f"{figures['flawed']} flawed, {figures['labelled']} labelled flaws); "
            f"recall {figures['recall']:.1%}, clean false alarms {figures['clean_false_alarms']:.1%}, "
            f"unlabelled codes on flawed formulas {figures['unlabelled_codes']:.1%}"
        )
    assert figures["recall"] >= 0.85
    assert figures["clean_false_alarms"] <= 0.10
    assert figures["unlabelled_codes"] <= 0.10


@pytest.mark.parametrize(
    "code", ["UNPARSEABLE", "MIXED_AGGREGATION_LEVEL", "HARDCODED_ASSUMPTION", "WEEK_MODE"]
)
def test_each_class_of_the_issue_is_in_the_corpus_and_found(code, capsys):
    entries = [entry for entry in CORPUS if code in entry["labels"]]
    found = sum(code in _reported(entry) for entry in entries)
    with capsys.disabled():
        print(f"\n{code}: {found} of {len(entries)} labelled formulas found")
    assert entries and found / len(entries) >= 0.8
