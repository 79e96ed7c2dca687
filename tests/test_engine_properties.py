"""Property-based tests: the engine never crashes on odd but valid models, and scores sanely."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from checks.evaluator import evaluate
from checks.finding import risk_score
from checks.rules.privileges import DANGEROUS_CAPABILITIES
from checks.stack import Stack

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
capabilities = st.sampled_from(
    sorted(DANGEROUS_CAPABILITIES | {"CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE", "KILL"})
)

service = st.fixed_dictionaries(
    {},
    optional={
        "image": st.one_of(st.text(max_size=40), st.just("busybox:1.37.0")),
        "cap_drop": st.lists(st.one_of(capabilities, st.text(max_size=8)), max_size=3),
        "cap_add": st.lists(capabilities, max_size=3),
        "security_opt": st.lists(st.text(max_size=30), max_size=3),
        "init": scalars,
        "privileged": st.booleans(),
        "restart": st.sampled_from(["no", "always", "unless-stopped"]),
        "environment": st.dictionaries(
            names, st.one_of(st.none(), st.text(max_size=20)), max_size=4
        ),
        "ports": st.lists(
            st.fixed_dictionaries(
                {"target": st.integers(1, 65535)},
                optional={"published": st.text(max_size=5), "host_ip": scalars},
            ),
            max_size=2,
        ),
        "volumes": st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["bind", "volume", "tmpfs"])},
                optional={
                    "source": st.text(max_size=20),
                    "target": scalars,
                    "read_only": st.booleans(),
                },
            ),
            max_size=2,
        ),
        "depends_on": st.dictionaries(
            names,
            st.fixed_dictionaries(
                {},
                optional={
                    "condition": st.sampled_from(
                        ["service_started", "service_healthy", "service_completed_successfully"]
                    ),
                    "required": st.booleans(),
                },
            ),
            max_size=3,
        ),
        "healthcheck": st.fixed_dictionaries(
            {},
            optional={
                "test": st.one_of(st.text(max_size=10), st.lists(st.text(max_size=10), max_size=3)),
                "disable": st.booleans(),
            },
        ),
        "logging": st.fixed_dictionaries(
            {},
            optional={
                "driver": st.sampled_from(["loki", "local", "json-file"]),
                "options": st.dictionaries(
                    st.sampled_from(["loki-url", "mode", "loki-retries", "loki-timeout"]),
                    st.text(max_size=30),
                ),
            },
        ),
        "networks": st.dictionaries(
            names,
            st.one_of(
                st.none(),
                st.fixed_dictionaries({}, optional={"ipv4_address": st.text(max_size=15)}),
            ),
            max_size=2,
        ),
        "extra_hosts": st.dictionaries(names, st.text(max_size=15), max_size=2),
        "deploy": st.fixed_dictionaries(
            {},
            optional={
                "resources": st.fixed_dictionaries(
                    {},
                    optional={
                        "limits": st.dictionaries(
                            st.sampled_from(["memory", "cpus", "pids"]),
                            st.one_of(st.integers(-1, 10**9), st.text(max_size=6)),
                        )
                    },
                )
            },
        ),
    },
)
models = st.fixed_dictionaries(
    {"services": st.dictionaries(names, service, max_size=5)},
    optional={
        "secrets": st.dictionaries(
            names,
            st.fixed_dictionaries(
                {}, optional={"file": st.text(max_size=10), "environment": st.text(max_size=10)}
            ),
            max_size=3,
        ),
        "networks": st.dictionaries(
            names,
            st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "ipam": st.fixed_dictionaries(
                            {},
                            optional={
                                "config": st.lists(
                                    st.dictionaries(
                                        st.sampled_from(["subnet", "gateway"]), st.text(max_size=15)
                                    ),
                                    max_size=2,
                                )
                            },
                        )
                    },
                ),
            ),
            max_size=2,
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(models, st.booleans())
def test_engine_never_crashes_on_odd_models(model: dict, complete: bool) -> None:
    evaluation = evaluate(
        [Stack(model=model, profiles=("*",) if complete else (), complete=complete)]
    )
    for finding in evaluation.findings:
        assert finding.rule_id and finding.requirement and finding.message


def _score(spec: dict) -> int:
    return risk_score(evaluate([Stack(model={"services": {"svc": spec}})]).findings)


@settings(max_examples=100, deadline=None)
@given(capabilities)
def test_dropping_all_and_adding_one_back_never_scores_worse(cap: str) -> None:
    base = {"image": "busybox:1.37.0", "init": True, "security_opt": ["no-new-privileges:true"]}
    dropped_all_added_one = {**base, "cap_drop": ["ALL"], "cap_add": [cap]}
    dropped_nothing = dict(base)
    assert _score(dropped_all_added_one) <= _score(dropped_nothing)
    assert _score({**base, "cap_add": [cap]}) > _score(dropped_all_added_one)


def test_digits_int_cannot_read_are_not_numbers() -> None:
    """``"¹".isdigit()`` is true but ``int("¹")`` fails: numbers are read with isdecimal."""
    from checks.evaluator import evaluate
    from checks.stack import ProjectFacts

    model = {
        "services": {
            "web": {
                "image": "busybox:1.36",
                "logging": {"driver": "loki", "options": {"loki-retries": "¹"}},
                "ports": [{"target": "²", "published": "³"}],
                "user": "¹",
            }
        }
    }
    evaluate([ProjectFacts().stack(model, ("*",))])  # must not raise
