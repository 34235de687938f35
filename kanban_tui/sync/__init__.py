"""Keeping the board true: the headless sync core (no Textual).

- `board.Board`: what the CRM last told us plus the user's intents, as ordered columns.
- `totals`: what a card adds to its column's count and totals (`ColumnTotals`, `ColumnSummary`, `contribution_of`).
- `search.ColumnSearch`: one column as the search and the owner filter read it (fast at 50,000 cards).
- `session.BoardSession`: the board's phase and the glue: it takes events and returns what the UI must do.
- `opening`: how a board opens (listing, saved copy, warm and cold starts, loads).
- `polling`: what a poll brings (the CRM's changes, new stages, a failure).
- `moves.MoveQueue`: the user's moves as intents (latest wins, journaled before sent) and the CRM's answers.
- `health.Health`: failure classes, backoff, rate-limit waits, the failure line.
- `phase`: the phase as a value, and the status line's `Snapshot`.
- `protocol`: `Update`, the jobs and the events, as typed values.
- `runner.Runner`: the only code that executes jobs (backend and store calls).
"""

from .board import Board
from .health import Failure, classify
from .phase import Phase, Snapshot
from .protocol import Conflict, Job, Notice, PipelineChoice, Update
from .runner import Runner
from .session import BoardSession
from .totals import ColumnSummary, ColumnTotals, contribution_of

__all__ = [
    "Board", "BoardSession", "ColumnSummary", "ColumnTotals", "Conflict", "Failure", "Job", "Notice", "Phase",
    "PipelineChoice", "Runner", "Snapshot", "Update", "classify", "contribution_of",
]
