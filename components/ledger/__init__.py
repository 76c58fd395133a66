"""Deletion requests, batches and tombstones in a SQLite ledger with an append-only event log."""

from components.ledger.intake import IntakeError, IntakeResult, file_request, resolve
from components.ledger.store import BATCH_STATES, REQUEST_STATES, Batch, Ledger, LedgerError, Request

__all__ = [
    "BATCH_STATES",
    "REQUEST_STATES",
    "Batch",
    "IntakeError",
    "IntakeResult",
    "Ledger",
    "LedgerError",
    "Request",
    "file_request",
    "resolve",
]
