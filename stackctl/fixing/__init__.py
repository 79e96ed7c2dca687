"""Static fixing: findings repaired in the file their value comes from, then proven.

plan.py decides each edit (origin.py: where a service's value comes from),
proof.py writes, re-checks and keeps or restores, session.py runs both for the
commands. The edits themselves are ``checks.fixes`` (pure).
"""
