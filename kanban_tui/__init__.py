"""dealboard: a keyboard-driven terminal kanban board for CRM sales opportunities.

Importing the package imports nothing else: the UI (Textual) is only loaded by
`kanban_tui.app`, so the models, backends and sync layers stay usable headless.
"""

__version__ = "0.1.0"
