"""The tenant generator: a realistic company on both sides, with planted, labelled drift.

`generate(users=N, seed=S, now=T)` returns a tenant in the DESIGN.md file format, the findings it planted
(`truth`, following DESIGN.md "Audit rules") and the traps it set (formatting-only differences a good audit
must ignore). The truth comes from what was planted, never from the audit engine. Same seed and `now`,
same tenant.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from rcaudit.model.errors import ConfigError
from rcaudit.model.vocabulary import CORE_USER as CORE
from rcaudit.model.vocabulary import DEFAULT_ACCESS_ROLE, ENTERPRISE, Cause
from rcaudit.sandbox.tenant.people import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    DEPARTMENT_WEIGHTS,
    DEPARTMENTS,
    Country,
    Office,
    ascii_local_part,
)
from rcaudit.sandbox.tenant.sync_schema import default_job_id, default_sync_schema

GRACE = dt.timedelta(minutes=40)

# The job's state: a synchronizationStatus code, or TooManyDeletes: in Quarantine for that reason, its disables
# held by accidental deletions prevention (entra-docs accidental-deletions.md; the reason is one of
# synchronizationQuarantine's, microsoft-graph-docs-contrib resources/synchronization-synchronizationquarantine.md)
JOB_STATUSES = ("Active", "Paused", "Quarantine", "TooManyDeletes")

# provisioningErrorInfo of the failures the generator plants (as Entra's provisioning log words them)
BAD_VALUE = {"errorCode": "SystemForCrossDomainIdentityManagementBadRequest", "errorCategory": "nonServiceFailure",
             "reason": "RingCentral returned HTTP 400: Parameter [extension.contact.businessAddress.state] value is "
                       "invalid.", "additionalDetails": None, "recommendedAction": None}
DUPLICATE = {"errorCode": "SystemForCrossDomainIdentityManagementServiceIncompatible",
             "errorCategory": "nonServiceFailure", "reason": "RingCentral returned HTTP 409: duplicate email.",
             "additionalDetails": None, "recommendedAction": None}
# Skip reasons, as the skipped step describes them: out of scope (the user came back later), not entitled
OUT_OF_SCOPE = "the User is not in scope for provisioning (not assigned, or filtered out by a scoping filter)"
NOT_ENTITLED = "NotEffectivelyEntitled: the User's assignment record is not effective"

# DESIGN.md attribute paths
USERNAME, EXTERNAL_ID, DISPLAY_NAME, TITLE = "userName", "externalId", "displayName", "title"
EMAIL = 'emails[type eq "work"].value'
GIVEN, FAMILY = "name.givenName", "name.familyName"
MOBILE = 'phoneNumbers[type eq "mobile"].value'
DEPARTMENT, MANAGER = f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager"


def address_path(part: str) -> str:
    return f'addresses[type eq "work"].{part}'


TRUTH_COLUMNS = ("kind", "entra_id", "scim_id", "attribute", "cause")

# Drift the generator plants on live users, and the attribute each one shows up on.
PLANTS: dict[str, str] = {
    "rc_title": TITLE, "rc_department": DEPARTMENT, "rc_locality": address_path("locality"),
    "rc_street": address_path("streetAddress"), "rc_postal": address_path("postalCode"),
    "rc_region": address_path("region"), "rc_given": GIVEN, "rc_mobile": MOBILE, "missing_mobile": MOBILE,
    "cleared_title": TITLE, "cleared_department": DEPARTMENT, "cleared_street": address_path("streetAddress"),
    "cleared_mobile": MOBILE, "stale_surname": FAMILY, "stale_department": DEPARTMENT,
}
PLANTS_ORDER = tuple(PLANTS)
# The probable cause each plant leaves evidence for (README "Causes"): an edit in RingCentral after Entra's last
# cycle (the account's meta.lastModified), a value cleared in Entra, or a change in Entra whose export failed (a
# failed provisioning event naming the attribute).
PLANT_CAUSES: dict[str, str] = {plant: Cause.CHANGED_IN_RINGCENTRAL for plant in PLANTS} | {
    plant: Cause.CLEARED_IN_ENTRA for plant in PLANTS if plant.startswith("cleared_")} | {
    "stale_surname": Cause.EXPORT_FAILED, "stale_department": Cause.EXPORT_FAILED}


@dataclass(frozen=True, order=True)
class TruthRow:
    """A planted finding; `cause` is the probable cause its evidence points to (not part of its identity)."""

    kind: str
    entra_id: str
    scim_id: str
    attribute: str = ""
    cause: str = field(default="", compare=False)


class _GraphGroup(TypedDict):
    """A Graph group as the generator builds it: typed so that `members` stays a list it can append to."""

    id: str
    displayName: str
    members: list[str]
    createdDateTime: str


@dataclass
class _World:
    """What the build steps assemble together: the tenant's ids, groups, assignments and accounts."""

    tenant_id: str
    sp_id: str
    app_id: str
    user_role: str
    admin_role: str
    msiam: str
    long_ago: dt.datetime
    assigned_groups: dict[str, _GraphGroup]
    nested: _GraphGroup
    all_staff: _GraphGroup
    group_assigned_at: dict[str, dt.datetime]
    assignments: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    accounts_of: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    drift_index: int = 0
    deleted_seen: int = 0


@dataclass(frozen=True)
class GeneratedTenant:
    """A generated tenant, the findings planted in it and the traps set in it (trap name → ids)."""

    tenant: dict[str, Any]
    truth: tuple[TruthRow, ...]
    traps: dict[str, tuple[str, ...]]

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.truth:
            counts[row.kind] = counts.get(row.kind, 0) + 1
        return counts


def write_truth_csv(rows: Iterable[TruthRow], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRUTH_COLUMNS)
        writer.writerows((r.kind, r.entra_id, r.scim_id, r.attribute, r.cause) for r in sorted(rows))
    return path


def read_truth_csv(path: str | Path) -> list[TruthRow]:
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return [TruthRow(r["kind"], r["entra_id"], r["scim_id"], r["attribute"], r.get("cause") or "")
                for r in csv.DictReader(handle)]


def _iso(moment: dt.datetime, millis: bool = False) -> str:
    """UTC `…Z` as both services write it (`moment` is UTC already: the generator works in UTC only)."""
    naive = moment.replace(tzinfo=None)
    return naive.isoformat(timespec="milliseconds" if millis else "seconds") + "Z"


# --- people ---------------------------------------------------------------------------------------

@dataclass
class _Person:
    """One Entra user while it is being generated; `role` says what the generator plants for it."""

    id: str
    given: str
    surname: str
    country: Country
    office: Office
    department: str
    title: str | None
    nick: str
    upn: str
    mobile_typed: str | None
    mobile_e164: str | None
    country_form: str
    usage_location: str | None
    created: dt.datetime
    role: str = "live"
    manager: _Person | None = None
    is_manager: bool = False
    enabled: bool = True
    deleted_at: dt.datetime | None = None
    old_upn: str | None = None  # before a rename
    old_surname: str | None = None
    in_scope_at: dt.datetime | None = None  # when an assignment first put them in scope
    extra: dict[str, Any] = field(default_factory=dict)  # Entra-side overrides (cleared values, traps)


class _Generator:
    def __init__(self, users: int, seed: int, now: dt.datetime, profile: str, job_status: str, domain: str) -> None:
        if users < 60:  # a setting (--users, the notebook's sandbox_users): exit 2 naming it, not a traceback
            raise ConfigError(f"users {users}: a generated tenant needs at least 60 users to plant every kind of "
                              "drift")
        if profile not in ("current", "classic"):
            raise ConfigError(f"schema_profile must be 'current' or 'classic', not {profile!r}")
        if job_status not in JOB_STATUSES:
            raise ConfigError(f"job_status must be one of {JOB_STATUSES}, not {job_status!r}")
        self.n = users
        self.rng = random.Random(seed)
        self.now = now.astimezone(dt.UTC).replace(microsecond=0)
        self.profile = profile
        self.job_status = job_status
        self.held_deletes = job_status == "TooManyDeletes"
        self.quarantined = job_status in ("Quarantine", "TooManyDeletes")
        self.domain = domain
        self.few = max(1, round(users * 0.002))  # "several": 4 of each at 2,000 users, 200 at 100,000
        self.truth: list[TruthRow] = []
        self.traps: dict[str, list[str]] = {}
        self.used_upns: set[str] = set()
        self.used_nicks: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._rc_counter = 0
        self._direct_counter = 0
        # The job's clock. Its last cycle ended a few minutes ago; a quarantined job's last successful one 3 days
        # ago. A Paused or quarantined job is stopped since its last success (`stopped_since`); Entra's attempts
        # for a user are dated at the last cycle, or for a quarantined job at its latest retry (6 hours ago).
        self.cycle_end = self.now - dt.timedelta(minutes=self.rng.randrange(3, 35))
        self.last_success = self.now - dt.timedelta(days=3) if self.quarantined else self.cycle_end
        self.stopped_since = self.last_success if self.quarantined or job_status == "Paused" else None
        self.attempt_at = self.now - dt.timedelta(hours=6) if self.quarantined else self.cycle_end
        self.planted_events: list[tuple[_Person, str, dict[str, Any], tuple[str, ...]]] = []
        self._missing_seen = 0

    # ids and numbers
    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def rc_id(self) -> str:
        self._rc_counter += 1
        return f"{1_200_000 + self._rc_counter * 37 + self.rng.randrange(37)}020"

    def direct_number(self, country: Country) -> str:
        """A RingCentral direct number in the office's country, E.164, unique in the tenant."""
        self._direct_counter += 1
        digits = 7 if country.code in ("US", "SE") else 8
        return f"{country.direct_prefix}{2 * 10 ** (digits - 1) + self._direct_counter}"

    def trap(self, name: str, ident: str) -> None:
        self.traps.setdefault(name, []).append(ident)

    def finding(self, kind: str, entra_id: str = "", scim_id: str = "", attribute: str = "", cause: str = "") -> None:
        self.truth.append(TruthRow(kind, entra_id, scim_id, attribute, cause))

    def job_explains(self, *changes: dt.datetime | None) -> bool:
        """The generator's own rule: a stopped job explains a finding whose planted change (a user put in scope,
        a soft delete, one of Entra's failed attempts) is dated after the job stopped."""
        since = self.stopped_since
        return since is not None and any(c is not None and c > since for c in changes)

    def failed_attempt(self, p: _Person, action: str, error: dict[str, Any], attributes: tuple[str, ...] = ()) -> str:
        """Plant Entra's failed attempt for `p` (at the latest attempt), naming `attributes`; returns its cause."""
        self.planted_events.append((p, "failure", {"action": action, **error}, attributes))
        return Cause.JOB_NOT_RUNNING if self.job_explains(self.attempt_at) else Cause.EXPORT_FAILED

    def held_disable(self, p: _Person) -> str | None:
        """Under TooManyDeletes, Entra's disable of `p` is staged, not sent: a StagedDelete event (its status is
        not documented; rcaudit reads only the action), and the cause is deletion_threshold."""
        if not self.held_deletes:
            return None
        self.planted_events.append((p, "skipped", {"action": "StagedDelete",
                                                   "reason": "over the accidental deletions threshold"}, ()))
        return Cause.DELETION_THRESHOLD

    def touch(self, acct: dict[str, Any]) -> None:
        """An edit in RingCentral after Entra's last successful cycle: the account's meta.lastModified says so."""
        acct["meta"]["lastModified"] = _iso(self.moment(self.last_success + dt.timedelta(seconds=1),
                                                        self.now - dt.timedelta(minutes=1)), True)

    def moment(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        span = max(1, int((end - start).total_seconds()))
        return start + dt.timedelta(seconds=int(self.rng.random() * span))

    def in_grace(self) -> dt.datetime:
        """A moment well inside the grace window (5–25 minutes ago)."""
        return self.now - dt.timedelta(seconds=self.rng.randrange(5 * 60, 25 * 60))

    # phones
    def mobile(self, country: Country) -> tuple[str, str]:
        """(as typed in Entra, E.164 as RingCentral holds it)."""
        prefix = self.rng.choice(country.mobile_prefixes)
        low = 2 * 10 ** (country.mobile_digits - 1)
        rest = str(low + int(self.rng.random() * (10 ** country.mobile_digits - low)))
        national = prefix + rest
        e164 = f"+{country.dial}{national}"
        code = country.code
        if code == "US":
            a, b, c = national[:3], national[3:6], national[6:]
            forms = [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}",
                     national, e164]
        elif code == "GB":
            forms = [f"0{national[:4]} {national[4:]}", f"+44 {national[:4]} {national[4:]}",
                     f"0{national[:4]}-{national[4:7]}-{national[7:]}", f"0{national}", e164]
        elif code == "DE":
            forms = [f"0{national[:3]} {national[3:]}", f"+49 {national[:3]} {national[3:]}",
                     f"0{national[:3]}/{national[3:]}", f"0{national}", f"+49 {national[:4]} {national[4:]}"]
        else:  # SE
            a, b, c, d = national[:2], national[2:5], national[5:7], national[7:]
            forms = [f"0{a}-{b} {c} {d}", f"+46 {a} {b} {c} {d}", f"0{national}", f"0{a} {b} {c} {d}"]
        return self.rng.choice(forms), e164

    # --- population -----------------------------------------------------------------------------
    def people(self) -> list[_Person]:
        rng = self.rng
        people: list[_Person] = []
        departments = list(DEPARTMENTS)
        start = self.now - dt.timedelta(days=6 * 365)
        countries = rng.choices(COUNTRIES, COUNTRY_WEIGHTS, k=self.n)
        chosen_departments = rng.choices(departments, DEPARTMENT_WEIGHTS, k=self.n)
        for country, department in zip(countries, chosen_departments, strict=True):
            given, surname = rng.choice(country.given), rng.choice(country.surnames)
            nick = self.unique_nick(ascii_local_part(given, surname))
            mobile_typed, mobile_e164 = self.mobile(country) if rng.random() < 0.85 else (None, None)
            people.append(_Person(
                id=self.uuid(), given=given, surname=surname, country=country, office=rng.choice(country.offices),
                department=department, title=None, nick=nick,
                upn=self.unique_upn(nick), mobile_typed=mobile_typed, mobile_e164=mobile_e164,
                country_form=rng.choice(country.entra_forms),
                usage_location=country.code if rng.random() < 0.95 else None,
                created=self.moment(start, self.now - dt.timedelta(days=3)),
            ))
        self.hierarchy(people)
        return people

    def unique_nick(self, base: str) -> str:
        """`base`, else `base2`, `base3`…: counting per base keeps this O(1) with few distinct names."""
        k = self._next_suffix.get(base, 1)
        nick = base if k == 1 else f"{base}{k}"
        while nick in self.used_nicks:
            k += 1
            nick = f"{base}{k}"
        self._next_suffix[base] = k + 1
        self.used_nicks.add(nick)
        return nick

    def unique_upn(self, nick: str) -> str:
        upn = f"{nick}@{self.domain}"
        self.used_upns.add(upn.casefold())
        return upn

    def hierarchy(self, people: list[_Person]) -> None:
        """CEO → department heads → team leads → members, titles to match."""
        ceo = people[0]
        ceo.title, ceo.department, ceo.is_manager = "Chief Executive Officer", "Executive", True
        by_dept: dict[str, list[_Person]] = {}
        for person in people[1:]:
            by_dept.setdefault(person.department, []).append(person)
        for dept, staff in by_dept.items():
            members, lead_title, head_title = DEPARTMENTS[dept]
            head = staff[0]
            head.title, head.manager, head.is_manager = head_title, ceo, True
            leads = staff[1: 1 + max(1, len(staff) // 9)]
            for lead in leads:
                lead.title, lead.manager, lead.is_manager = lead_title, head, True
            for i, person in enumerate(staff[1 + len(leads):]):
                person.title = self.rng.choice(members)
                person.manager = leads[i % len(leads)]

    # --- roles ----------------------------------------------------------------------------------
    def assign_roles(self, people: list[_Person]) -> None:
        few = self.few
        plan = {
            "renamed": few, "renamed_leftover": few, "missing": few, "should_be_active": few,
            "pending_assigned": few, "pending_new": few, "pending_activation": few,
            "disabled_active": few, "disabled_inactive": few, "disabled_never": few,
            "unassigned_active": few, "unassigned_inactive": few, "unassigned_none": few,
            "default_active": few, "default_none": few, "nested_active": few, "nested_none": few,
            "deleted_active": few, "deleted_inactive": few,
            "drift": max(few * 4, round(self.n * 0.03)),
            "trap_case": few * 2, "trap_whitespace": few * 2, "trap_empty": few * 2,
        }
        candidates = [p for p in people if not p.is_manager]
        self.rng.shuffle(candidates)
        needed = sum(plan.values())
        if needed > len(candidates):
            raise ValueError(f"{self.n} users are too few for the planted drift ({needed} special users)")
        position = 0
        for role, count in plan.items():
            for person in candidates[position: position + count]:
                person.role = role
            position += count

    # --- Entra ----------------------------------------------------------------------------------
    def graph_user(self, p: _Person) -> dict[str, Any]:
        title = p.extra.get("jobTitle", p.title)
        user: dict[str, Any] = {
            "id": p.id,
            "businessPhones": [],
            "displayName": f"{p.given} {p.surname}",
            "givenName": p.given,
            "jobTitle": title,
            "mail": p.upn,
            "mobilePhone": p.extra.get("mobilePhone", p.mobile_typed),
            "officeLocation": p.office.city,
            "preferredLanguage": {"US": "en-US", "GB": "en-GB", "DE": "de-DE", "SE": "sv-SE"}[p.country.code],
            "surname": p.surname,
            "userPrincipalName": p.upn,
            "accountEnabled": p.enabled,
            "mailNickname": p.nick,
            "department": p.extra.get("department", p.department),
            "streetAddress": p.extra.get("streetAddress", p.office.street),
            "city": p.office.city,
            "state": p.extra.get("state", p.office.state),
            "postalCode": p.office.postal_code,
            "country": p.country_form,
            "usageLocation": p.usage_location,
            "userType": "Member",
            "createdDateTime": _iso(p.created),
            "employeeId": None,
        }
        if p.manager is not None:
            user["manager"] = {"id": p.manager.id}
        if p.deleted_at is not None:
            user["deletedDateTime"] = _iso(p.deleted_at)
            user["userPrincipalName"] = p.id.replace("-", "") + p.upn  # Entra's rewrite on soft delete
        return user

    # --- RingCentral ----------------------------------------------------------------------------
    def account(self, p: _Person, *, active: bool, created: dt.datetime, upn: str | None = None,
                surname: str | None = None) -> dict[str, Any]:
        """The account as Entra would have provisioned it, as RingCentral returns it."""
        rc_id = self.rc_id()
        upn = upn or p.upn
        surname = surname or p.surname
        phones = [{"type": "work", "value": self.direct_number(p.country)},
                  {"type": "other", "value": str(100 + self._rc_counter)}]
        if p.mobile_e164:
            phones.insert(0, {"type": "mobile", "value": p.mobile_e164})
        address: dict[str, Any] = {"type": "work", "primary": False, "streetAddress": p.office.street,
                                   "locality": p.office.city, "postalCode": p.office.postal_code,
                                   "country": p.country.rc_name}
        if p.office.state:
            address["region"] = p.office.state
        cap = self.last_success - dt.timedelta(minutes=1)  # Entra's last write: not after its last cycle
        modified = self.moment(created, cap) if created < cap else created
        user: dict[str, Any] = {
            "schemas": [CORE, ENTERPRISE],
            "id": rc_id,
            "externalId": p.nick,
            "meta": {"resourceType": "User", "created": _iso(created, True), "lastModified": _iso(modified, True),
                     "location": f"http://scim.ringcentral.com/scim/v2/Users/{rc_id}"},
            "userName": upn,
            "name": {"familyName": surname, "givenName": p.given},
            "active": active,
            "emails": [{"primary": False, "value": upn, "type": "work"}],
            "phoneNumbers": phones,
            "addresses": [address],
            ENTERPRISE: {"department": p.department},
        }
        if p.title is not None:
            user["title"] = p.title
        if self.profile == "classic":
            user["displayName"] = f"{p.given} {surname}"
        return user

    def provisioned(self, p: _Person) -> dt.datetime:
        return p.created + dt.timedelta(minutes=20 + int(self.rng.random() * 70))

    # --- drift ----------------------------------------------------------------------------------
    def plant_drift(self, p: _Person, acct: dict[str, Any], index: int) -> None:
        """One or two differences on a live user's account, each a labelled attribute_mismatch.

        The first plant cycles through every kind so each appears several times; a second one, on another
        attribute, is added now and then.
        """
        kinds = [k for k in PLANTS if self.applicable(k, p)]
        wanted = PLANTS_ORDER[index % len(PLANTS_ORDER)]
        first = wanted if wanted in kinds else kinds[index % len(kinds)]
        chosen = [first]
        if self.rng.random() < 0.3:
            others = [k for k in kinds if PLANTS[k] != PLANTS[first]]
            chosen.append(self.rng.choice(others))
        for plant in chosen:
            self.apply_plant(plant, p, acct)
            attributes = (PLANTS[plant],) + ((DISPLAY_NAME,) if plant == "stale_surname" and self.profile == "classic"
                                             else ())
            cause = PLANT_CAUSES[plant]
            if cause == Cause.CHANGED_IN_RINGCENTRAL:
                self.touch(acct)
            elif cause == Cause.EXPORT_FAILED:
                cause = self.failed_attempt(p, "update", BAD_VALUE, attributes)
            for attribute in attributes:
                self.finding("attribute_mismatch", p.id, acct["id"], attribute, cause)

    @staticmethod
    def applicable(plant: str, p: _Person) -> bool:
        if plant == "rc_region":
            return bool(p.office.state)
        if plant in ("rc_mobile", "missing_mobile", "cleared_mobile"):  # rc_mobile changes a mobile RingCentral has
            return bool(p.mobile_e164)
        if plant == "cleared_title":
            return p.title is not None
        return True

    def apply_plant(self, plant: str, p: _Person, acct: dict[str, Any]) -> str:
        address = acct["addresses"][0]
        if plant == "rc_title":
            acct["title"] = "Team Lead (acting)" if p.title != "Team Lead (acting)" else "Specialist"
            return TITLE
        if plant == "rc_department":
            acct[ENTERPRISE]["department"] = "Operations" if p.department != "Operations" else "Sales"
            return DEPARTMENT
        if plant == "rc_locality":
            address["locality"] = "Remote"
            return address_path("locality")
        if plant == "rc_street":
            address["streetAddress"] = "PO Box 1200"
            return address_path("streetAddress")
        if plant == "rc_postal":
            address["postalCode"] = "00000"
            return address_path("postalCode")
        if plant == "rc_region":
            address["region"] = "WA" if p.country.code == "US" else "Sachsen"
            return address_path("region")
        if plant == "rc_given":
            acct["name"]["givenName"] = p.given[:1] + "."
            return GIVEN
        if plant == "rc_mobile":
            other = self.mobile(p.country)[1]
            phones = [ph for ph in acct["phoneNumbers"] if ph["type"] != "mobile"]
            acct["phoneNumbers"] = [{"type": "mobile", "value": other}, *phones]
            return MOBILE
        if plant == "missing_mobile":
            acct["phoneNumbers"] = [ph for ph in acct["phoneNumbers"] if ph["type"] != "mobile"]
            return MOBILE
        if plant.startswith("cleared_"):  # Entra cleared it; RingCentral keeps the old value
            key = {"cleared_title": "jobTitle", "cleared_department": "department",
                   "cleared_street": "streetAddress", "cleared_mobile": "mobilePhone"}[plant]
            p.extra[key] = None
            return {"jobTitle": TITLE, "department": DEPARTMENT, "streetAddress": address_path("streetAddress"),
                    "mobilePhone": MOBILE}[key]
        if plant == "stale_department":  # changed in Entra, RingCentral not updated
            p.extra["department"] = next(d for d in DEPARTMENTS if d != p.department)
            return DEPARTMENT
        if plant == "stale_surname":
            p.old_surname = p.surname
            p.surname = self.rng.choice([s for s in p.country.surnames if s != p.surname])
            return FAMILY
        raise AssertionError(plant)

    def rename(self, p: _Person) -> None:
        """A new surname and UPN in Entra (mailNickname, hence externalId, unchanged)."""
        p.old_upn, p.old_surname = p.upn, p.surname
        p.surname = self.rng.choice([s for s in p.country.surnames if s != p.surname])
        base = ascii_local_part(p.given, p.surname)
        candidate, k = base, 1
        while f"{candidate}@{self.domain}".casefold() in self.used_upns:
            k += 1
            candidate = f"{base}{k}"
        p.upn = self.unique_upn(candidate)

    # --- build ----------------------------------------------------------------------------------
    def build(self) -> GeneratedTenant:
        """People and their roles, the tenant's ids and groups, each person on both sides, the orphans, then the
        files. Every step draws from the one random generator, in this order (same seed, same tenant)."""
        people = self.people()
        self.assign_roles(people)
        world = self.new_world()
        for p in people:
            self.place(world, p)
        self.orphans(world)
        if self.profile == "classic":
            self.managers(people, world.accounts_of)
        tenant = self.tenant(world, people)
        traps = {name: tuple(ids) for name, ids in sorted(self.traps.items())}
        return GeneratedTenant(tenant, tuple(sorted(self.truth)), traps)

    def new_world(self) -> _World:
        """The tenant's ids; its groups (one assigned per department, a nested one inside Customer Support, an
        unassigned "All Staff") and the groups' assignments."""
        tenant_id = self.uuid()
        sp_id, app_id = self.uuid(), self.uuid()
        user_role, admin_role, msiam = self.uuid(), self.uuid(), self.uuid()
        long_ago = self.now - dt.timedelta(days=2 * 365)
        assigned_groups: dict[str, _GraphGroup] = {
            dept: {"id": self.uuid(), "displayName": f"RingCentral - {dept}", "members": [],
                   "createdDateTime": _iso(long_ago - dt.timedelta(days=30))}
            for dept in [*DEPARTMENTS, "Executive"]}
        nested: _GraphGroup = {"id": self.uuid(), "displayName": "RingCentral - Contractors (nested)", "members": [],
                              "createdDateTime": _iso(long_ago)}
        assigned_groups["Customer Support"]["members"].append(nested["id"])
        all_staff: _GraphGroup = {"id": self.uuid(), "displayName": "All Staff", "members": [],
                                  "createdDateTime": _iso(long_ago)}
        group_assigned_at = {g["id"]: self.moment(long_ago, long_ago + dt.timedelta(days=20))
                             for g in assigned_groups.values()}
        world = _World(tenant_id=tenant_id, sp_id=sp_id, app_id=app_id, user_role=user_role, admin_role=admin_role,
                       msiam=msiam, long_ago=long_ago, assigned_groups=assigned_groups, nested=nested,
                       all_staff=all_staff, group_assigned_at=group_assigned_at)
        for group in assigned_groups.values():
            self.assign(world, group["id"], "Group", user_role, group_assigned_at[group["id"]], group["displayName"])
        return world

    def assign(self, world: _World, principal: str, kind: str, role: str, when: dt.datetime, name: str) -> None:
        world.assignments.append({
            "id": self.uuid().replace("-", "")[:22] + "AQ", "deletedDateTime": None, "appRoleId": role,
            "createdDateTime": _iso(when), "principalDisplayName": name, "principalId": principal,
            "principalType": kind, "resourceDisplayName": "RingCentral", "resourceId": world.sp_id,
        })

    def put_in_scope(self, world: _World, p: _Person, when: dt.datetime | None = None,
                     via_group: bool | None = None) -> None:
        """Through the department's assigned group (most people), else a direct assignment at `when`."""
        if via_group is None:
            via_group = self.rng.random() < 0.6
        if via_group and when is None:
            group = world.assigned_groups.get(p.department, world.assigned_groups["Executive"])
            group["members"].append(p.id)
            p.in_scope_at = world.group_assigned_at[group["id"]]
        else:
            at = when or self.moment(max(p.created, world.long_ago), self.now - dt.timedelta(days=2))
            role = world.admin_role if p.is_manager and self.rng.random() < 0.3 else world.user_role
            self.assign(world, p.id, "User", role, at, f"{p.given} {p.surname}")
            p.in_scope_at = at

    @staticmethod
    def add_account(world: _World, p: _Person, acct: dict[str, Any]) -> dict[str, Any]:
        world.accounts.append(acct)
        world.accounts_of.setdefault(p.id, []).append(acct)
        return acct

    def place(self, world: _World, p: _Person) -> None:
        """One person on both sides, as their role says, with the finding or trap it plants."""
        if not p.role.startswith("deleted_"):
            world.all_staff["members"].append(p.id)
        role = p.role
        created = self.provisioned(p)
        if role in ("live", "drift", "trap_case", "trap_whitespace", "trap_empty"):
            self.place_live(world, p, created)
        elif role in ("renamed", "renamed_leftover"):
            self.place_renamed(world, p, created)
        elif role in ("missing", "should_be_active") or role.startswith("pending_"):
            self.place_provisioning(world, p, created)
        elif role.startswith("disabled_"):
            self.place_disabled(world, p, created)
        elif role.startswith("default_"):
            self.place_default_access(world, p, created)
        elif role.startswith(("unassigned_", "nested_")):
            self.place_out_of_scope(world, p, created)
        elif role.startswith("deleted_"):
            self.place_deleted(world, p, created)
        else:  # pragma: no cover - every role is handled above
            raise AssertionError(role)
        if world.accounts_of.get(p.id) and p.role not in ("renamed_leftover",):
            self.trap("rc_owned_phones", world.accounts_of[p.id][0]["id"])

    def place_live(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """A live user with an account: clean, drifted, or one of the formatting traps."""
        role = p.role
        self.put_in_scope(world, p)
        acct = self.add_account(world, p, self.account(p, active=True, created=created))
        if role == "drift":
            self.plant_drift(p, acct, world.drift_index)
            world.drift_index += 1
        elif role == "trap_case":
            local, _, host = acct["userName"].partition("@")
            acct["userName"] = f"{local.title()}@{host.upper()}"
            acct["emails"][0]["value"] = acct["userName"]
            self.trap("case", p.id)
        elif role == "trap_whitespace":
            if p.title:
                p.extra["jobTitle"] = "  " + p.title.replace(" ", "  ") + " "
            acct["addresses"][0]["streetAddress"] = p.office.street + "  "
            self.trap("whitespace", p.id)
        elif role == "trap_empty":
            self.trap_empty(p, acct)
        if p.mobile_typed and p.mobile_typed != p.mobile_e164 and role == "live":
            self.trap("phone_format", p.id)
        if p.country_form != p.country.rc_name and role == "live":
            self.trap("country_code_vs_name", p.id)

    def trap_empty(self, p: _Person, acct: dict[str, Any]) -> None:
        """Empty on one side, absent on the other: not drift."""
        if p.title is None or self.rng.random() < 0.5:
            p.extra["jobTitle"], p.title = None, None
            acct["title"] = ""
        if not p.office.state:
            acct["addresses"][0]["region"] = ""
        p.extra["streetAddress"] = None
        acct["addresses"][0].pop("streetAddress")
        if not p.mobile_e164:
            p.extra["mobilePhone"] = ""
        self.trap("empty_vs_absent", p.id)

    def place_renamed(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Renamed in Entra: the account still has the old names, or a second account was made for the new ones."""
        self.put_in_scope(world, p)
        self.rename(p)
        if p.role == "renamed":
            acct = self.add_account(world, p, self.account(p, active=True, created=created, upn=p.old_upn,
                                                           surname=p.old_surname))
            attributes = (USERNAME, EMAIL, FAMILY) + ((DISPLAY_NAME,) if self.profile == "classic" else ())
            cause = self.failed_attempt(p, "update", DUPLICATE, attributes)  # the new name's e-mail is taken
            for attribute in attributes:
                self.finding("attribute_mismatch", p.id, acct["id"], attribute, cause)
            return
        old = self.add_account(world, p, self.account(p, active=self.rng.random() < 0.5, created=created,
                                                      upn=p.old_upn, surname=p.old_surname))
        new = self.add_account(world, p, self.account(p, active=True, created=created + dt.timedelta(days=30)))
        for acct in (old, new):
            self.finding("ambiguous_match", p.id, acct["id"], cause=Cause.RENAME_LEFTOVER)

    def place_provisioning(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Live users Entra has not (fully) provisioned: missing, inactive, or still inside the grace window."""
        role = p.role
        if role == "missing":
            self.place_missing(world, p)
        elif role == "should_be_active":
            self.put_in_scope(world, p)
            acct = self.add_account(world, p, self.account(p, active=False, created=created))
            self._missing_seen += 1
            if self._missing_seen % 2:
                cause = self.failed_attempt(p, "update", BAD_VALUE)
            else:  # deactivated in RingCentral after Entra's last cycle
                self.touch(acct)
                cause = Cause.DEACTIVATED_IN_RINGCENTRAL
            self.finding("should_be_active", p.id, acct["id"], cause=cause)
        elif role == "pending_assigned":
            self.put_in_scope(world, p, when=self.in_grace())
            self.trap("pending", p.id)
        elif role == "pending_new":
            p.created = self.in_grace()
            self.put_in_scope(world, p, via_group=True)
            self.trap("pending", p.id)
        else:  # pending_activation
            self.put_in_scope(world, p)
            acct = self.add_account(world, p, self.account(p, active=False, created=self.in_grace()))
            self.trap("pending_activation", acct["id"])

    def place_missing(self, world: _World, p: _Person) -> None:
        """Live and in scope, no account: Entra's create failed, or it skipped them as out of scope (they came
        back into scope later). While the job is stopped, they were put in scope after it stopped."""
        if self.quarantined and self.stopped_since is not None:
            self.put_in_scope(world, p, when=self.moment(self.stopped_since + dt.timedelta(hours=1),
                                                         self.now - dt.timedelta(hours=1)))
        else:
            self.put_in_scope(world, p)
        self._missing_seen += 1
        if self._missing_seen % 2:
            cause = self.failed_attempt(p, "create", DUPLICATE)
        else:
            self.planted_events.append((p, "skipped", {"action": "other", "reason": OUT_OF_SCOPE}, ()))
            cause = Cause.CAME_BACK_INTO_SCOPE
        if self.job_explains(max(p.created, p.in_scope_at or p.created)):
            cause = Cause.JOB_NOT_RUNNING
        self.finding("missing_in_target", p.id, cause=cause)

    def place_disabled(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Assigned but disabled (accountEnabled false): an active account should be inactive."""
        p.enabled = False
        self.put_in_scope(world, p)
        if p.role == "disabled_never":
            self.trap("disabled_never_provisioned", p.id)
            return
        acct = self.add_account(world, p, self.account(p, active=p.role == "disabled_active", created=created))
        if p.role == "disabled_active":
            self.finding("should_be_inactive", p.id, acct["id"], cause=self.held_disable(p) or Cause.DISABLED)
        else:
            self.trap("correctly_deactivated", acct["id"])

    def place_default_access(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Default Access is provisioned like any role: Entra stopped skipping it in July 2020 (its troubleshooting
        page "No users are being provisioned"), the 2019 RingCentral tutorial predates that. So an active account
        is right and a missing one is missing."""
        role = self.rng.choice((world.msiam, DEFAULT_ACCESS_ROLE))
        p.in_scope_at = self.moment(max(p.created, world.long_ago), self.now - dt.timedelta(days=2))
        self.assign(world, p.id, "User", role, p.in_scope_at, f"{p.given} {p.surname}")
        if p.role == "default_active":
            self.add_account(world, p, self.account(p, active=True, created=created))
            self.trap("default_access_provisioned", p.id)
            return
        # a broken assignment record: Entra skips the user as not effectively entitled (the troubleshooting page)
        self.planted_events.append((p, "skipped", {"action": "other", "reason": NOT_ENTITLED}, ()))
        cause = Cause.JOB_NOT_RUNNING if self.job_explains(max(p.created, p.in_scope_at)) else Cause.SKIPPED_BY_ENTRA
        self.finding("missing_in_target", p.id, cause=cause)

    def place_out_of_scope(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Unassigned, or only in the nested group: an active account should be inactive."""
        if p.role.startswith("nested_"):
            world.nested["members"].append(p.id)
        if p.role.endswith("_active"):
            acct = self.add_account(world, p, self.account(p, active=True, created=created))
            cause = Cause.NESTED_ONLY if p.role.startswith("nested_") else Cause.UNASSIGNED
            self.finding("should_be_inactive", p.id, acct["id"], cause=self.held_disable(p) or cause)
        elif p.role.endswith("_inactive"):
            acct = self.add_account(world, p, self.account(p, active=False, created=created))
            self.trap("correctly_deactivated", acct["id"])

    def place_deleted(self, world: _World, p: _Person, created: dt.datetime) -> None:
        """Soft-deleted: gone from /users, groups and assignments; the account may still be active."""
        p.deleted_at = self.moment(self.now - dt.timedelta(days=25), self.now - dt.timedelta(days=1))
        acct = self.add_account(world, p, self.account(p, active=p.role == "deleted_active", created=created))
        world.deleted_seen += 1
        if world.deleted_seen % 2 == 0:  # an account made before externalId was mapped: it pairs on userName only
            acct.pop("externalId", None)
        if p.role == "deleted_active":
            cause = Cause.JOB_NOT_RUNNING if self.job_explains(p.deleted_at) else Cause.SOFT_DELETED
            cause = self.held_disable(p) or cause
            self.finding("should_be_inactive", p.id, acct["id"], cause=cause)
        else:
            self.trap("correctly_deactivated", acct["id"])

    def orphans(self, world: _World) -> None:
        """Accounts of people long gone from Entra (hard-deleted), some still active, some made by hand."""
        rng = self.rng
        for i in range(self.few * 2):
            country = rng.choice(COUNTRIES)
            given, surname = rng.choice(country.given), rng.choice(country.surnames)
            nick = self.unique_nick("former." + ascii_local_part(given, surname))
            ghost = _Person(id="", given=given, surname=surname, country=country, office=country.offices[0],
                            department=rng.choice(list(DEPARTMENTS)), title="Contractor", nick=nick,
                            upn=self.unique_upn(nick), mobile_typed=None, mobile_e164=None,
                            country_form=country.code, usage_location=country.code, created=world.long_ago)
            acct = self.account(ghost, active=i % 2 == 0, created=world.long_ago + dt.timedelta(days=i))
            if rng.random() < 0.3:
                acct.pop("externalId")  # created by hand in RingCentral
            world.accounts.append(acct)
            if acct["active"]:
                self.finding("orphan_in_target", "", acct["id"], cause=Cause.DELETED_USER_LEFTOVER
                             if acct.get("externalId") else Cause.CREATED_IN_RINGCENTRAL)
            else:
                self.trap("inactive_orphan", acct["id"])

    def tenant(self, world: _World, people: list[_Person]) -> dict[str, Any]:
        """The tenant file (DESIGN.md format): Graph's side, RingCentral's, the sandbox's profile."""
        live_users = [self.graph_user(p) for p in people if p.deleted_at is None]
        deleted_users = [self.graph_user(p) for p in people if p.deleted_at is not None]
        self.rng.shuffle(world.accounts)  # RingCentral lists in its own order, not Entra's
        groups = [*world.assigned_groups.values(), world.nested, world.all_staff]
        job_id = default_job_id(world.tenant_id)
        return {
            "graph": {
                "tenantId": world.tenant_id,
                "servicePrincipal": self.service_principal(world),
                "users": live_users,
                "deletedUsers": deleted_users,
                "groups": groups,
                "appRoleAssignments": world.assignments,
                "synchronizationJob": self.job(job_id),
                "provisioningEvents": self.events(people, world.accounts_of, world.tenant_id, job_id, world.sp_id),
            },
            "scim": {"Users": world.accounts},
            "sandbox": {"schemaProfile": self.profile},
        }

    @staticmethod
    def service_principal(world: _World) -> dict[str, Any]:
        """The RingCentral gallery app's service principal with its three roles (User, Admin, msiam_access)."""
        return {
            "id": world.sp_id, "appId": world.app_id, "displayName": "RingCentral", "accountEnabled": True,
            "servicePrincipalType": "Application", "appRoleAssignmentRequired": True,
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
            "appRoles": [
                {"id": world.user_role, "displayName": "User", "value": "User", "isEnabled": True,
                 "allowedMemberTypes": ["User"], "description": "User", "origin": "Application"},
                {"id": world.admin_role, "displayName": "Admin", "value": "Admin", "isEnabled": True,
                 "allowedMemberTypes": ["User"], "description": "Admin", "origin": "Application"},
                {"id": world.msiam, "displayName": "msiam_access", "value": None, "isEnabled": True,
                 "allowedMemberTypes": ["User"], "description": "msiam_access", "origin": "Application"},
            ],
        }

    def managers(self, people: list[_Person], accounts_of: dict[str, list[dict[str, Any]]]) -> None:
        """Classic profile: RingCentral holds the manager's account id; some were changed in RingCentral, and some
        users were provisioned before their manager came into scope (the manager's account is the newer one), so
        Entra never set theirs (its known issue: only a restart does)."""
        drift_budget = later_budget = self.few * 2
        for p in people:
            mine = accounts_of.get(p.id, [])
            if len(mine) != 1:
                continue
            acct = mine[0]
            boss = accounts_of.get(p.manager.id, []) if p.manager else []
            expected = boss[0]["id"] if len(boss) == 1 else None
            live_paired = p.deleted_at is None and p.enabled and p.role not in (
                "unassigned_active", "unassigned_inactive", "nested_active")
            if expected is not None:
                acct[ENTERPRISE]["manager"] = {"value": expected}
                if live_paired and p.role == "drift" and later_budget > 0 and \
                        boss[0]["meta"]["created"] > acct["meta"]["created"]:
                    del acct[ENTERPRISE]["manager"]
                    later_budget -= 1
                    self.finding("attribute_mismatch", p.id, acct["id"], MANAGER, Cause.MANAGER_SCOPED_LATER)
                elif live_paired and p.role == "drift" and drift_budget > 0:
                    acct[ENTERPRISE]["manager"] = {"value": self.rc_id()}
                    self.touch(acct)
                    drift_budget -= 1
                    self.finding("attribute_mismatch", p.id, acct["id"], MANAGER, Cause.CHANGED_IN_RINGCENTRAL)

    def job(self, job_id: str) -> dict[str, Any]:
        last = self.cycle_end
        status: dict[str, Any] = {
            "code": "Quarantine" if self.quarantined else self.job_status, "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "lastExecution": {"activityIdentifier": None, "countEntitled": 0, "countExported": 0,
                              "timeBegan": _iso(last - dt.timedelta(minutes=2)), "timeEnded": _iso(last),
                              "state": "Succeeded", "error": None},
            "lastSuccessfulExecution": {"timeBegan": _iso(last - dt.timedelta(minutes=2)), "timeEnded": _iso(last),
                                        "state": "Succeeded", "error": None},
            "lastSuccessfulExecutionWithExports": None, "progress": [], "quarantine": None,
            "steadyStateFirstAchievedTime": _iso(self.now - dt.timedelta(days=600)),
            "steadyStateLastAchievedTime": _iso(last), "synchronizedEntryCountByType": [],
            "troubleshootingUrl": None,
        }
        if self.held_deletes:
            began = self.now - dt.timedelta(days=3)
            status["lastSuccessfulExecution"]["timeEnded"] = _iso(began)
            status["quarantine"] = {
                "currentBegan": _iso(began), "nextAttempt": None, "reason": "TooManyDeletes",
                "seriesBegan": _iso(began), "seriesCount": 1, "error": None}
        elif self.job_status == "Quarantine":
            began = self.now - dt.timedelta(days=3)
            status["countSuccessiveCompleteFailures"] = 12
            status["lastSuccessfulExecution"]["timeEnded"] = _iso(began)
            status["quarantine"] = {
                "currentBegan": _iso(self.now - dt.timedelta(hours=6)), "nextAttempt": _iso(self.now
                                                                                           + dt.timedelta(hours=18)),
                "reason": "EncounteredQuarantineException", "seriesBegan": _iso(began), "seriesCount": 4,
                "error": {"code": "CredentialsInvalid", "tenantActionable": True,
                          "message": "RingCentral rejected the provisioning service's credentials (HTTP 401)."},
            }
        return {
            "id": job_id, "templateId": "ringCentral",
            "schedule": {"expiration": None, "interval": "PT40M",
                         "state": "Disabled" if self.job_status == "Paused" else "Active"},
            "status": status,
            "synchronizationJobSettings": [{"name": "QuarantineTooManyDeletesThreshold", "value": "500"}],
            "schema": default_sync_schema(self.profile),
        }

    def events(self, people: list[_Person], accounts_of: dict[str, list[dict[str, Any]]], tenant_id: str,
               job_id: str, sp_id: str) -> list[dict[str, Any]]:
        """Provisioning log: successes for a sample of users (none after the last successful cycle), then the
        attempts planted for findings (failures naming what Entra tried to write, skips with their reason), dated
        at the latest attempt so they are each user's latest event."""
        rng = self.rng
        sample = rng.sample(people, min(len(people), 300))
        latest_success = min(self.now - dt.timedelta(minutes=45), self.last_success)
        context = (accounts_of, tenant_id, job_id, sp_id)
        events = [self.event(p, context, self.moment(self.now - dt.timedelta(days=7), latest_success), "update",
                             "success", None, (DEPARTMENT,)) for p in sample]
        for p, status, detail, attributes in self.planted_events:
            error = {k: v for k, v in detail.items() if k != "action"} if status == "failure" else None
            events.append(self.event(p, context, self.attempt_at, detail["action"], status, error, attributes,
                                     skip_reason=detail.get("reason", "") if status == "skipped" else ""))
        events.sort(key=lambda e: e["activityDateTime"], reverse=True)
        return events

    def event(self, p: _Person, context: tuple[Any, str, str, str], when: dt.datetime, action: str, status: str,
              error: dict[str, Any] | None, attributes: tuple[str, ...], skip_reason: str = "") -> dict[str, Any]:
        """One provisioningObjectSummary as Graph returns it (the skip reason in the skipped step's description)."""
        accounts_of, tenant_id, job_id, sp_id = context
        acct = (accounts_of.get(p.id) or [{}])[0]
        last_step = {"name": "EntryExport", "provisioningStepType": "export", "status": status, "details": {},
                     "description": f"{'Failed to' if status == 'failure' else 'Did'} {action} User '{p.upn}' in "
                                    "RingCentral"}
        if status == "skipped":
            last_step = {"name": "EntrySynchronizationSkipped", "provisioningStepType": "scoping", "status": status,
                         "description": f"User '{p.upn}' was skipped: {skip_reason}", "details": {}}
        written = {DEPARTMENT: p.department}
        return {
            "id": self.uuid(), "activityDateTime": _iso(when), "tenantId": tenant_id, "jobId": job_id,
            "cycleId": self.uuid(), "changeId": self.uuid(), "provisioningAction": action,
            "durationInMilliseconds": self.rng.randrange(300, 4000),
            "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
            "servicePrincipal": {"id": sp_id, "displayName": "RingCentral"},
            "sourceSystem": {"id": self.uuid(), "displayName": "Microsoft Entra ID", "details": {}},
            "targetSystem": {"id": self.uuid(), "displayName": "RingCentral", "details": {
                "ServicePrincipalId": sp_id, "ServicePrincipalDisplayName": "RingCentral"}},
            "sourceIdentity": {"id": p.id, "displayName": f"{p.given} {p.surname}", "identityType": "User",
                               "details": {}},
            "targetIdentity": {"id": acct.get("id", ""), "displayName": acct.get("userName", ""),
                               "identityType": "User", "details": {}},
            "provisioningStatusInfo": {"status": status, "errorInformation": error},
            "provisioningSteps": [
                {"name": "EntryImport", "provisioningStepType": "import", "status": "success",
                 "description": f"Retrieved {p.upn} from Microsoft Entra ID", "details": {}},
                last_step,
            ],
            # the target attributes Entra wrote (or tried to): the value only where it is not personal
            "modifiedProperties": [{"displayName": a, "oldValue": None,
                                    "newValue": written.get(a) if status == "success" else None} for a in attributes],
        }


def generate(users: int = 2000, seed: int = 0, now: dt.datetime | None = None, schema_profile: str = "current",
             job_status: str = "Active", domain: str = "contoso.example") -> GeneratedTenant:
    """A tenant of `users` Entra users (live, disabled, out of scope, soft-deleted) and their RingCentral side."""
    moment = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    generator = _Generator(users, seed, moment, schema_profile, job_status, domain)
    collecting = gc.isenabled()
    gc.disable()  # millions of small dicts, none cyclic: the collector's passes would cost more than the work
    try:
        return generator.build()
    finally:
        if collecting:
            gc.enable()
