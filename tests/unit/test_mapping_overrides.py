"""Mapping additions: target attribute paths (parse, declared by /Schemas, read from a SCIM user) and the YAML
override file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcaudit.audit.mapping import DEFAULT_MAPPING, AttributeMapping, default_mapping
from rcaudit.audit.overrides import apply_mapping_overrides, effective_mapping, load_mapping_overrides
from rcaudit.model.errors import MappingError
from rcaudit.model.scim_path import declared_by, parse_target, read_targets, target_reader
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox.servers.scim_schemas import schema_documents
from rcaudit.sandbox.tenant.sync_schema import default_sync_schema
from tests.support.snapshots import audit, entra_user, rc_account, rows, small_tenant

ACCOUNT = {
    "userName": "a@b.c", "name": {"givenName": "Ann"}, "emails": [{"type": "other", "value": "x"},
                                                                {"type": "Work", "value": "a@b.c"}],
    "addresses": [{"type": "work", "locality": "Oslo", "country": "Norway"}],
    ENTERPRISE: {"department": "Sales", "manager": {"value": "42"}},
    "roles": [{"primary": True, "value": "Admin"}],
}


@pytest.mark.parametrize(("path", "expected"), [
    ("userName", "a@b.c"), ("name.givenName", "Ann"), ("name.familyName", None),
    ('emails[type eq "work"].value', "a@b.c"), ('addresses[type eq "work"].locality', "Oslo"),
    ('phoneNumbers[type eq "mobile"].value', None), (f"{ENTERPRISE}:department", "Sales"),
    (f"{ENTERPRISE}:manager", "42"), ('roles[primary eq "True"].value', "Admin"), ("title", None),
])
def test_target_paths_read_a_scim_user(path: str, expected: str | None) -> None:
    assert target_reader(path)(ACCOUNT) == expected
    assert read_targets([ACCOUNT, {}], [path])[path] == [expected, None]


def test_an_enterprise_urn_is_never_split_on_its_dots() -> None:
    target = parse_target(f"{ENTERPRISE}:department")
    assert (target.schema, target.attribute, target.sub_attribute) == (ENTERPRISE, "department", None)
    with pytest.raises(MappingError, match="cannot read the target attribute path"):
        parse_target("emails[type eq").attribute  # noqa: B018


def test_declared_by_reads_ringcentrals_schemas() -> None:
    current, classic = schema_documents("current"), schema_documents("classic")
    assert declared_by(current, 'addresses[type eq "work"].region') is None
    assert declared_by(current, 'phoneNumbers[type eq "fax"].value') == \
        "phoneNumbers.type does not allow 'fax'"
    assert declared_by(current, "displayName") == "RingCentral's /Schemas does not declare displayName"
    assert declared_by(classic, f"{ENTERPRISE}:manager") is None
    assert declared_by(current, "urn:ietf:params:scim:schemas:extension:other:2.0:User:x").startswith(
        "/Schemas has no")


def test_a_yaml_file_overrides_the_live_or_default_mapping(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("""attributes:
  userName: ToLower([mail])
  title: null
  displayName: {expression: 'Join(" ", [givenName], [surname])', matching_priority: 0}
""")
    mapping, source = effective_mapping(default_sync_schema("current"), path)
    targets = {m.target: m for m in mapping}
    assert source == "schema + mapping.yaml"
    assert targets["userName"].expression == "ToLower([mail])" and "title" not in targets
    assert targets["displayName"].expression == 'Join(" ", [givenName], [surname])'
    replaced = apply_mapping_overrides(DEFAULT_MAPPING, True, {"userName": AttributeMapping("userName", "[mail]")})
    assert replaced == (AttributeMapping("userName", "[mail]"),)
    assert effective_mapping(None) == (DEFAULT_MAPPING, "default")
    unreadable, source = effective_mapping({"synchronizationRules": []})
    assert unreadable == DEFAULT_MAPPING and source.startswith("default (the live schema was unreadable")


def test_an_override_is_used_by_the_audit(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("attributes:\n  title: Switch([department], \"Staff\", \"Engineering\", \"Engineer\")\n")
    user = entra_user("e.one", jobTitle="Senior whatever")
    tenant = small_tenant([user], [rc_account(user, "1", title="Engineer")])
    assert rows(audit(tenant)) == [("attribute_mismatch", "id-e.one", "1", "title")]
    mapping, _ = effective_mapping(default_sync_schema("current"), path)
    assert rows(audit(tenant, mapping=mapping)) == []


@pytest.mark.parametrize(("content", "message"), [
    ("attributes:\n  title: PCase([jobTitle])\n", r"mapping.yaml: attributes.title: .*PCase is not supported"),
    ("attributes:\n  title: {expr: '[jobTitle]'}\n", r"attributes.title: give an expression string"),
    ("attrs: {}\n", r"unknown keys attrs"),
    ("attributes: [1, 2]\n", r"expected a mapping with an 'attributes' table"),
    ("attributes: {title: '[a'}\n", r"attributes.title"),
    ("attributes: {'emails[type': '[mail]'}\n", r"cannot read the target attribute path"),
    (": not yaml : [\n", r"cannot read the mapping overrides"),
])
def test_a_malformed_override_file_names_file_and_attribute(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(content)
    with pytest.raises(MappingError, match=message):
        load_mapping_overrides(path)


def test_default_mapping_is_unchanged_by_the_additions() -> None:
    assert default_mapping("current")[0] == AttributeMapping("userName", "[userPrincipalName]", matching_priority=1)
