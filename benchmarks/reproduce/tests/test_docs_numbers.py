"""Every decimal number on the reproduction pages comes from a committed result file.

The pages are ``docs/guides/reproducing.md`` and ``docs/guides/reproducing/*.md``; their
prose is read without code (fenced or inline), link targets and ``{include}`` directives
(included tables are result files already). A number such as ``31.66`` or ``0.0024`` is
sourced when, written at the page's precision, it is

* a value of a JSON file of the study's results (``benchmarks/results/reproduce/``) or of a
  result file the pages name (rounded, or as a percentage),
* written in one of those result or records files (``*.md``, ``*.toml``),
* a value of a study config (``benchmarks/reproduce/configs/``) or of the paper's tables
  (:mod:`benchmarks.reproduce.paper`), or
* the difference of two sourced numbers written in the same paragraph or list item (a
  margin next to the two numbers it is taken from).

Whole numbers (step counts, percentages, image counts) are not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

from benchmarks.common import REPO, RESULTS
from benchmarks.reproduce import paper

PAGES = [REPO / "docs/guides/reproducing.md", *sorted((REPO / "docs/guides/reproducing").glob("*.md"))]
NUMBER = re.compile(r"(?<![\w.·])[-−+]?(\d+\.\d+)(?!\w|\.\d)")


def _values(node: object) -> Iterator[float]:
    if isinstance(node, bool) or node is None:
        return
    if isinstance(node, int | float):
        yield float(node)
    elif isinstance(node, str):
        yield from (float(m) for m in re.findall(r"\d+\.\d+", node))
    elif isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _values(value)


def _written(value: float) -> set[str]:
    """``value`` as the pages may write it: 1 to 4 decimals, as is or as a percentage."""
    return {f"{abs(v):.{d}f}" for v in (value, 100 * value) for d in range(1, 5)}


def sources(pages: list[Path]) -> set[str]:
    named = {REPO / m for page in pages for m in re.findall(r"benchmarks/results/[\w./-]+", page.read_text())}
    files = [*(RESULTS / "reproduce").rglob("*"), *(p for p in named if p.is_file())]
    known: set[str] = set()
    for path in [*files, *(REPO / "benchmarks/reproduce/configs").glob("*.json")]:
        if path.suffix not in {".json", ".md", ".toml"}:
            continue
        text = path.read_text()
        known |= set(re.findall(r"\d+\.\d+", text))
        if path.suffix == ".json":
            for value in _values(json.loads(text)):
                known |= _written(value)
    tables = [getattr(paper, name) for name in dir(paper) if name.isupper() and name.startswith("TABLE")]
    for value in _values(tables):
        known |= _written(value)
    return known


def paragraphs(text: str) -> list[str]:
    """The page's prose, one string per paragraph or list item, without code and link targets."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return [p for p in re.split(r"\n\s*\n|\n(?=\s*[-*] |\s*\d+\. )", text) if p.strip()]


def unsourced(text: str, known: set[str]) -> list[str]:
    missing = []
    for para in paragraphs(text):
        written = NUMBER.findall(para)
        decimals = {len(w.split(".")[1]) for w in written}
        margins = {
            f"{abs(float(a) - float(b)):.{d}f}"
            for a, b in permutations([w for w in written if w in known], 2)
            for d in decimals
        }
        missing += [w for w in written if w not in known and w not in margins]
    return missing


def test_every_number_on_the_reproduction_pages_comes_from_a_committed_result_file():
    known = sources(PAGES)
    missing = {page.name: unsourced(page.read_text(), known) for page in PAGES}
    assert len(PAGES) >= 7 and sum(len(NUMBER.findall(p.read_text())) for p in PAGES) > 300
    assert not {page: numbers for page, numbers in missing.items() if numbers}


def test_the_check_finds_a_number_with_no_source():
    known = {"31.66", "28.85"}
    assert unsourced("FGRN reaches 31.66 dB, IRN 28.85 (+2.81); bicubic 27.00.", known) == ["27.00"]
    assert unsourced("Set5 31.66.\n\nIRN is 2.81 dB behind.", known) == ["2.81"]  # a margin far from its numbers
    assert unsourced("```\n99.99\n```\nsee `12.34` and [a](x/1.5.md)", known) == []
