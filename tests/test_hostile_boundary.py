"""Hostile projects that try to make a static command read outside the project, or a .env.

Every route compose has for reading a file is tried: ``include`` (short and long
form, its ``env_file``, its ``project_directory``, the included folder's own
``.env``), ``extends.file``, a service's ``env_file`` and ``label_file``, the env
file itself as a symlink, and a compose file that is a symlink. The outside file
holds a marker that stands for a credential (``~/.aws/credentials``, a shadow
line): it must never reach the output, and compose must never be asked to render
(``require_within`` refuses first, naming the reference as the file writes it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.compose_inputs import interpolate, render_inputs
from stackctl.errors import EnvironmentProblem
from stackctl.project.boundary import require_within
from stackctl.project.compose import Compose, Project
from stackctl.project.render import render_outcome

MARKER = "aws_secret_access_key=m4rker0ut51de"
DOTENV_MARKER = "d0tenvm4rker"
SERVICE = "services:\n  web:\n    image: busybox:1.36\n"


def outside_file(base: Path) -> Path:
    target = base / "elsewhere" / "credentials"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"root:$6$x:{MARKER}\nMARK={MARKER}\n", encoding="utf-8")
    return target


def project(base: Path, compose: str, files: dict[str, str] | None = None) -> Path:
    root = base / "theirs"
    root.mkdir()
    (root / "compose.yaml").write_text(compose, encoding="utf-8")
    (root / ".env.example").write_text("", encoding="utf-8")
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def include_outside(base: Path) -> Path:
    target = outside_file(base)
    return project(base, f"include:\n  - {target}\n{SERVICE}")


def include_relative_escape(base: Path) -> Path:
    outside_file(base)
    return project(base, f"include:\n  - ../elsewhere/credentials\n{SERVICE}")


def include_env_file_outside(base: Path) -> Path:
    outside_file(base)
    return project(
        base,
        "include:\n  - path: sub/compose.yaml\n    env_file: ../elsewhere/credentials\n",
        {"sub/compose.yaml": SERVICE},
    )


def extends_outside(base: Path) -> Path:
    outside_file(base)
    compose = "services:\n  web:\n    extends:\n      file: ../elsewhere/credentials\n"
    return project(base, compose + "      service: base\n")


def env_file_outside(base: Path) -> Path:
    outside_file(base)
    return project(base, SERVICE + "    env_file: ../elsewhere/credentials\n")


def env_file_long_form_outside(base: Path) -> Path:
    outside_file(base)
    entry = "    env_file:\n      - path: ../elsewhere/credentials\n        required: false\n"
    return project(base, SERVICE + entry)


def label_file_outside(base: Path) -> Path:
    outside_file(base)
    return project(base, SERVICE + "    label_file: ../elsewhere/credentials\n")


def env_example_symlink(base: Path) -> Path:
    target = outside_file(base)
    root = project(base, SERVICE + '    environment: ["X=${MARK:-none}"]\n')
    (root / ".env.example").unlink()
    (root / ".env.example").symlink_to(target)
    return root


def included_file_symlink(base: Path) -> Path:
    target = outside_file(base)
    root = project(base, "include:\n  - sub/compose.yaml\n")
    (root / "sub").mkdir()
    (root / "sub" / "compose.yaml").symlink_to(target)
    return root


def interpolated_path_escapes(base: Path) -> Path:
    outside_file(base)
    root = project(base, "include:\n  - ${WHERE}/credentials\n")
    (root / ".env.example").write_text("WHERE=../elsewhere\n", encoding="utf-8")
    return root


OUTSIDE: dict[str, Callable[[Path], Path]] = {
    "include-absolute": include_outside,
    "include-dotdot": include_relative_escape,
    "include-env-file": include_env_file_outside,
    "extends-file": extends_outside,
    "env-file": env_file_outside,
    "env-file-long-form": env_file_long_form_outside,
    "label-file": label_file_outside,
    "env-example-symlink": env_example_symlink,
    "included-file-symlink": included_file_symlink,
    "interpolated-path": interpolated_path_escapes,
}


def dotenv_by_project_directory(base: Path) -> Path:
    compose = "include:\n  - path: sub/compose.yaml\n    project_directory: .\n"
    sub = 'services:\n  web:\n    image: busybox:1.36\n    environment: ["X=${D:-none}"]\n'
    return project(base, compose, {"sub/compose.yaml": sub, ".env": f"D={DOTENV_MARKER}\n"})


def dotenv_of_included_folder(base: Path) -> Path:
    sub = 'services:\n  web:\n    image: busybox:1.36\n    environment: ["X=${D:-none}"]\n'
    return project(
        base,
        "include:\n  - sub/compose.yaml\n",
        {"sub/compose.yaml": sub, "sub/.env": f"D={DOTENV_MARKER}\n"},
    )


DOTENV: dict[str, Callable[[Path], Path]] = {
    "project-directory-dot": dotenv_by_project_directory,
    "included-folder": dotenv_of_included_folder,
}


def static_compose(root: Path) -> Compose:
    return Compose(Project.at(root, ".env.example", static=True, env_origin=".env.example"))


@pytest.mark.parametrize("case", sorted(OUTSIDE))
def test_a_reference_outside_the_project_is_refused_before_compose_runs(
    tmp_path: Path, case: str
) -> None:
    root = OUTSIDE[case](tmp_path)
    with pytest.raises(EnvironmentProblem) as refused:
        render_outcome(static_compose(root), ("*",))
    message = str(refused.value)
    assert "outside the project" in message, message
    assert MARKER not in message and "m4rker" not in message, message


@pytest.mark.parametrize("case", sorted(DOTENV))
def test_an_untracked_dotenv_is_never_loaded_by_any_route(tmp_path: Path, case: str) -> None:
    root = DOTENV[case](tmp_path)
    with pytest.raises(EnvironmentProblem) as refused:
        render_outcome(static_compose(root), ("*",))
    message = str(refused.value)
    assert ".env" in message and "git does not track" in message, message
    assert DOTENV_MARKER not in message


def git(root: Path, *args: str) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_a_dotenv_git_tracks_is_read_as_the_projects_committed_defaults(tmp_path: Path) -> None:
    root = dotenv_of_included_folder(tmp_path)
    git(root, "init", "-q")
    git(root, "add", "-f", "sub/.env")
    outcome = render_outcome(static_compose(root), ("*",))
    assert outcome.model is not None, outcome.error
    assert outcome.model.services["web"]["environment"] == {"X": DOTENV_MARKER}


def test_a_file_the_user_names_outside_the_project_is_their_choice(tmp_path: Path) -> None:
    root = project(tmp_path, SERVICE)
    env = tmp_path / "elsewhere" / "ci.env"
    env.parent.mkdir()
    env.write_text("A=1\n", encoding="utf-8")
    compose = Compose(
        Project.at(root, env, static=True, env_origin=f"{env} (given with --env-file)")
    )
    assert render_outcome(compose, ("*",)).model is not None


def test_an_inside_project_renders_and_its_inputs_are_every_file_compose_reads(
    tmp_path: Path,
) -> None:
    root = project(
        tmp_path,
        "include:\n  - path: [sub/compose.yaml]\n    env_file: sub/defaults.env\n"
        + "services:\n  api:\n    extends:\n      file: templates.yml\n      service: base\n"
        + "    env_file: [api.env]\n",
        {
            "sub/compose.yaml": SERVICE + "    label_file: labels\n",
            "sub/defaults.env": "A=1\n",
            "sub/labels": "team=x\n",
            "templates.yml": "services:\n  base:\n    image: busybox:1.36\n",
            "api.env": "B=2\n",
        },
    )
    inputs = require_within(static_compose(root))
    read = {p.relative_to(root).as_posix() for p in inputs.paths}
    assert read == {
        ".env.example",
        "compose.yaml",
        "sub/compose.yaml",
        "sub/defaults.env",
        "sub/labels",
        "templates.yml",
        "api.env",
    }
    assert render_outcome(static_compose(root), ("*",)).model is not None


def test_secret_and_config_files_are_named_not_read(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        SERVICE + "secrets:\n  token:\n    file: /run/secrets/token\n",
    )
    inputs = render_inputs(root, env_file=root / ".env.example")
    assert [r.key for r in inputs.referenced] == ["secrets.token.file"]
    assert inputs.outside == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}/x", "a/x"),
        ("$A/x", "a/x"),
        ("${U:-d}", "d"),
        ("${E:-d}", "d"),
        ("${E-d}", ""),
        ("${A:+alt}", "alt"),
        ("${U+alt}", ""),
        ("$${A}", "${A}"),
        ("${U:-${A}}", "a"),
        ("${U}", ""),
    ],
)
def test_paths_interpolate_as_compose_does(text: str, expected: str) -> None:
    assert interpolate(text, {"A": "a", "E": ""}) == expected


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "validate", "profiles", "gate", "fix"])
@pytest.mark.parametrize("case", ["include-dotdot", "env-example-symlink", "env-file"])
def test_no_static_command_prints_a_byte_of_an_outside_file(
    tmp_path: Path, command: str, case: str
) -> None:
    root = OUTSIDE[case](tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("STACKCTL_DEBUG", "COMPOSE_BIN")}
    done = subprocess.run(
        [sys.executable, "-m", "stackctl", command, "--project-dir", str(root)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    output = done.stdout + done.stderr
    assert "m4rker" not in output, output
    assert "Traceback" not in output, output
    assert done.returncode == 2, output
    assert "outside the project" in output, output


def test_project_facts_never_read_an_env_example_that_leads_outside(tmp_path: Path) -> None:
    from checks.stack import ProjectFacts

    root = env_example_symlink(tmp_path)
    assert ProjectFacts.read(root).env_example == {}


def _rendered(root: Path, service: str, files: tuple[str, ...] = ()) -> dict[str, object]:
    compose = Compose(
        Project.at(root, ".env.example", files, static=True, env_origin=".env.example")
    )
    outcome = render_outcome(compose, ("*",))
    assert outcome.model is not None, outcome.error
    spec: dict[str, object] = outcome.model.services[service]
    return spec


def test_the_walk_resolves_paths_where_compose_does(tmp_path: Path) -> None:
    """Each pair of candidates differs only in the folder a relative path is taken from;
    the render shows which one compose read, and the walk must name that one."""
    root = project(
        tmp_path,
        "include:\n  - path: r/c.yml\n    project_directory: r/q\n"
        + "services:\n  top:\n    extends:\n      file: s2/t.yml\n      service: b\n",
        {
            "r/c.yml": "services:\n  inc:\n    extends:\n      file: t.yml\n"
            "      service: b\n    env_file: e.env\n",
            "r/t.yml": "services:\n  b:\n    image: wrong\n",
            "r/q/t.yml": "services:\n  b:\n    image: right\n",
            "r/e.env": "X=wrong\n",
            "r/q/e.env": "X=right\n",
            "s2/t.yml": "services:\n  b:\n    image: right\n    env_file: e.env\n",
            "s2/e.env": "Y=right\n",
            "e.env": "Y=wrong\n",
        },
    )
    assert _rendered(root, "inc")["image"] == "right"
    assert _rendered(root, "inc")["environment"] == {"X": "right"}
    assert _rendered(root, "top")["environment"] == {"Y": "right"}
    read = {p.relative_to(root).as_posix() for p in require_within(static_compose(root)).paths}
    assert {"r/q/t.yml", "r/q/e.env", "s2/t.yml", "s2/e.env"} <= read
    assert not {"r/t.yml", "r/e.env", "e.env"} & read


def test_a_file_given_in_a_subfolder_resolves_from_the_project_directory(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        "services: {}\n",
        {
            "sub/x.yml": "include:\n  - inc/c.yml\nservices:\n  e:\n    extends:\n"
            "      file: t.yml\n      service: b\n",
            "sub/inc/c.yml": "services:\n  wrong:\n    image: x\n",
            "inc/c.yml": "services:\n  right:\n    image: x\n",
            "sub/t.yml": "services:\n  b:\n    image: wrong\n",
            "t.yml": "services:\n  b:\n    image: right\n",
        },
    )
    assert _rendered(root, "e", ("sub/x.yml",))["image"] == "right"
    _rendered(root, "right", ("sub/x.yml",))  # the include, from the project directory
    inputs = render_inputs(root, ("sub/x.yml",), root / ".env.example")
    read = {p.relative_to(root).as_posix() for p in inputs.paths}
    assert {"inc/c.yml", "t.yml"} <= read
    assert not {"sub/inc/c.yml", "sub/t.yml"} & read


def test_a_reference_is_named_as_the_file_writes_it_never_interpolated(tmp_path: Path) -> None:
    root = interpolated_path_escapes(tmp_path)
    with pytest.raises(EnvironmentProblem) as refused:
        require_within(static_compose(root))
    assert "(include: ${WHERE}/credentials)" in str(refused.value)


def monorepo(base: Path) -> Path:
    """A repository whose projects share a file above their own folders."""
    (base / "shared").mkdir(parents=True)
    (base / "shared" / "base.yml").write_text(
        "services:\n  base:\n    image: busybox:1.36\n", encoding="utf-8"
    )
    api = base / "services" / "api"
    api.mkdir(parents=True)
    (api / "compose.yaml").write_text(
        "services:\n  api:\n    extends:\n      file: ../../shared/base.yml\n      service: base\n",
        encoding="utf-8",
    )
    (api / ".env.example").write_text("", encoding="utf-8")
    return api


def test_boundary_widens_to_a_folder_the_user_names(tmp_path: Path) -> None:
    from stackctl.commands.groups import parse_project

    api = monorepo(tmp_path / "repo")
    with pytest.raises(EnvironmentProblem, match="outside the project"):
        render_outcome(Compose(parse_project({"project_dir": str(api)}, "validation")), ("*",))
    widened = parse_project(
        {"project_dir": str(api), "boundary": str(tmp_path / "repo")}, "validation"
    )
    outcome = render_outcome(Compose(widened), ("*",))
    assert outcome.model is not None and outcome.model.services["api"]["image"] == "busybox:1.36"
    (tmp_path / "secret.env").write_text("X=1\n", encoding="utf-8")
    (api / "compose.yaml").write_text(SERVICE + "    env_file: ../../../secret.env\n")
    with pytest.raises(EnvironmentProblem, match="outside --boundary"):
        render_outcome(Compose(widened), ("*",))


@pytest.mark.parametrize("given", ["", "elsewhere", "missing"])
def test_boundary_must_be_a_folder_that_holds_the_project(tmp_path: Path, given: str) -> None:
    from stackctl.commands.groups import parse_project
    from stackctl.errors import UsageError

    api = monorepo(tmp_path / "repo")
    (tmp_path / "elsewhere").mkdir()
    folder = "" if not given else str(tmp_path / given)
    with pytest.raises(UsageError, match="--boundary"):
        parse_project({"project_dir": str(api), "boundary": folder}, "validation")


@pytest.mark.parametrize("key", ["env_file", "label_file"])
def test_a_tilde_path_is_the_home_folder_where_compose_expands_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    """compose reads a service's ``env_file: ~/x`` from $HOME (not include or extends
    paths); a static render passes HOME, so ``~`` leads outside the project."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "credentials").write_text(f"MARK={MARKER}\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    root = project(tmp_path, SERVICE + f"    {key}: ~/credentials\n")
    with pytest.raises(EnvironmentProblem, match="outside the project") as refused:
        render_outcome(static_compose(root), ("*",))
    assert str(home / "credentials") in str(refused.value)


def test_include_and_extends_paths_keep_a_tilde_as_a_folder_name(tmp_path: Path) -> None:
    """The oracle for the test above: compose does not expand ``~`` in an include."""
    root = project(tmp_path, "include:\n  - ~/inc.yml\n", {"~/inc.yml": SERVICE})
    outcome = render_outcome(static_compose(root), ("*",))
    assert outcome.model is not None and "web" in outcome.model.services, outcome.error
