"""Turn what a data owner asks for into a ledger request, or a clear refusal that writes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from components.data.manifest import Sample, is_safe_id
from components.errors import ForgetflowError
from components.ledger.store import Ledger, Request

KINDS = ("sample", "subject", "label")
MAX_REASON = 500


class IntakeError(ForgetflowError):
    """The request is malformed or names nothing that exists; nothing was written."""


@dataclass(frozen=True)
class IntakeResult:
    request: Request
    created: bool  # False: an existing request already covers every sample asked for


def resolve(samples: list[Sample], kind: str, selector: list[str], forgotten: dict[str, str]) -> list[str]:
    """Sample ids a selector names in the current manifest (plus already-forgotten ones it names)."""
    if kind not in KINDS:
        raise IntakeError(f"unknown request kind {kind!r}; expected one of {KINDS}")
    if not selector:
        raise IntakeError("empty request: give at least one sample, subject or label")
    if kind == "label":
        return _resolve_label(samples, selector)
    bad = [token for token in selector if not is_safe_id(token)]
    if bad:
        raise IntakeError(f"malformed id(s) {bad[:5]}: ids are letters, digits, '-' and '_' only")
    if kind == "sample":
        known = {s.sample_id for s in samples} | set(forgotten)
        unknown = [token for token in selector if token not in known]
        if unknown:
            raise IntakeError(f"{len(unknown)} unknown sample id(s), e.g. {unknown[:5]}")
        return sorted(set(selector))
    by_subject = {s.subject_id for s in samples}
    unknown = [token for token in selector if token not in by_subject]
    if unknown:
        raise IntakeError(f"unknown subject id(s) {unknown[:5]} (or all their samples are already forgotten)")
    return sorted(s.sample_id for s in samples if s.subject_id in set(selector))


def _resolve_label(samples: list[Sample], selector: list[str]) -> list[str]:
    names = {s.label_name.lower(): s.label for s in samples} | {str(s.label): s.label for s in samples}
    labels = set()
    for token in selector:
        if token.strip().lower() not in names:
            raise IntakeError(f"unknown label {token!r}; known: {sorted({s.label_name for s in samples})}")
        labels.add(names[token.strip().lower()])
    return sorted(s.sample_id for s in samples if s.label in labels)


def file_request(ledger: Ledger, samples: list[Sample], kind: str, selector: list[str], reason: str = "") -> IntakeResult:
    """Validate and record a request. Samples already pending or forgotten are not queued twice."""
    if len(reason) > MAX_REASON or any(ord(c) < 32 and c not in "\t" for c in reason):
        raise IntakeError(f"reason must be one line of at most {MAX_REASON} characters")
    forgotten = ledger.tombstones()
    sample_ids = resolve(samples, kind, selector, forgotten)
    open_ids = ledger.open_sample_ids()
    new = [s for s in sample_ids if s not in forgotten and s not in open_ids]
    if not new:
        covering = open_ids.get(sample_ids[0]) or forgotten[sample_ids[0]]
        return IntakeResult(ledger.request(covering), created=False)
    return IntakeResult(ledger.add_request(kind, sorted(set(selector)), new, reason), created=True)
