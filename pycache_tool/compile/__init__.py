"""compile: plan what to write, then run a pool of the target interpreter's own workers."""
