"""A SCIM user list is complete only when proven complete (issue 10, point 2), over HTTPS to the sandbox.

The sandbox's list fault knobs change the user set while a page is in flight, answer an empty page with
the true `totalResults`, or leave `totalResults` out. Pages of 10 overlap by 1 (k = min(10, count/10)).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest

from rcaudit.connect import auth
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient, overlap
from rcaudit.model.errors import FetchError
from rcaudit.sandbox import Sandbox, generate

FAST = RetryPolicy(max_total=1.0, backoff=0.01, max_backoff=0.05)
LIST = r"^/scim/v2/Users$"
PAGE = 10


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    """A generated company with a few dozen RingCentral accounts: several pages of 10."""
    return generate(users=60, seed=11, now=dt.datetime(2026, 11, 1, tzinfo=dt.UTC)).tenant


@pytest.fixture
def tenant(company: dict[str, Any]) -> dict[str, Any]:
    tenant = copy.deepcopy(company)
    tenant.setdefault("sandbox", {})["maxCount"] = PAGE
    return tenant


@pytest.fixture
def scim(sandbox: Sandbox) -> ScimClient:
    settings = Settings.from_env(sandbox.env())
    return ScimClient(settings, make_session(settings.ca_bundle, retry=FAST))


def ids(users: list[dict[str, Any]]) -> list[str]:
    return [str(u["id"]) for u in users]


def list_requests(sandbox: Sandbox) -> int:
    return sum(1 for m, p in sandbox.rc_server.requests_seen if m == "GET" and re.search(LIST, p))


def test_pages_overlap_and_a_quiet_list_is_read_in_one_walk(sandbox: Sandbox, scim: ScimClient) -> None:
    total = len(sandbox.state.scim_users)
    assert total > 3 * PAGE and overlap(PAGE) == 1 and overlap(100) == 10 and overlap(1) == 0
    assert ids(scim.users(PAGE)) == ids(sandbox.state.scim_users)
    step = PAGE - overlap(PAGE)
    assert list_requests(sandbox) == 1 + -(-(total - PAGE) // step)


def test_users_deleted_on_page_1_while_page_2_is_in_flight_skip_no_account(sandbox: Sandbox, scim: ScimClient) -> None:
    """The issue's case: 5 deletions before the offset shift every later account 5 places forward."""
    first_five = ids(sandbox.state.scim_users[:5])
    sandbox.faults.add("mutate", service="rc", path=LIST, nth=2, delete=5, at=0)
    users = scim.users(PAGE)
    assert ids(users) == ids(sandbox.state.scim_users), "every account that still exists, none skipped"
    assert not set(first_five) & set(ids(users))


def test_additions_and_deletions_that_cancel_out_in_the_count_are_caught(sandbox: Sandbox,
                                                                        scim: ScimClient) -> None:
    total = len(sandbox.state.scim_users)
    sandbox.faults.add("mutate", service="rc", path=LIST, nth=2, delete=5, add=5, at=0)
    users = scim.users(PAGE)
    assert len(sandbox.state.scim_users) == total, "totalResults never changed"
    assert ids(users) == ids(sandbox.state.scim_users)


def test_an_early_empty_page_discards_the_walk(sandbox: Sandbox, scim: ScimClient) -> None:
    sandbox.faults.add("empty_page", service="rc", path=LIST, nth=2)
    assert ids(scim.users(PAGE)) == ids(sandbox.state.scim_users)


def test_empty_pages_that_persist_are_a_fetch_error_with_expected_and_received(sandbox: Sandbox,
                                                                                scim: ScimClient) -> None:
    total = len(sandbox.state.scim_users)
    sandbox.faults.add("empty_page", service="rc", path=LIST, nth=2, times=100)
    with pytest.raises(FetchError) as caught:
        scim.users(PAGE)
    message = str(caught.value)
    assert f"expected {total} users" in message and "received 0" in message and "3 walks" in message
    assert list_requests(sandbox) == 4, "walk 1 stops at its empty page 2, walks 2 and 3 at their empty page 1"


def test_a_page_without_total_results_is_never_read_as_zero(sandbox: Sandbox, scim: ScimClient) -> None:
    sandbox.faults.add("omit_total", service="rc", path=LIST)
    with pytest.raises(FetchError, match=r"totalResults is absent") as caught:
        scim.users(PAGE)
    assert "received 0" in str(caught.value)


def test_a_list_that_keeps_changing_fails_after_two_re_walks(sandbox: Sandbox, scim: ScimClient) -> None:
    sandbox.faults.add("mutate", service="rc", path=LIST, delete=1, at=0)  # every page deletes one
    with pytest.raises(FetchError, match=r"could not be proven complete in 3 walks") as caught:
        scim.users(PAGE)
    assert "expected" in str(caught.value) and list_requests(sandbox) == 3 * 2


def test_a_duplicate_id_served_identically_twice_is_kept_as_served(sandbox: Sandbox, scim: ScimClient) -> None:
    twin = copy.deepcopy(sandbox.state.scim_users[3])
    twin["userName"] = "twin." + str(twin["userName"])
    sandbox.state.scim_users.insert(17, twin)  # same id, another record: what the service serves
    users = scim.users(PAGE)
    assert ids(users) == ids(sandbox.state.scim_users) and ids(users).count(str(twin["id"])) == 2
    assert twin in users and sandbox.state.scim_users[3] in users
    total = len(sandbox.state.scim_users)
    assert list_requests(sandbox) == 2 * (1 + -(-(total - PAGE) // (PAGE - 1))), "a second walk confirmed it"


def test_the_audit_fetch_never_holds_a_partial_list(sandbox: Sandbox) -> None:
    """Through `fetch_snapshot` (the audit's path): deletions mid-walk, and the snapshot still holds them all."""
    auth.reset_apps()
    sandbox.faults.add("mutate", service="rc", path=LIST, nth=2, delete=5, add=5, at=0)
    snap = fetch_snapshot(Settings.from_env(sandbox.env()), source="sandbox", progress=False, interactive=False,
                          retry=FAST)
    assert ids(snap.scim_users) == ids(sandbox.state.scim_users)
    assert any(n.startswith("SCIM user list read 2 times to prove it complete: page at startIndex 10") for n in
               snap.notes), snap.notes
