"""Operating the stack on an engine: the Docker API (``docker_api``), preflight and its
steps' results (``steps``), ``up``/``down``/``ps``/``logs`` (``lifecycle``), secret files
(``secrets``), masking of secret values (``redact``), the Loki driver (``loki``) and the
throwaway smoke run (``smoke``).
"""
