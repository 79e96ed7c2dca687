"""checks.fixes: each edit splices text in and leaves every other byte as written."""

from __future__ import annotations

import pytest
import yaml

from checks.catalogue import fixable_rules, rule_catalogue
from checks.explain import explain
from checks.fixes import (
    FIXES,
    SERVICE_VALUES,
    Port,
    Refused,
    TextEdit,
    apply_edits,
    bind_ports_to_loopback,
    changes_of,
    drop_top_level_key,
    interpolate,
    lost_comments,
    name_external,
    set_service_value,
)
from conftest import FIXTURES

CAP_DROP = SERVICE_VALUES["PRIV-001"]
NO_NEW_PRIVILEGES = SERVICE_VALUES["PRIV-002"]
INIT = SERVICE_VALUES["PRIV-003"]


def edited(text: str, *edits: TextEdit) -> str:
    after = apply_edits(text, edits)
    yaml.safe_load(after)  # still YAML, and PyYAML (YAML 1.1) reads it too
    assert lost_comments(text, after) == []
    return after


def test_a_key_joins_a_block_mapping_after_its_last_line_in_the_file_list_style() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    image: nginx:1.27.3\n"
        "    labels:\n"
        "      team: web   # owner\n"
        "\n"
        "  # next one\n"
        "  db:\n"
        "    image: postgres:17.4\n"
        "    dns:\n"
        "      - 10.0.0.1\n"
    )
    after = edited(text, set_service_value(text, "web", CAP_DROP))
    assert after == text.replace(
        "team: web   # owner\n", "team: web   # owner\n    cap_drop:\n      - ALL\n"
    )


def test_a_file_without_block_lists_gets_a_flow_list() -> None:
    text = "services:\n  web:\n    image: nginx:1.27.3\n"
    after = edited(text, set_service_value(text, "web", NO_NEW_PRIVILEGES))
    assert after.endswith('image: nginx:1.27.3\n    security_opt: ["no-new-privileges:true"]\n')


def test_a_flow_mapping_and_a_flow_list_keep_their_style() -> None:
    text = "services:\n  web: {image: 'nginx:1.27.3', security_opt: ['label=disable']}\n"
    after = edited(text, set_service_value(text, "web", NO_NEW_PRIVILEGES))
    assert after == (
        "services:\n  web: {image: 'nginx:1.27.3', "
        "security_opt: ['label=disable', 'no-new-privileges:true']}\n"
    )
    after = edited(text, set_service_value(text, "web", INIT))
    assert after.endswith("security_opt: ['label=disable'], init: true}\n")


def test_a_block_list_gets_one_more_item_quoted_like_the_last() -> None:
    text = 'services:\n  web:\n    cap_drop:\n    - "NET_RAW"  # why\n    image: x\n'
    after = edited(text, set_service_value(text, "web", CAP_DROP))
    assert (
        after
        == 'services:\n  web:\n    cap_drop:\n    - "NET_RAW"  # why\n    - "ALL"\n    image: x\n'
    )


def test_a_scalar_written_by_a_person_is_refused() -> None:
    text = "services:\n  web:\n    image: x\n    init: false\n"
    with pytest.raises(Refused, match="already written"):
        set_service_value(text, "web", INIT)


def test_values_shared_through_anchors_or_merge_keys_are_refused() -> None:
    aliased = "services:\n  a: &a {image: x}\n  b: *a\n"
    with pytest.raises(Refused, match="anchor"):
        set_service_value(aliased, "a", INIT)
    merged = "x-h: &h\n  cap_drop: [NET_RAW]\nservices:\n  web:\n    <<: *h\n    image: x\n"
    with pytest.raises(Refused, match="merge key"):
        set_service_value(merged, "web", CAP_DROP)
    # a merge key that does not carry the key is no obstacle, and the anchor is untouched
    after = edited(merged, set_service_value(merged, "web", INIT))
    assert after == merged + "    init: true\n"


def test_the_version_key_goes_and_its_comment_stays() -> None:
    text = 'version: "3.8"  # compose v1\n# the stack\nservices:\n  web: {image: x}\n'
    after = edited(text, drop_top_level_key(text, "version"))
    assert after == "# compose v1\n# the stack\nservices:\n  web: {image: x}\n"
    bare = "services:\n  web: {image: x}\nversion: '3'\n"
    assert edited(bare, drop_top_level_key(bare, "version")) == "services:\n  web: {image: x}\n"


def test_a_deprecated_external_name_becomes_name_and_external_true() -> None:
    text = (
        "networks:\n  edge:\n    external:\n      name: ops-edge  # theirs\n"
        "  x: {external: {name: y}}\n"
    )
    after = edited(text, *name_external(text, "networks", "edge"))
    assert after == (
        "networks:\n  edge:\n    external: true  # theirs\n    name: ops-edge\n"
        "  x: {external: {name: y}}\n"
    )
    after = edited(text, *name_external(text, "networks", "x"))
    assert after.endswith("  x: {external: true, name: y}\n")


def test_ports_are_bound_to_loopback_in_each_syntax() -> None:
    text = (
        "services:\n"
        "  web:\n"
        "    ports:\n"
        "      - 8080:80\n"
        "      - '${TLS_PORT:-8443}:443'\n"
        "      - {target: 53, published: 5353, protocol: udp}\n"
        "      - 127.0.0.1:9000:90\n"
    )
    wanted = [Port("8080", "80"), Port("8443", "443"), Port("5353", "53", "udp")]
    after = edited(text, *bind_ports_to_loopback(text, "web", wanted, {}))
    assert after == (
        "services:\n"
        "  web:\n"
        "    ports:\n"
        "      - 127.0.0.1:8080:80\n"
        "      - '127.0.0.1:${TLS_PORT:-8443}:443'\n"
        "      - {target: 53, published: 5353, protocol: udp, host_ip: 127.0.0.1}\n"
        "      - 127.0.0.1:9000:90\n"
    )
    chosen = "services:\n  web:\n    ports: ['0.0.0.0:8080:80']\n"
    with pytest.raises(Refused, match="its own host address"):
        bind_ports_to_loopback(chosen, "web", [Port("8080", "80")], {})


def test_interpolation_reads_defaults_and_the_env() -> None:
    assert interpolate("${A:-1}:${B}:$C:$$", {"B": "2", "C": "3"}) == "1:2:3:$"
    assert interpolate("${A:?set A}", {}) is None


def test_overlapping_edits_are_refused_and_identical_ones_count_once() -> None:
    text = "abcdef"
    assert apply_edits(text, [TextEdit(1, 2, "X"), TextEdit(1, 2, "X")]) == "aXcdef"
    with pytest.raises(Refused):
        apply_edits(text, [TextEdit(1, 3, "X"), TextEdit(2, 4, "Y")])


def test_changes_are_lines_and_utf16_columns() -> None:
    text = "# é\nservices:\n  web: {image: x}\n"
    (change,) = changes_of("compose.yaml", text, [TextEdit(len(text) - 2, len(text) - 2, ", a: b")])
    assert (change.start_line, change.start_column) == (3, 17)
    assert change.end_line == change.start_line and change.end_column == change.start_column


def test_fixable_rules_come_from_the_fix_registry_and_show_in_explain() -> None:
    assert set(fixable_rules()) == set(FIXES)
    assert {"PRIV-001", "PRIV-002", "PRIV-003", "HYG-002", "COMPOSE-002"} <= set(FIXES)
    for rule_id, info in rule_catalogue().items():
        assert info.fixable == (rule_id in FIXES)
        assert ("Fixable: `stackctl fix`" in explain(rule_id)) == info.fixable


def test_an_alias_bomb_costs_its_size_not_its_expansion() -> None:
    text = (FIXTURES / "aliasbomb" / "docker-compose.yml").read_text()
    after = apply_edits(text, [set_service_value(text, "web", INIT)])
    assert after == text + "    init: true\n"
    assert lost_comments(text, after) == []
