"""The demo's data scenarios: which data it prepares and which deletion requests it files.

- `default`: the params.yaml data; one request of each kind (a whole class, one data owner, two
  single samples). At this scale no base memorises individual images, so the sample gate can only
  say `inconclusive` or `forgotten` here (README, "Evidence").
- `memorise`: the training images of the first `MEMORISE["duplicate_subjects"]` subjects recur
  `MEMORISE["duplicate_copies"]` extra times, as duplicates do in scraped data, and one request asks
  to forget all of those subjects (~22 distinct images: one subject's ~5 are too few for the gate to
  show `forgotten`, see README "Evidence"): the base remembers them (the sample gate's
  `remembered`); an unlearned model should not, and the gate holds back one that still does
  (benchmarks/results/2026-12-04-verdicts-memorise.md: encoder-noise with the shipped recipe does).
"""

from __future__ import annotations

import re

from components.data import Sample
from components.errors import BadInputError
from flows.params import Params, load_params
from flows.workspace import Workspace

SCENARIOS = ("default", "memorise")
MEMORISE = {"duplicate_subjects": 5, "duplicate_copies": 50}


def apply(ws: Workspace, params: Params, scenario: str, has_champion: bool) -> Params:
    """`memorise`: write its data keys into params.yaml (comments kept) unless they are set already, and
    return the reloaded params. A workspace whose base was trained without duplicates cannot show the
    scenario: refused, nothing written."""
    if scenario not in SCENARIOS:
        raise BadInputError(f"unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}")
    current = {key: getattr(params.data, key) for key in MEMORISE}
    if scenario == "default" or all(current.values()):  # default: params.yaml as it is; memorise: the user's own counts
        return params
    if has_champion:
        raise BadInputError(
            f"this workspace's base was trained without duplicated subjects ({current}); the {scenario} scenario "
            f"needs a workspace of its own: forgetflow init DIR && forgetflow -w DIR demo --scenario {scenario}"
        )
    text = ws.params_file.read_text()
    for key, value in MEMORISE.items():
        text, found = re.subn(rf"^(  {key}:\s*)\d+", rf"\g<1>{value}", text, count=1, flags=re.MULTILINE)
        if not found:
            raise BadInputError(f"{ws.params_file}: no `data.{key}` line to set (copy it from flows/templates/params.yaml)")
    ws.params_file.write_text(text)
    return load_params(ws.params_file)


def requests(manifest: list[Sample], scenario: str) -> list[tuple[str, list[str], str]]:
    """(kind, selector, reason) of the requests the demo files."""
    if scenario == "memorise":
        owners = sorted({s.subject_id for s in manifest if s.sample_id.rsplit("-copy", 1)[0] != s.sample_id})
        return [("subject", owners, "demo: data owners whose images recur in the training data")]
    label = max(s.label for s in manifest)
    others = [s for s in manifest if s.split == "train" and s.label != label]
    owner = others[0].subject_id
    singles = [s.sample_id for s in others if s.subject_id != owner][:2]
    return [
        ("label", [str(label)], "demo: forget a whole class"),
        ("subject", [owner], "demo: a data owner's erasure request"),
        ("sample", singles, "demo: two images reported by their owners"),
    ]
