"""The study's records as data: ``benchmarks/results/reproduce/records.toml``, read once.

Which run each shipped file comes from, how the runs that :mod:`benchmarks.reproduce.table1`
does not train were trained, the notes their model cards carry, and the GPU runs and budgets.
Decisions live in that file (each naming the rule file beside it that made it), not in code.
"""

from __future__ import annotations

import tomllib
from typing import Any, NamedTuple

from benchmarks.common import RESULTS

PATH = RESULTS / "reproduce" / "records.toml"


class GpuRun(NamedTuple):
    """A run of :mod:`benchmarks.reproduce.gpu_budget`: the CPU study config it starts from, its
    config overrides, and its label in the table."""

    base: str
    overrides: list[str]
    label: str


def _load() -> dict[str, Any]:
    with PATH.open("rb") as f:
        return tomllib.load(f)


_RECORDS = _load()

#: (model, scale) -> the study run whose final weights ship.
SHIPPED_RUNS: dict[tuple[str, int], str] = {
    (name.split("-x")[0], int(name.split("-x")[1])): entry["run"] for name, entry in _RECORDS["shipped"].items()
}
#: Runs that go on after shipping (background continuations): their newest checkpoint ships.
CONTINUING_RUNS: frozenset[str] = frozenset(n for n, r in _RECORDS["runs"].items() if r.get("continuing"))
#: run -> the command that trained it, for runs that table1 does not train.
RUN_COMMANDS: dict[str, str] = {n: r["command"] for n, r in _RECORDS["runs"].items() if "command" in r}
#: run -> what its model card says beyond the common notes.
RUN_NOTES: dict[str, str] = {n: r["note"].strip() for n, r in _RECORDS["runs"].items() if "note" in r}
#: run -> its training data, for runs that did not train on the 291 images minus the 10 held out.
RUN_DATA: dict[str, str] = {n: r["data"] for n, r in _RECORDS["runs"].items() if "data" in r}
#: GPU run name -> :class:`GpuRun`.
GPU_RUNS: dict[str, GpuRun] = {n: GpuRun(**r) for n, r in _RECORDS["gpu_runs"].items()}
#: the runs :mod:`benchmarks.reproduce.gpu_budget` trains by default (the paper-recipe study's).
GPU_DEFAULT_RUNS: list[str] = list(_RECORDS["gpu_default"]["runs"])
#: run-name tag of :mod:`benchmarks.reproduce.gpu_budget` -> what was run ("" is no tag).
GPU_BUDGETS: dict[str, str] = dict(_RECORDS["gpu_budgets"])
