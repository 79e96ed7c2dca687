"""Beyond one host: the compose model translated for Docker Swarm (``translate``, pure),
what Swarm enforces of it (``gaps``, pure), the docker CLI against a cluster
(``cluster``), the deploy/undeploy flow (``deploy``) and ``verify --stack``
(``verify``).
"""
