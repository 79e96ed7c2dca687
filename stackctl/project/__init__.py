"""The project model: a compose project as compose itself sees it.

Running the compose binary (``compose``), supervising every child process
(``children``), rendering with ``config --format json`` (``render``), the profile
matrix and selections (``profiles``, ``selections``), the containers compose knows
(``containers``) and the secrets a model declares (``secret_specs``). Nothing here
knows the rules; it shares only compose's own file knowledge with ``checks``.
"""
