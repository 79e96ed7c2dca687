"""Beyond one host: the compose model translated for Docker Swarm (``translate``, pure),
what Swarm enforces of it (``gaps``, pure), the docker CLI against a cluster
(``cluster``), the deploy/undeploy flow (``deploy``) and ``verify --stack``
(``verify``).
"""

# The image of the one-shot probe task deploy runs on every node (named in --help).
DEFAULT_PROBE_IMAGE = "busybox:1.37.0"
