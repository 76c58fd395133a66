"""Split the manifest for one deletion batch: what to unlearn, what to keep, what to measure on."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from components.data.manifest import Sample


@dataclass(frozen=True)
class ForgetSet:
    """Sample-id lists of one batch (each sorted, so its sha256 identifies it)."""

    removed: list[str]  # every requested sample: leaves data/ when the batch is promoted
    forget: list[str]  # D_F for unlearning: the requested training samples (all requested if none trained)
    retain: list[str]  # D_R sample for the retain term: training samples of untouched classes
    proxy: list[str]  # retain-free variant: odd-position test images of untouched classes
    eval_forget: list[str]  # held-out test images of forgotten classes + the requested training samples
    eval_retain: list[str]  # even-position test images of untouched classes (never in proxy)

    def lists(self) -> dict[str, list[str]]:
        return asdict(self)


def list_sha256(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def split_for_batch(
    samples: list[Sample], requested: set[str], forgotten_labels: set[int], retain_samples: int, seed: int
) -> ForgetSet:
    untouched = [s for s in samples if s.sample_id not in requested and s.label not in forgotten_labels]
    requested_rows = [s for s in samples if s.sample_id in requested]
    trained = [s.sample_id for s in requested_rows if s.split == "train"]
    forget = sorted(trained or [s.sample_id for s in requested_rows])
    held_out = [s for s in untouched if s.split == "test"]
    by_class: dict[int, list[Sample]] = {}
    for s in held_out:
        by_class.setdefault(s.label, []).append(s)
    eval_retain = sorted(s.sample_id for group in by_class.values() for s in group[0::2])
    proxy = sorted(s.sample_id for group in by_class.values() for s in group[1::2])
    pool = sorted(
        (s.sample_id for s in untouched if s.split == "train"), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
    )
    # Forgotten classes are measured on their unseen test images (did the model lose the class?);
    # individual samples on themselves (can it still rebuild what it was trained on?).
    class_tests = {s.sample_id for s in requested_rows if s.split == "test" and s.label in forgotten_labels}
    individual = {s.sample_id for s in requested_rows if s.split == "train" and s.label not in forgotten_labels}
    return ForgetSet(
        removed=sorted(requested),
        forget=forget,
        retain=sorted(pool[:retain_samples]),
        proxy=proxy,
        eval_forget=sorted(class_tests | individual) or forget,
        eval_retain=eval_retain,
    )


def retained_training(samples: list[Sample], removed: set[str], forgotten_labels: set[int]) -> list[str]:
    """Training images a batch keeps, of classes it keeps: all a never-seen-the-class reference may draw on."""
    return sorted(
        s.sample_id for s in samples if s.split == "train" and s.label not in forgotten_labels and s.sample_id not in removed
    )


def distinct_images(ids: list[str], by_id: dict[str, Sample]) -> list[str]:
    """One id per distinct image (by sha256), first seen first: copies of one image are one piece
    of evidence, not many (scraped data repeats images)."""
    first: dict[str, str] = {}
    for i in ids:
        first.setdefault(by_id[i].sha256, i)
    return list(first.values())


def spread(ids: list[str], n: int) -> list[str]:
    """At most `n` ids, evenly spaced over the (sorted) list: every class keeps its share."""
    return ids if len(ids) <= n else [ids[k * len(ids) // n] for k in range(n)]


def evaluation_sets(lists: dict[str, list[str]], split_of: dict[str, str], n: int) -> dict[str, list[str]]:
    """The held-out sets a batch is judged on, each capped at `n` images (sized by the interval it
    must reach): `retain` (unseen images of untouched classes), `forget_class` (unseen images of
    forgotten classes) and `forget_samples` (the forgotten *training* images, few, all used)."""
    return {
        "retain": spread(lists["eval_retain"], n),
        "forget_class": spread([i for i in lists["eval_forget"] if split_of[i] == "test"], n),
        "forget_samples": [i for i in lists["eval_forget"] if split_of[i] == "train"],
    }
