"""Operating the stack on an engine: the Docker API (``docker_api``), preflight,
``up``/``down``/``ps``/``logs`` (``lifecycle``), the preflight steps' results (``steps``), secret files (``secrets``),
masking of secret values (``redact``), the Loki driver (``loki``) and the
throwaway smoke run (``smoke``).
"""
