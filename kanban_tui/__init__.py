"""dealboard: a keyboard-driven terminal kanban board for CRM sales opportunities.

Importing the package imports nothing else (and sets one environment default, below): the UI (Textual) is only loaded by
`kanban_tui.app`, so the models, backends and sync layers stay usable headless.
"""

import os

__version__ = "0.1.0"

# dealboard uses no pydantic plugin, and pydantic looks for plugins in every installed distribution's entry points
# the first time a model is built (~15 ms of every start, issue 25); a user's own setting of it wins
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
