"""RingCentral's check of a user's business address: a known country, and a state of that country.

RingCentral refuses a state it does not know with `400 invalidValue` "Parameter
[extension.contact.businessAddress.state] value is invalid." (quoted from an Azure provisioning log,
RC-COMM in the reference). The table RingCentral checks against is not published, so the sandbox
uses a real one: ISO 3166-1 countries and ISO 3166-2 subdivisions from `pycountry`.

Unverified (no RingCentral document says, so these are the sandbox's guesses):
- that the state is checked against the address's own country, and against the account's country
  when the address names none (`sandbox.accountCountry`, default `US`);
- that both a subdivision's code (`CA`, `US-CA`) and its name (`California`) pass, case-insensitively;
- that a country is accepted by ISO code (alpha-2 or alpha-3) or English name, and that an unknown
  country is refused with the same body naming `businessAddress.country`;
- that a country without ISO subdivisions (or one RingCentral keeps none for) accepts any state;
- that only the `work` address is checked (it is the only one RingCentral stores).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pycountry

from rcaudit.sandbox.servers.scim_patch import PatchError

DEFAULT_ACCOUNT_COUNTRY = "US"
STATE_FIELD = "extension.contact.businessAddress.state"
COUNTRY_FIELD = "extension.contact.businessAddress.country"


def invalid_parameter(field: str) -> PatchError:
    """RingCentral's refusal of one stored field, word for word as its provisioning logs show it."""
    return PatchError("invalidValue", f"Parameter [{field}] value is invalid.")


@lru_cache(maxsize=512)
def country_code(value: str) -> str | None:
    """The ISO alpha-2 code of a country given by code or English name; None when unknown."""
    try:
        return str(pycountry.countries.lookup(value.strip()).alpha_2)
    except LookupError:
        return None


@lru_cache(maxsize=64)
def _states(code: str) -> frozenset[str]:
    """Every accepted spelling (code, code without the country prefix, name), case-folded; a name
    such as `Ceredigion [Sir Ceredigion]` or `Stockholms län [SE-01]` also passes as either part."""
    names: set[str] = set()
    for sub in pycountry.subdivisions.get(country_code=code) or ():
        name, _, alias = sub.name.partition(" [")
        names.update(n.strip().casefold() for n in (sub.code, sub.code.split("-", 1)[1], sub.name, name,
                                                     alias.rstrip("]")) if n.strip())
    return frozenset(names)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def check_addresses(user: dict[str, Any], account_country: str | None) -> None:
    """Raise RingCentral's `invalidValue` when the work address has an unknown country or a state
    that is not a subdivision of its country (the account's country when it names none)."""
    for address in user.get("addresses") or []:
        if not isinstance(address, dict) or str(address.get("type", "work")).lower() != "work":
            continue
        country = _text(address.get("country"))
        code = country_code(country) if country else country_code(account_country or DEFAULT_ACCOUNT_COUNTRY)
        if country and code is None:
            raise invalid_parameter(COUNTRY_FIELD)
        region = _text(address.get("region"))
        if region and code is not None:
            states = _states(code)
            if states and region.casefold() not in states:
                raise invalid_parameter(STATE_FIELD)


def work_address(user: dict[str, Any]) -> dict[str, Any] | None:
    """The user's work address (what a write is checked on), if it has one."""
    for address in user.get("addresses") or []:
        if isinstance(address, dict) and str(address.get("type", "work")).lower() == "work":
            return address
    return None
