"""Ten small compose projects in the shapes real projects take, written for the benchmarks.

    python benchmarks/realworld.py /tmp/realworld     # writes /tmp/realworld/<shape>/...

None is copied from a real repository; each is a shape often seen: a web app with a
database and a cache, a monorepo whose root only includes its parts, a base file with
an override file, services reading ``env_file``, healthchecks gating ``depends_on``,
images built from local contexts, a queue with workers, a reverse proxy in front,
profiles for optional tools, and anchors shared through ``x-`` extension fields.
Every project renders with compose (``.env.example`` holds its variables).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECTS: dict[str, dict[str, str]] = {
    "web-db-cache": {
        "compose.yaml": """
services:
  web:
    image: nginx:1.27-alpine
    ports: ["127.0.0.1:8080:80"]
    depends_on: [app]
  app:
    image: python:3.12-slim
    command: ["python", "-m", "http.server", "8000"]
    environment:
      DATABASE_URL: postgres://app:${DB_PASSWORD}@db:5432/app
      REDIS_URL: redis://cache:6379/0
    depends_on: [db, cache]
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    volumes: [dbdata:/var/lib/postgresql/data]
  cache:
    image: redis:7-alpine
volumes:
  dbdata:
""",
        ".env.example": "DB_PASSWORD=change-me\n",
    },
    "monorepo-include": {
        "compose.yaml": """
include:
  - services/api/compose.yaml
  - services/worker/compose.yaml
  - services/frontend/compose.yaml
""",
        "services/api/compose.yaml": """
services:
  api:
    build: .
    image: example/api:dev
    environment: {LOG_LEVEL: "${LOG_LEVEL:-info}"}
    depends_on: [db]
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: "${DB_PASSWORD}"}
""",
        "services/api/Dockerfile": 'FROM python:3.12-slim\nCMD ["python", "-V"]\n',
        "services/worker/compose.yaml": """
services:
  worker:
    build: .
    image: example/worker:dev
    depends_on: [queue]
  queue:
    image: rabbitmq:3.13-alpine
""",
        "services/worker/Dockerfile": 'FROM python:3.12-slim\nCMD ["python", "-V"]\n',
        "services/frontend/compose.yaml": """
services:
  frontend:
    build: .
    image: example/frontend:dev
    ports: ["127.0.0.1:3000:3000"]
""",
        "services/frontend/Dockerfile": 'FROM node:22-alpine\nCMD ["node", "-v"]\n',
        ".env.example": "DB_PASSWORD=change-me\nLOG_LEVEL=debug\n",
    },
    "override-files": {
        "docker-compose.yml": """
services:
  app:
    image: example/app:1.4.2
    restart: unless-stopped
    environment: {MODE: production}
  db:
    image: mariadb:11
    environment: {MARIADB_ROOT_PASSWORD: "${ROOT_PASSWORD}"}
""",
        "docker-compose.override.yml": """
services:
  app:
    environment: {MODE: development}
    ports: ["127.0.0.1:8000:8000"]
    volumes: ["./src:/app/src:ro"]
""",
        "src/.keep": "",
        ".env.example": "ROOT_PASSWORD=change-me\n",
    },
    "env-files": {
        "compose.yaml": """
services:
  app:
    image: node:22-alpine
    command: ["node", "server.js"]
    env_file: [app.env]
  mail:
    image: axllent/mailpit:v1.20
    env_file:
      - path: mail.env
        required: false
""",
        "app.env": "NODE_ENV=production\nPORT=3000\n",
        ".env.example": "",
    },
    "healthchecks": {
        "compose.yaml": """
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: "${DB_PASSWORD}"}
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 5s
      retries: 10
  migrate:
    image: example/migrate:2.0
    depends_on:
      db: {condition: service_healthy}
  app:
    image: example/app:2.0
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:8000/health"]
""",
        ".env.example": "DB_PASSWORD=change-me\n",
    },
    "build-contexts": {
        "compose.yaml": """
services:
  api:
    build:
      context: ./api
      args: {PYTHON_VERSION: "3.12"}
    image: example/api:local
  web:
    build:
      context: ./web
      dockerfile: Dockerfile.prod
    image: example/web:local
    depends_on: [api]
""",
        "api/Dockerfile": "ARG PYTHON_VERSION\nFROM python:${PYTHON_VERSION}-slim\n",
        "web/Dockerfile.prod": "FROM nginx:1.27-alpine\n",
        ".env.example": "",
    },
    "queue-workers": {
        "compose.yaml": """
services:
  broker:
    image: redis:7-alpine
  worker:
    image: example/worker:3.1
    command: ["celery", "-A", "tasks", "worker"]
    deploy:
      replicas: 3
    depends_on: [broker]
  beat:
    image: example/worker:3.1
    command: ["celery", "-A", "tasks", "beat"]
    depends_on: [broker]
  flower:
    image: mher/flower:2.0
    ports: ["127.0.0.1:5555:5555"]
    depends_on: [broker]
""",
        ".env.example": "",
    },
    "reverse-proxy": {
        "compose.yaml": """
services:
  proxy:
    image: traefik:v3.1
    command: ["--providers.docker=true", "--entrypoints.web.address=:80"]
    ports: ["127.0.0.1:80:80"]
    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"]
  whoami:
    image: traefik/whoami:v1.10
    labels:
      traefik.http.routers.whoami.rule: Host(`whoami.localhost`)
  blog:
    image: ghost:5-alpine
    environment: {url: "http://blog.localhost"}
    labels:
      traefik.http.routers.blog.rule: Host(`blog.localhost`)
""",
        ".env.example": "",
    },
    "profiles-tools": {
        "compose.yaml": """
services:
  app:
    image: example/app:5.0
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: "${DB_PASSWORD}"}
  adminer:
    image: adminer:4
    profiles: [tools]
    depends_on: [db]
  mailpit:
    image: axllent/mailpit:v1.20
    profiles: [tools, mail]
  tests:
    image: example/app:5.0
    command: ["pytest"]
    profiles: [test]
    depends_on: [db]
""",
        ".env.example": "DB_PASSWORD=change-me\n",
    },
    "anchors-extensions": {
        "compose.yaml": """
x-common: &common
  restart: unless-stopped
  logging:
    driver: local
  security_opt: ["no-new-privileges:true"]
x-env: &env
  TZ: UTC
  LOG_FORMAT: json
services:
  gateway:
    <<: *common
    image: example/gateway:1.0
    environment: *env
  users:
    <<: *common
    image: example/users:1.0
    environment:
      <<: *env
      USERS_DB: users
  orders:
    <<: *common
    image: example/orders:1.0
    environment:
      <<: *env
      ORDERS_DB: orders
  search:
    <<: *common
    image: opensearchproject/opensearch:2.15.0
    environment: {discovery.type: single-node}
""",
        ".env.example": "",
    },
}


def write_projects(root: Path) -> list[Path]:
    """Write every project under ``root``; return their folders, in a stable order."""
    folders = []
    for name, files in sorted(PROJECTS.items()):
        folder = root / name
        for relative, text in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip("\n"))
        folders.append(folder)
    return folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    for folder in write_projects(parser.parse_args().root):
        print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
