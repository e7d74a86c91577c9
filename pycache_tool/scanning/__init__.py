"""The scan: walk the trees (ignore rules, git), classify each cache file, stream records."""
