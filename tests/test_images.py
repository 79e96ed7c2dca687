"""Image facts: the loader, what the rules assume about shells and capabilities shown on
this machine, and putting reviewed defects back into a copy of the stack."""

from __future__ import annotations

import io
import json
import shutil
import socket
import struct
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine_properties import models

from checks.catalogue import model_rules
from checks.evaluator import run_rules
from checks.image_facts import FACTS_DIR, parse_catalogue, parse_record
from checks.rules._shared import healthcheck_test
from checks.shell import bash_only_constructs, command_words
from checks.stack import ProjectFacts, read_image_facts
from cli import run, run_stackctl
from conftest import REPO
from rule_fixtures import write_facts
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render

RULES = model_rules()


def record(image: str = "example/app:1.0", **changes: Any) -> dict[str, Any]:
    """A complete, valid record; ``changes`` replace top-level keys."""
    base: dict[str, Any] = {
        "image": image,
        "reviewed": "2026-11-26",
        "sources": {
            "dockerfile": "example/app@v1.0:Dockerfile",
            "docs": "https://example.org/docs/1.0",
        },
        "shell": {"kind": "busybox", "source": "dockerfile"},
        "tools": [{"name": "wget", "source": "dockerfile"}],
        "user": {"default": "1000:1000", "runtime": "1000:1000", "source": "dockerfile"},
        "entrypoint": {
            "needs_root": False,
            "switches_with": "none",
            "chowns": [],
            "runs_as_any_user": True,
            "source": "https://example.org/docs/1.0#entrypoint",
        },
        "file_capabilities": [],
        "file_env": {"honoured": ["APP_PASSWORD_FILE"], "source": "docs"},
        "writable_paths": [{"path": "/tmp", "source": "dockerfile"}],
    }
    return {**base, **changes}


# -- the loader -------------------------------------------------------------------------


def test_valid_record_is_typed() -> None:
    facts, problems = parse_record(
        "infra/image-facts/x.yml",
        record(
            file_capabilities=[
                {
                    "path": "/usr/bin/python3",
                    "capabilities": ["cap_net_bind_service"],
                    "source": "dockerfile",
                }
            ],
            ports=[{"port": 8080, "source": "docs"}],
        ),
    )
    assert problems == [] and facts is not None
    assert facts.shell == "busybox" and facts.user.runtime == "1000:1000"
    assert facts.file_capabilities[0].capabilities == ("NET_BIND_SERVICE",)
    assert facts.ships("wget") and facts.ships("/usr/bin/wget") and not facts.ships("curl")
    assert "APP_PASSWORD_FILE" in facts.file_env.honoured and facts.ports[0].port == 8080
    assert facts.cite("docs") == "https://example.org/docs/1.0"


BROKEN_RECORDS = {
    "empty file": "",
    "a list": "- image: a:1\n",
    "not yaml": "image: [unclosed\n",
    "missing keys": "image: a:1\nreviewed: 2026-11-26\n",
    "tools is a string": yaml.safe_dump(record(tools="wget")),
    "user is a number": yaml.safe_dump(record(user=5)),
    "source not cited": yaml.safe_dump(record(shell={"kind": "dash", "source": "blog"})),
    "source has no tag": yaml.safe_dump(record(sources={"dockerfile": "example/app:Dockerfile"})),
    "unknown shell": yaml.safe_dump(record(shell={"kind": "zsh", "source": "dockerfile"})),
    "named user": yaml.safe_dump(
        record(user={"default": "root", "runtime": "node", "source": "dockerfile"})
    ),
    "port out of range": yaml.safe_dump(record(ports=[{"port": 70000, "source": "docs"}])),
    "bad date": yaml.safe_dump(record(reviewed="last week")),
}


@pytest.mark.parametrize("case", sorted(BROKEN_RECORDS))
def test_malformed_record_is_a_problem_not_a_crash(case: str, tmp_path: Path) -> None:
    facts_dir = tmp_path / FACTS_DIR
    facts_dir.mkdir(parents=True)
    (facts_dir / "broken.yml").write_text(BROKEN_RECORDS[case], encoding="utf-8")
    catalogue = read_image_facts(tmp_path)
    assert catalogue.records == {} and catalogue.active
    assert catalogue.problems and all(
        p.file == f"{FACTS_DIR}/broken.yml" for p in catalogue.problems
    )


def test_symlinked_record_is_refused_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(yaml.safe_dump(record()), encoding="utf-8")
    project = tmp_path / "project"
    (project / FACTS_DIR).mkdir(parents=True)
    (project / FACTS_DIR / "app.yml").symlink_to(outside)
    catalogue = read_image_facts(project)
    assert catalogue.records == {}
    assert [p.message for p in catalogue.problems] == [
        "is a symlink; facts records must be regular files"
    ]


def test_one_image_is_recorded_once(tmp_path: Path) -> None:
    facts_dir = tmp_path / FACTS_DIR
    facts_dir.mkdir(parents=True)
    for name in ("a.yml", "b.yml"):
        (facts_dir / name).write_text(yaml.safe_dump(record()), encoding="utf-8")
    catalogue = read_image_facts(tmp_path)
    assert list(catalogue.records) == ["example/app:1.0"]
    assert "again (first in infra/image-facts/a.yml)" in catalogue.problems[0].message


def test_a_project_without_records_has_inactive_image_rules(tmp_path: Path) -> None:
    (tmp_path / FACTS_DIR).mkdir(parents=True)
    (tmp_path / FACTS_DIR / "README.md").write_text("schema\n", encoding="utf-8")
    assert not read_image_facts(tmp_path).active
    assert not read_image_facts(tmp_path / "nowhere").active


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    changes=st.dictionaries(
        st.sampled_from(sorted(record())) | st.text(max_size=8), yaml_values, max_size=4
    )
)
def test_any_record_shape_parses_or_reports(changes: dict[str, Any]) -> None:
    facts, problems = parse_record("x.yml", {**record(), **changes})
    assert (facts is None) == bool(problems)


IMAGE_RULES = [r for rule_id, r in RULES.items() if rule_id.startswith(("IMG-", "WIRE-"))]
odd_text = st.one_of(st.none(), st.integers(), st.text(max_size=30))


@settings(max_examples=80, deadline=None)
@given(
    model=models,
    extras=st.dictionaries(
        st.sampled_from(["user", "labels", "entrypoint", "command", "expose", "cap_add"]),
        st.one_of(
            odd_text, st.lists(odd_text, max_size=3), st.dictionaries(st.text(max_size=8), odd_text)
        ),
        max_size=4,
    ),
)
def test_image_rules_never_crash_on_odd_models(
    model: dict[str, Any], extras: dict[str, Any]
) -> None:
    """Rules with a facts record in play, over odd but possible models: findings or nothing."""
    facts_record = record(
        "busybox:1.37.0",
        file_capabilities=[{"path": "/bin/x", "capabilities": ["NET_RAW"], "source": "dockerfile"}],
        ports=[{"port": 80, "source": "docs"}],
    )
    catalogue = parse_catalogue({f"{FACTS_DIR}/b.yml": yaml.safe_dump(facts_record)})
    project = ProjectFacts(images=catalogue, env_example={"DEFAULT_MOUNT_VOLUME_PATH": "/srv"})
    services = {
        name: {**spec, **extras, "image": "busybox:1.37.0"}
        for name, spec in model["services"].items()
    }
    stack = project.stack({**model, "services": services}, ("*",))
    for finding in run_rules(stack, IMAGE_RULES):
        assert finding.rule_id and finding.message


# -- shells: what IMG-004 assumes, shown with the real shells here ----------------------


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def shell(argv: list[str], script: str) -> subprocess.CompletedProcess[str]:
    if not shutil.which(argv[0]):
        pytest.skip(f"{argv[0]} is not installed here")
    return subprocess.run([*argv, script], capture_output=True, text=True, timeout=30)


def test_dash_refuses_dev_tcp_and_bash_opens_it(listener: int) -> None:
    script = f"exec 3<>/dev/tcp/127.0.0.1/{listener}"
    dash = shell(["dash", "-c"], script)
    assert dash.returncode != 0
    assert f"cannot create /dev/tcp/127.0.0.1/{listener}" in dash.stderr
    assert shell(["bash", "-c"], script).returncode == 0
    assert bash_only_constructs(script) == ["/dev/tcp"]


def test_busybox_sh_has_no_dev_tcp_but_wget(listener: int) -> None:
    busybox = shell(["busybox", "sh", "-c"], f"exec 3<>/dev/tcp/127.0.0.1/{listener}")
    assert busybox.returncode != 0 and "/dev/tcp" in busybox.stderr
    assert shell(["busybox", "wget", "--help"], "").returncode in {0, 1}  # the applet exists


PORTABLE = ["test -d /", "[ 1 -eq 1 ] && echo ok", "printf 'x\\n' | grep -q x || exit 1"]
BASH_ONLY = [
    "[[ 1 == 1 ]]",
    "grep -q x <(echo x)",
    "test \"$(printf %s $'\\x41')\" = A",
    'for i in {1..2}; do test "$i" -ge 1; done',
]


@pytest.mark.parametrize("script", PORTABLE + BASH_ONLY)
def test_rule_verdict_matches_what_dash_and_bash_do(script: str) -> None:
    """The rule calls a construct bash-only exactly when dash fails where bash succeeds."""
    assert shell(["bash", "-c"], script).returncode == 0
    dash_fails = shell(["dash", "-c"], script).returncode != 0
    assert bool(bash_only_constructs(script)) == dash_fails


def test_command_words_skip_builtins_redirections_and_assignments() -> None:
    words, error = command_words(
        "exec 3<>/dev/tcp/h/1 && printf 'GET /\\r\\n' >&3 && LANG=C grep -q ' 200 ' <&3"
    )
    assert (words, error) == (["printf", "grep"], "")
    assert command_words("! curl -f http://x | tee /dev/null; if true; then nc -z h 1; fi")[0] == [
        "curl",
        "tee",
        "true",
        "nc",
    ]
    assert command_words('x=$(curl -s a) && [ -n "$x" ] && test "$(cat /f)" = ok')[0] == [
        "curl",
        "[",
        "test",
    ]
    assert command_words("command -v wget >/dev/null 2>&1 && wget -q -O- h")[0] == ["wget"]
    assert command_words("case $x in a) foo ;; esac")[0] == ["foo"]
    assert command_words("echo 'unclosed")[1]


# -- the engine: busybox wget and file capabilities under the baseline -----------------


def _facts_project(directory: Path, compose: dict[str, Any], records: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_facts(records, directory)
    (directory / ".env.example").write_text("DEFAULT_MOUNT_VOLUME_PATH=/srv/state\n")
    (directory / "docker-compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    return directory


def _rule_hits(directory: Path, rule_id: str) -> set[str]:
    facts = ProjectFacts.read(directory)
    model = render(Compose(Project.at(directory, ".env.example")), ("*",))
    return {f.service for f in run_rules(facts.stack(model.data, ("*",)), [RULES[rule_id]])}


BASELINE = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "read_only": True,
    "user": "65534:65534",
    "network_mode": "none",
}


@pytest.mark.engine
def test_busybox_wget_probes_under_the_baseline_and_the_rule_agrees(
    tmp_path: Path, docker_engine: Any, test_image: str
) -> None:
    """A healthcheck the rule accepts becomes healthy; one it rejects (curl) never does."""

    def probe(tool: list[str]) -> dict[str, Any]:
        return {
            "image": test_image,
            **BASELINE,
            "command": ["httpd", "-f", "-p", "8080", "-h", "/www"],
            "healthcheck": {
                "test": ["CMD", *tool, "http://127.0.0.1:8080/"],
                "interval": "1s",
                "timeout": "2s",
                "retries": 2,
            },
        }

    name = f"imgrules-wget-{uuid.uuid4().hex[:8]}"  # its own project beside another suite
    compose = {
        "name": name,
        "services": {
            "with-wget": probe(["wget", "-q", "-O", "/dev/null"]),
            "with-curl": probe(["curl", "-fsS"]),
        },
    }
    facts = record(
        test_image, tools=[{"name": n, "source": "dockerfile"} for n in ("sh", "wget", "httpd")]
    )
    project = _facts_project(tmp_path / "wget", compose, [facts])
    assert _rule_hits(project, "IMG-004") == {"with-curl"}
    runner = Compose(Project.at(project, ".env.example"))
    try:
        runner.run(["up", "--detach", "--wait", "--wait-timeout", "60"], timeout=120)
        health = {
            c.labels["com.docker.compose.service"]: c.attrs["State"]["Health"]["Status"]
            for c in docker_engine.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={name}"}
            )
        }
    finally:
        runner.run(["down", "--timeout", "1"], timeout=120)
    assert health == {"with-wget": "healthy", "with-curl": "unhealthy"}


def _capability_image(docker_engine: Any, tag: str) -> None:
    """busybox plus a copy carrying cap_net_bind_service+ep, imported so the xattr survives."""
    data = Path("/bin/busybox").read_bytes()
    # struct vfs_cap_data, revision 2, effective flag, permitted = CAP_NET_BIND_SERVICE (10)
    xattr = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, capability in (("bin/sh", None), ("bin/capped/true", xattr)):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755
            if capability is not None:
                value = capability.decode("utf-8", "surrogateescape")
                info.pax_headers = {"SCHILY.xattr.security.capability": value}
            tar.addfile(info, io.BytesIO(data))
    repository, _, version = tag.partition(":")
    docker_engine.api.import_image_from_data(layer.getvalue(), repository=repository, tag=version)


@pytest.mark.engine
def test_file_capability_binary_needs_its_capability_and_the_rule_agrees(
    tmp_path: Path, docker_engine: Any
) -> None:
    """pgAdmin's defect on this machine: cap_drop ALL makes the kernel refuse the exec."""
    if not Path("/bin/busybox").is_file():
        pytest.skip("Debian's busybox-static (/bin/busybox) is needed")
    # a tag of this run only: another suite on the same engine builds and removes its own
    tag = f"stackctl-test/imgrules-capbox:{uuid.uuid4().hex[:12]}"
    _capability_image(docker_engine, tag)
    outcomes: dict[str, tuple[int, str]] = {}
    try:
        for label, extra in (("dropped", {}), ("granted", {"cap_add": ["NET_BIND_SERVICE"]})):
            container = docker_engine.containers.create(
                tag,
                ["/bin/capped/true"],
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                user="65534:65534",
                network_mode="none",
                **extra,
            )
            try:
                try:
                    container.start()
                    code = int(container.wait(timeout=60)["StatusCode"])
                    output = container.logs().decode(errors="replace")
                except Exception as error:  # the engine may report the failed exec itself
                    code, output = -1, str(error)
                outcomes[label] = (code, output)
            finally:
                container.remove(force=True)
    finally:
        docker_engine.images.remove(tag, force=True)
    assert outcomes["granted"] == (0, "")
    assert outcomes["dropped"][0] != 0 and "operation not permitted" in outcomes["dropped"][1]

    facts = record(
        tag,
        file_capabilities=[
            {
                "path": "/bin/capped/true",
                "capabilities": ["NET_BIND_SERVICE"],
                "source": "dockerfile",
            }
        ],
    )
    base = {"image": tag, **BASELINE}
    compose = {"services": {"dropped": base, "granted": {**base, "cap_add": ["NET_BIND_SERVICE"]}}}
    assert _rule_hits(_facts_project(tmp_path / "caps", compose, [facts]), "IMG-007") == {"dropped"}


@pytest.mark.engine
def test_state_owner_label_lets_the_runtime_user_write_and_the_rule_agrees(
    tmp_path: Path, docker_engine: Any, test_image: str
) -> None:
    """Defect 2 on this machine: preflight's 0750 root-owned directory locks out uid 70
    under cap_drop ALL; with the label IMG-006 asks for, preflight chowns it and uid 70
    writes. ``ensure_state_dirs`` is the code ``invoke up`` runs."""
    import os

    from stackctl.operating.preflight import ensure_state_dirs

    if os.geteuid() != 0:
        pytest.skip("chowning state directories needs root")
    state = tmp_path / "state"
    writer = {
        "image": test_image,
        **BASELINE,
        "user": "70:70",
        "command": ["touch", "/data/written"],
        "restart": "no",
    }
    compose = {
        "name": "imgrules-state",
        "services": {
            "unlabelled": {**writer, "volumes": [f"{state}/unlabelled:/data"]},
            "labelled": {
                **writer,
                "labels": {"org.platform.state-owner": "70:70"},
                "volumes": [f"{state}/labelled:/data"],
            },
        },
    }
    project = _facts_project(tmp_path / "owner", compose, [record(test_image)])
    (project / ".env.example").write_text(f"DEFAULT_MOUNT_VOLUME_PATH={state}\n")
    assert _rule_hits(project, "IMG-006") == {"unlabelled"}

    runner = Compose(Project.at(project, ".env.example"))
    assert ensure_state_dirs(render(runner, ("*",)), str(state)) == 2
    assert (state / "labelled").stat().st_uid == 70 and (state / "unlabelled").stat().st_uid == 0
    codes = {}
    try:
        for service in ("unlabelled", "labelled"):
            done = runner.run(["run", "--rm", "--no-deps", service], timeout=120)
            codes[service] = (done.returncode, done.stdout + done.stderr)
    finally:
        runner.run(["down", "--timeout", "1"], timeout=120)
    assert codes["labelled"][0] == 0, codes["labelled"][1]
    assert codes["unlabelled"][0] != 0 and "Permission denied" in codes["unlabelled"][1]


# -- putting reviewed defects back into a copy of the stack ----------------------------

QDRANT_PROBE = (
    "exec 3<>/dev/tcp/127.0.0.1/6333 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && "
    "grep -q ' 200 ' <&3"
)
WRAPPER_TARGET = "/opt/platform/file-env.sh"


def _records_for(project: Path) -> list[dict[str, Any]]:
    """Lenient records for every image of the stack, then honest ones for three images
    whose review found a defect (qdrant: dash; pgAdmin: setcap python; n8n: no key file)."""
    model = render(Compose(Project.at(project, ".env.example")), ("*",))
    by_image: dict[str, dict[str, Any]] = {}
    for spec in model.services.values():
        image = str(spec["image"])
        entry = by_image.setdefault(
            image, record(image, tools=[], file_env={"honoured": [], "source": "docs"})
        )
        test = healthcheck_test(spec)
        words = command_words(test[1])[0] if test[:1] == ["CMD-SHELL"] else test[1:2]
        entry["tools"] += [{"name": w, "source": "dockerfile"} for w in [*words, "bash", "grep"]]
        entry["file_env"]["honoured"] += [
            k for k in spec.get("environment") or {} if k.endswith("_FILE")
        ]
        entry["shell"] = {"kind": "bash", "source": "dockerfile"}
        owner = (spec.get("labels") or {}).get("org.platform.state-owner") or spec.get("user")
        entry["user"] = {
            "default": "0:0",
            "runtime": str(owner or "65534:65534"),
            "source": "dockerfile",
        }
    image_of = {name: str(spec["image"]) for name, spec in model.services.items()}
    by_image[image_of["qdrant"]]["shell"] = {"kind": "dash", "source": "dockerfile"}
    by_image[image_of["pgadmin"]]["file_capabilities"] = [
        {"path": "/venv/bin/python3", "capabilities": ["NET_BIND_SERVICE"], "source": "dockerfile"}
    ]
    by_image[image_of["n8n"]]["file_env"] = {
        "honoured": ["DB_POSTGRESDB_PASSWORD_FILE", "QUEUE_BULL_REDIS_PASSWORD_FILE"],
        "not_honoured": ["N8N_ENCRYPTION_KEY_FILE"],
        "source": "docs",
    }
    return list(by_image.values())


def _edit(project: Path, service: str, change: Any) -> None:
    relative, _ = ProjectFacts.read(project).source(service)
    path = project / relative
    data = yaml.safe_load(path.read_text())
    change(data["services"][service])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _fix(project: Path) -> None:
    """The three services as the review says they must be."""

    def qdrant(spec: dict[str, Any]) -> None:
        spec["healthcheck"]["test"] = ["CMD", "bash", "-c", QDRANT_PROBE]

    def pgadmin(spec: dict[str, Any]) -> None:
        spec["cap_add"] = sorted({*(spec.get("cap_add") or []), "NET_BIND_SERVICE"})

    def n8n(spec: dict[str, Any]) -> None:
        spec["environment"]["N8N_ENCRYPTION_KEY_FILE"] = "/run/secrets/n8n_encryption_key"
        spec["entrypoint"] = ["/bin/sh", WRAPPER_TARGET, "tini", "--", "/docker-entrypoint.sh"]
        volumes = [v for v in spec.get("volumes") or [] if WRAPPER_TARGET not in str(v)]
        spec["volumes"] = [*volumes, f"../../common/file-env.sh:{WRAPPER_TARGET}:ro"]

    changes = (("qdrant", qdrant), ("pgadmin", pgadmin), ("n8n", n8n), ("n8n-worker", n8n))
    for service, change in changes:
        _edit(project, service, change)


DEFECTS = {
    "1: /dev/tcp under dash": (
        "qdrant",
        "IMG-004",
        lambda s: s["healthcheck"].update(test=["CMD-SHELL", QDRANT_PROBE]),
    ),
    "3: setcap python without its capability": (
        "pgadmin",
        "IMG-007",
        lambda s: s.update(cap_add=[c for c in s.get("cap_add") or [] if c != "NET_BIND_SERVICE"]),
    ),
    "5: N8N_ENCRYPTION_KEY_FILE without the wrapper": (
        "n8n",
        "IMG-005",
        lambda s: s.pop("entrypoint"),
    ),
}


@pytest.fixture(scope="module")
def fixed_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("imgrules") / "stack"
    shutil.copytree(
        REPO,
        project,
        ignore=shutil.ignore_patterns(
            ".git", ".nox", "secrets", "tests", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    _fix(project)
    shutil.rmtree(project / FACTS_DIR, ignore_errors=True)
    write_facts(_records_for(project), project)
    return project


def _open(done: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    report = json.loads(done.stdout)
    return {(f["rule"], f["service"]) for f in report["findings"] if not f["suppressed"]}


@pytest.mark.slow
def test_fixed_copy_has_none_of_the_reviewed_defects(fixed_stack: Path) -> None:
    done = run_stackctl(fixed_stack, "check", "--format", "json")
    assert done.returncode in {0, 1}, done.stderr
    found = _open(done)
    assert not {(rule, service) for service, rule, _ in DEFECTS.values()} & found
    assert not [f for f in found if f[0] in {"IMG-001", "IMG-002"}]


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_putting_a_defect_back_fails_check_naming_the_service(
    defect: str, fixed_stack: Path, tmp_path: Path
) -> None:
    service, rule_id, change = DEFECTS[defect]
    project = tmp_path / "stack"
    shutil.copytree(fixed_stack, project)
    _edit(project, service, change)
    done = run_stackctl(project, "check", "--format", "json")
    assert done.returncode == 1, done.stderr
    hits = [f for f in json.loads(done.stdout)["findings"] if f["rule"] == rule_id]
    assert (service, False, "high") in [
        (f["service"], f["suppressed"], f["severity"]) for f in hits
    ]
    table = run_stackctl(project, "check")
    assert table.returncode == 1 and rule_id in table.stdout and service in table.stdout


@pytest.mark.slow
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_putting_a_defect_back_into_the_reviewed_stack_fails_check(
    defect: str, copy_tree: Any
) -> None:
    """The same defects against the project's own reviewed records, on a clean copy."""
    if not read_image_facts(REPO).active:
        pytest.skip("the project keeps no image facts records yet")
    service, rule_id, change = DEFECTS[defect]
    project = copy_tree(REPO)
    assert run_stackctl(project, "check").returncode == 0
    _edit(project, service, change)
    done = run_stackctl(project, "check", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert (rule_id, service) in _open(done)


@pytest.mark.slow
def test_image_catalogue_is_up_to_date() -> None:
    done = run(["scripts/gen_image_catalogue.py", "--check"])
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_image_catalogue_lists_every_image_with_its_sources(fixed_stack: Path) -> None:
    target = fixed_stack / "docs" / "images.md"
    done = run(
        ["scripts/gen_image_catalogue.py", "--project", str(fixed_stack), "--output", str(target)]
    )
    assert done.returncode == 0, done.stderr
    text = target.read_text()
    model = render(Compose(Project.at(fixed_stack, ".env.example")), ("*",))
    for name, spec in model.services.items():
        assert f"| {name} | `{spec['image']}` |" in text
        assert f"`{spec['image']}`" in text
    assert "**missing**" not in text
    assert (
        "[example/app@v1.0:Dockerfile](https://github.com/example/app/blob/v1.0/Dockerfile)" in text
    )
