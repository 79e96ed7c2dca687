"""Runtime truth: what the engine runs, compared with what the rendered model declares.

For every container of the project (and every container on its networks that
compose did not create) the engine's ``inspect``, PID 1's ``/proc/<pid>/status``
and the cgroup limits are compared with the service as ``docker compose config``
renders it. Each difference is a finding of a runtime rule (``checks.rules.runtime``),
so reports, exceptions and exit codes work exactly as for the static checks.

  facts         what is observed and what is expected, and their pure parsers
  comparison    the runtime checks as pure functions of (expected, observed)
  collection    what the engine and the host report (inspect, /proc, cgroups, stat)
  verification  one project verified: containers listed, collected, compared, waived
  report        a verification as a table, JSON body and JUnit cases
"""
