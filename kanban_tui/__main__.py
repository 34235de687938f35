"""`python -m kanban_tui` runs the command-line entry point."""

from .cli import main

raise SystemExit(main())
