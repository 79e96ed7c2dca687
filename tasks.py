"""invoke tasks for the platform stack, generated from ``stackctl.commands``.

invoke --list                   # every task
invoke --help validate          # options of one task
invoke validate                 # VAL-OPT-001/002 matrix

The same declarations back ``python -m stackctl`` and the ``stackctl`` script.
Set STACKCTL_DEBUG=1 to see the traceback of an internal error.
"""

from __future__ import annotations

from stackctl.edge.invoke_tasks import namespace as build_namespace

namespace = build_namespace()
