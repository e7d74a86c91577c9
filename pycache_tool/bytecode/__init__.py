"""The facts: pyc names and headers, the magic-number table, interpreters and their source hash."""
