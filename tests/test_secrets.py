"""Secret scaffolding through the real task: idempotent, 0600/0700, never overwritten or printed."""

from __future__ import annotations

import base64
import stat
import uuid
from pathlib import Path

import pytest

from cli import run_invoke
from conftest import OPS_FIXTURE
from stackctl.operating.redact import MASK, Redactor
from stackctl.operating.secrets import GENERATORS, inspect, scaffold
from stackctl.project.secret_specs import SecretSpec


@pytest.fixture
def project(copy_tree) -> Path:
    return copy_tree(OPS_FIXTURE, "ops")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_scaffold_creates_then_keeps_files(project: Path) -> None:
    first = run_invoke(project, "secrets.scaffold")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 4
    secrets_dir = project / "secrets"
    values = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    assert set(values) == {"web_token", "store_password", "keeper_key", "leaky_key"}
    assert mode(secrets_dir) == 0o700
    assert all(mode(secrets_dir / name) == 0o600 for name in values)
    for value in values.values():
        assert value not in first.stdout + first.stderr

    second = run_invoke(project, "secrets.scaffold")
    assert second.returncode == 0 and second.stdout.count("present") == 4
    assert {p.name: p.read_text() for p in secrets_dir.iterdir()} == values  # reread: unchanged


@pytest.mark.slow
def test_check_changes_nothing_and_fails_on_missing(project: Path) -> None:
    done = run_invoke(project, "secrets.scaffold", "--check")
    assert done.returncode == 1 and done.stdout.count("missing") == 4
    assert not (project / "secrets").exists()


@pytest.mark.slow
def test_loose_permissions_fail_the_check_and_fix_tightens(project: Path) -> None:
    assert run_invoke(project, "secrets.scaffold").returncode == 0
    token = project / "secrets" / "web_token"
    value = token.read_text()
    token.chmod(0o644)
    check = run_invoke(project, "secrets.scaffold", "--check")
    assert check.returncode == 1 and "wrong permissions" in check.stdout
    fixed = run_invoke(project, "secrets.scaffold", "--fix")
    assert fixed.returncode == 0 and "fixed" in fixed.stdout
    assert mode(token) == 0o600 and token.read_text() == value


@pytest.mark.slow
def test_empty_file_is_reported_not_overwritten(project: Path) -> None:
    (project / "secrets").mkdir(mode=0o700)
    (project / "secrets" / "web_token").touch(mode=0o600)
    done = run_invoke(project, "secrets.scaffold")
    assert done.returncode == 1 and "empty" in done.stdout
    assert (project / "secrets" / "web_token").read_text() == ""


@pytest.mark.slow
def test_rotation_is_explicit_and_per_secret(project: Path) -> None:
    assert run_invoke(project, "secrets.scaffold").returncode == 0
    token, password = project / "secrets" / "web_token", project / "secrets" / "store_password"
    before = token.read_text(), password.read_text()
    refused = run_invoke(project, "secrets.scaffold", "--rotate", "web_token")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert token.read_text() == before[0]
    done = run_invoke(project, "secrets.scaffold", "--rotate", "web_token", "--yes")
    assert done.returncode == 0 and "rotated" in done.stdout
    assert token.read_text() != before[0] and password.read_text() == before[1]
    assert mode(token) == 0o600
    unknown = run_invoke(project, "secrets.scaffold", "--rotate", "nope", "--yes")
    assert (
        unknown.returncode == 2
        and "known: keeper_key, leaky_key, store_password, web_token" in unknown.stderr
    )


def test_exclusive_create_never_overwrites(tmp_path: Path) -> None:
    spec = SecretSpec("x", tmp_path / "s" / "x", "password")
    (results,) = scaffold([spec])
    assert results.status == "created"
    spec.path.write_text("kept")
    assert scaffold([spec])[0].status == "present" and spec.path.read_text() == "kept"


def test_secret_without_generator_is_reported(tmp_path: Path) -> None:
    spec = SecretSpec("x", tmp_path / "x", None)
    assert scaffold([spec])[0].status == "no generator"
    assert not spec.path.exists()


def test_wrong_owner_is_detected(tmp_path: Path) -> None:
    spec = SecretSpec("x", tmp_path / "s" / "x", "hex")
    scaffold([spec])
    info = spec.path.stat()
    other = SecretSpec("x", spec.path, "hex", owner=(info.st_uid + 1, info.st_gid))
    assert inspect(other) == "wrong owner"


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_produce_usable_values(kind: str) -> None:
    value = GENERATORS[kind]()
    assert value and value != GENERATORS[kind]()
    if kind == "urlsafe-b64-32":
        assert len(base64.urlsafe_b64decode(value)) == 32
    elif kind == "uuid":
        uuid.UUID(value)
    elif kind == "hex":
        assert len(bytes.fromhex(value)) == 32
    elif kind == "password":
        assert len(value) == 32 and value.isalnum()
    elif kind == "rabbitmq-conf":
        assert value.startswith("default_user = ") and "\ndefault_pass = " in value


def test_redactor_masks_values_and_conf_lines() -> None:
    redact = Redactor(["s3cr3t-value", "default_user = platform\ndefault_pass = abcdEFGH1234\n"])
    out = redact("login s3cr3t-value pass=abcdEFGH1234 user")
    assert "s3cr3t-value" not in out and "abcdEFGH1234" not in out
    assert out.count(MASK) == 2
    assert Redactor(["ab"])("ab abc") == "ab abc"  # too short to mask safely


def test_real_stack_declares_a_generator_for_every_secret(stack_compose) -> None:
    from stackctl.project.render import render
    from stackctl.project.secret_specs import specs_from_model

    specs = specs_from_model(render(stack_compose, ["*"]).data)
    assert len(specs) == 15
    assert all(spec.kind in GENERATORS and spec.owner for spec in specs)
