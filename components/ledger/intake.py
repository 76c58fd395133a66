"""Turn what a data owner asks for into a ledger request, or a clear refusal that writes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from components.data.manifest import Sample, is_safe_id
from components.errors import BadInputError
from components.ledger import provenance
from components.ledger.store import DEFAULT_DEADLINE_DAYS, Ledger, Request

KINDS = ("sample", "subject", "label")
MAX_REASON = 500


class IntakeError(BadInputError):
    """The request is malformed or names nothing that exists; nothing was written."""


@dataclass(frozen=True)
class IntakeResult:
    request: Request | None  # None: every sample asked for is already forgotten
    created: bool  # False: an existing request (or a promoted batch) already covers every sample asked for
    forgotten_by: tuple[str, ...] = ()  # promoted batches that already forgot some of the samples asked for

    def message(self) -> str:
        """One line for a person: what was queued, or who already covers the request."""
        gone = f"already forgotten by {', '.join(self.forgotten_by)}" if self.forgotten_by else ""
        if self.created:
            return (
                f"filed {self.request.id}: {self.request.kind} request for {len(self.request.sample_ids)} samples (pending)"
                + (f"; the rest {gone}" if gone else "")
            )
        if self.request is None:
            return f"{gone}; nothing queued"
        return (
            f"already covered by {self.request.id} ({self.request.status})"
            + (f"; {gone}" if gone else "")
            + "; nothing new queued"
        )


def resolve(
    samples: list[Sample], kind: str, selector: list[str], forgotten: dict[str, str], catalogue: list[Sample] = ()
) -> list[str]:
    """Sample ids a selector names in the current manifest, plus those it names among samples that
    already left it (`forgotten`, and the ledger's catalogue of every sample a model was trained on)."""
    if kind not in KINDS:
        raise IntakeError(f"unknown request kind {kind!r}; expected one of {KINDS}")
    if not selector:
        raise IntakeError("empty request: give at least one sample, subject or label")
    everything = list(samples) + [s for s in catalogue if s.sample_id in forgotten]
    if kind == "label":
        return _resolve_label(everything, selector)
    bad = [token for token in selector if not is_safe_id(token)]
    if bad:
        raise IntakeError(f"malformed id(s) {bad[:5]}: ids are letters, digits, '-' and '_' only")
    if kind == "sample":
        known = {s.sample_id for s in samples} | set(forgotten)
        unknown = [token for token in selector if token not in known]
        if unknown:
            raise IntakeError(f"{len(unknown)} unknown sample id(s), e.g. {unknown[:5]}")
        return sorted(set(selector))
    by_subject = {s.subject_id for s in everything}
    unknown = [token for token in selector if token not in by_subject]
    if unknown:
        raise IntakeError(f"unknown subject id(s) {unknown[:5]}")
    return sorted({s.sample_id for s in everything if s.subject_id in set(selector)})


def _resolve_label(samples: list[Sample], selector: list[str]) -> list[str]:
    names = {s.label_name.lower(): s.label for s in samples} | {str(s.label): s.label for s in samples}
    labels = set()
    for token in selector:
        if token.strip().lower() not in names:
            raise IntakeError(f"unknown label {token!r}; known: {sorted({s.label_name for s in samples})}")
        labels.add(names[token.strip().lower()])
    return sorted({s.sample_id for s in samples if s.label in labels})


def file_request(
    ledger: Ledger,
    samples: list[Sample],
    kind: str,
    selector: list[str],
    reason: str = "",
    deadline_days: float = DEFAULT_DEADLINE_DAYS,
) -> IntakeResult:
    """Validate and record a request, due `deadline_days` from now. Samples already pending or
    forgotten are not queued twice."""
    if len(reason) > MAX_REASON or any(ord(c) < 32 and c not in "\t" for c in reason):
        raise IntakeError(f"reason must be one line of at most {MAX_REASON} characters")
    forgotten = ledger.forgotten_by()
    sample_ids = resolve(samples, kind, selector, forgotten, provenance.catalogue(ledger, forgotten))
    open_ids = ledger.open_sample_ids()
    new = [s for s in sample_ids if s not in forgotten and s not in open_ids]
    gone = tuple(sorted({forgotten[s] for s in sample_ids if s in forgotten}))
    if new:
        request = ledger.add_request(kind, sorted(set(selector)), new, reason, deadline_days)
        if request is not None:
            return IntakeResult(request, True, gone)
        open_ids = ledger.open_sample_ids()  # another process filed them between our read and our write
    pending = [open_ids[s] for s in sample_ids if s in open_ids]
    return IntakeResult(ledger.request(pending[0]) if pending else None, False, gone)
