"""What this machine keeps: the move journal and the last known board of each pipeline.

Called by the sync layer (`BoardSession`), never by the screens. Plain SQLite files in the
user state dir, readable by the user alone (they hold CRM data).
"""
