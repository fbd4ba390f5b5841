"""A run that goes right on any machine: `backends` (an installed backend, seeding), `backup` (resume after any stop,
stop on NaN), `history` (safe history files), `files` (atomic writes), `errors` (one line and an exit status) and
`flags` (argparse types)."""
