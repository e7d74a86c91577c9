"""Reports: each command's results as text or JSON, as strings; the CLI writes them."""
