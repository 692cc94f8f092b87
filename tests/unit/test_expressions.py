"""Entra's expression functions, each with a case written out (most from Microsoft's own reference page)."""

from __future__ import annotations

from typing import Any

import pytest

from rcaudit.audit.expressions import compile_expression, parse
from rcaudit.model.errors import MappingError
from rcaudit.model.vocabulary import ACTIVE_EXPRESSION


def run(expression: str, **values: Any) -> Any:
    return compile_expression(expression).with_names(**values)


@pytest.mark.parametrize(("expression", "values", "expected"), [
    # Switch(source, defaultValue, key1, value1, …): case-sensitive; a null source matches the "" key
    (ACTIVE_EXPRESSION, {"IsSoftDeleted": "False"}, "True"),
    (ACTIVE_EXPRESSION, {"IsSoftDeleted": "True"}, "False"),
    (ACTIVE_EXPRESSION, {"IsSoftDeleted": "false"}, None),  # no key matches, default left out
    ('Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney", "QLD", "Australia/Brisbane")',
     {"state": "QLD"}, "Australia/Brisbane"),
    ('Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney", "QLD", "Australia/Brisbane")',
     {"state": "VIC"}, "Australia/Sydney"),
    ('Switch([statusFlag], "Default Value", "true", "1", "", "0")', {"statusFlag": None}, "0"),
    ('Switch([accountEnabled], , "True", "on", "False", "off")', {"accountEnabled": False}, "off"),
    # Join(separator, source1, …): empty and null sources are skipped, multi-valued ones joined
    ('Join(", ", "", [surname], [givenName])', {"surname": "Doe", "givenName": "John"}, "Doe, John"),
    ('Join("@", [a], [b])', {"a": "x", "b": None}, "x"),
    ('Join(";", [proxyAddresses])', {"proxyAddresses": ("a", "b")}, "a;b"),
    # Append(source, suffix); .NET concatenation treats null as ""
    ('Append([userPrincipalName], ".test")', {"userPrincipalName": "John.Doe@contoso.com"},
     "John.Doe@contoso.com.test"),
    ('Append([x], "-suffix")', {"x": None}, "-suffix"),
    # Coalesce(source1, …, defaultValue): the first value that is not null
    ("Coalesce([mail],[userPrincipalName])", {"mail": None, "userPrincipalName": "John.Doe@contoso.com"},
     "John.Doe@contoso.com"),
    ('Coalesce([a], [b], "fallback")', {"a": None, "b": None}, "fallback"),
    ('Coalesce([a], "fallback")', {"a": ""}, ""),  # "" is not null
    # ToLower / ToUpper (culture ignored), Trim, StripSpaces, NormalizeDiacritics
    ('ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [first], [last]))), "contoso.com"))',
     {"first": "John", "last": "Smith"}, "john.smith@contoso.com"),
    ('ToUpper([c], "en-US")', {"c": "se"}, "SE"),
    ("Trim([t])", {"t": "  padded  "}, "padded"),
    ("StripSpaces([t])", {"t": " a b  c "}, "abc"),
    ("NormalizeDiacritics([givenName])", {"givenName": "Zoë"}, "Zoe"),
    ("NormalizeDiacritics([n])", {"n": "Æsa Øberg Größe Łukasz Ñúñez"}, "AEsa OEberg Grosse Lukasz Nunez"),
    ("ToLower([missing])", {"missing": None}, None),
    # Left(String, NumChars), Mid(source, start, length), Word(String, WordNumber, Delimiters)
    ('Left("John Doe", 3)', {}, "Joh"),
    ("Left([s], 0)", {"s": "abc"}, ""),
    ("Left([s], -1)", {"s": "abc"}, "abc"),
    ("Left([s], 10)", {"s": "abc"}, "abc"),
    ("Left([s], 2)", {"s": None}, ""),
    ("Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))", {"givenName": "John", "surname": "Doe"}, "JohDoe"),
    ("Mid([s], 2, 99)", {"s": "abcdef"}, "bcdef"),
    ('Word("The quick brown fox",3," ")', {}, "brown"),
    ('Word("This,string!has&many separators",3,",!&#")', {}, "has"),
    ('Word([s], 0, " ")', {"s": "a b"}, ""),
    ('Word([s], 5, " ")', {"s": "a b"}, ""),
    # Split, Item, Count
    ('Split([extensionAttribute5], ",")', {"extensionAttribute5": "PermissionSetOne,PermissionSetTwo"},
     ("PermissionSetOne", "PermissionSetTwo")),
    ("Item([proxyAddresses], 1)", {"proxyAddresses": ("first", "second")}, "first"),
    ("Count([proxyAddresses])", {"proxyAddresses": ("a", "b", "c")}, 3),
    # IIF(condition, valueIfTrue, valueIfFalse) with = <> > >= < <=
    ('IIF([country]="USA",[country],[department])', {"country": "USA", "department": "Sales"}, "USA"),
    ('IIF([country]="USA",[country],[department])', {"country": "Canada", "department": "Sales"}, "Sales"),
    ('IIF([country]="USA",IIF([state]="CA","True","False"),"False")', {"country": "USA", "state": "CA"}, "True"),
    ('IIF([n] > 5, "big", "small")', {"n": "10"}, "big"),  # numbers compare as numbers
    ('IIF([n] <> "x", "other", "same")', {"n": "x"}, "same"),
    ('IIF([country]="USA", "US", "other")', {"country": None}, None),  # Entra's condition check fails on null
    # IsPresent, IsNullOrEmpty, IsNull, Not, CBool, CStr, IgnoreFlowIfNullOrEmpty
    ("IsPresent([a])", {"a": "x"}, True),
    ("IsPresent([a])", {"a": ""}, False),
    ("IsNullOrEmpty([a])", {"a": None}, True),
    ("IsNull([a])", {"a": ""}, False),
    ("Not([flag])", {"flag": "True"}, False),
    ("Not([flag])", {"flag": "False"}, True),
    ("Not(IsPresent([a]))", {"a": None}, True),
    ("CBool([a] = [b])", {"a": "x", "b": "x"}, True),
    ("CBool([n])", {"n": "0"}, False),
    ("CStr([accountEnabled])", {"accountEnabled": True}, "True"),
    ("IgnoreFlowIfNullOrEmpty([department])", {"department": ""}, None),
    # SingleAppRoleAssignment([appRoleAssignments]): the user's one role
    ("SingleAppRoleAssignment([appRoleAssignments])", {"appRoleAssignments": ("Admin",)}, "Admin"),
    ("SingleAppRoleAssignment([appRoleAssignments])", {"appRoleAssignments": ()}, None),
    # constants, escapes, bare words, numbers
    ('"Company name: \\"Contoso\\""', {}, 'Company name: "Contoso"'),
    ('"back\\\\slash"', {}, "back\\slash"),
    ("[mail]", {"mail": "a@b.c"}, "a@b.c"),
])
def test_functions(expression: str, values: dict[str, Any], expected: Any) -> None:
    assert run(expression, **values) == expected


@pytest.mark.parametrize(("expression", "values", "expected"), [
    # 1. oldValue + replacementValue: plain, case-sensitive, every occurrence
    ('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )',
     {"BusinessTitle": "Product Developer"}, "Software Engineer"),
    ('Replace([mail], "@contoso.com", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe"),
    ('Replace([mail], "@CONTOSO.COM", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe@contoso.com"),
    # 2. oldValue + template: the source goes into the template
    ('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', {"UserID": "jsmith"},
     "jsmith@contoso.com"),
    # 3. regexPattern + replacementValue with .NET group references
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )',
     {"telephoneNumber": "+91 9998887777"}, "9998887777"),
    ('Replace([mobile], , "[()\\\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"}, "+19998887777"),
    ('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', {"mailNickname": "john_doe72"}, "72"),
    # 4. regexPattern + regexGroupName + replacementValue: only the group is replaced
    ('Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )',
     {"AddressLineData": "545 Tremont Street"}, "888 Tremont Street"),
    ('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
     {"userPrincipalName": "jsmith@contoso.com"}, "jsmith"),
    # 5. regexPattern + regexGroupName + replacementAttributeName: the source when present, else the group
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , '
     '[mobile], )', {"telephoneNumber": "", "mobile": "+91 8887779999"}, "8887779999"),
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , '
     '[mobile], )', {"telephoneNumber": "+1 555", "mobile": "+91 8887779999"}, "+1 555"),
    ('Replace([mail], "x", , , "y", , )', {"mail": None}, None),
])
def test_replace_follows_entras_seven_parameters(expression: str, values: dict[str, Any], expected: Any) -> None:
    assert run(expression, **values) == expected


def test_an_expression_is_parsed_once_and_evaluated_per_user() -> None:
    compiled = compile_expression('Join(" ", [givenName], ToUpper([surname]))', "displayName")
    assert compiled.references == ("givenName", "surname")
    people = [("Ann", "Lee"), ("Bo", None), (None, "Kim")]
    assert [compiled((g, s)) for g, s in people] == ["Ann LEE", "Bo", "KIM"]
    assert compile_expression("[mail]").direct == "mail" and compiled.direct is None


def test_function_names_are_matched_whatever_their_case() -> None:
    assert run("tolower([a])", a="ABC") == "abc" and run("IsNullorEmpty([a])", a=None) is True


@pytest.mark.parametrize(("expression", "message"), [
    ("PCase([givenName])", "function PCase is not supported"),
    ("Switch([a], , \"k\")", "Switch takes at least 4 arguments, not 3"),
    ('Switch([a], , "k", "v", "k2")', "Switch needs source, defaultValue and key/value pairs"),
    ("Left([a])", "Left takes 2 arguments, not 1"),
    ("ToLower([a]", "a '\\(' is never closed"),
    ('ToLower([a]) "x"', "unexpected"),
    ('Replace([a], , "(", , "x", , )', "invalid regular expression"),
    ('Replace([a], "x")', "Replace needs oldValue"),
    ('Replace([a], , "(?<g>a)", "h", "x", , )', "regexGroupName 'h' is not a group"),
    ("Left([a], [n])", "Left's NumChars must be a constant"),
    ("SingleAppRoleAssignment([mail])", "SingleAppRoleAssignment takes \\[appRoleAssignments\\]"),
    ("Join(", "never closed"),
    ("@", "cannot read"),
])
def test_what_cannot_be_evaluated_raises_a_mapping_error_naming_attribute_and_expression(
        expression: str, message: str) -> None:
    with pytest.raises(MappingError, match=message) as caught:
        compile_expression(expression, "title")
    assert caught.value.message.startswith(f"attribute title: cannot evaluate {expression!r}")


def test_empty_arguments_are_parameters_left_out() -> None:
    tree = parse('Switch([IsSoftDeleted], , "False", "True")')
    assert type(tree.args[1]).__name__ == "Missing"  # type: ignore[union-attr]
