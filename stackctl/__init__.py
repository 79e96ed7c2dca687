"""Validation, rendering and operations for the platform Compose stack.

Importing this package never talks to Docker: every engine or compose call
happens inside a function, so `invoke --list` and `nox -l` work anywhere.
"""
