"""Keeping the board true: the headless sync core (no Textual).

- `board.Board`: what the CRM last told us plus the user's intents, as ordered columns.
- `session.BoardSession`: the board's phase, loading, polling, the move queue (one intent
  per card), undo, conflicts and failures. It takes events and returns what the UI must do.
"""

from .board import Board, ColumnSummary, ColumnTotals, contribution_of
from .session import (
    BoardSession,
    Conflict,
    Failure,
    Job,
    Notice,
    Phase,
    PipelineChoice,
    Snapshot,
    Update,
    classify,
)

__all__ = [
    "Board", "BoardSession", "ColumnSummary", "ColumnTotals", "Conflict", "Failure", "Job", "Notice", "Phase",
    "PipelineChoice", "Snapshot", "Update", "classify", "contribution_of",
]
