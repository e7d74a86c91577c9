"""The application that examples/Dockerfile packages: small, but real enough to import."""
