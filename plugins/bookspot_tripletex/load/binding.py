"""What was checked in a tenant's Tripletex company, kept in staging (`tripletex_bindings`) and checked
again only when something may have changed.

Kept: the connection it was checked through (a keyed fingerprint, `connection_fingerprint`), the company
`whoAmI` named, the mapping version whose accounts and VAT types the activation check passed, and the
accounting periods last read. Checked again before the next post when

* the mapping version in force changes (its first night: `mapping_current` is false);
* the connection changes (another fingerprint: base URL, company id or a token changed), so that a
  re-pointed connection is checked before its first post and one tenant's data never reaches another
  company;
* Tripletex refused a posting naming an account, a VAT type or the company (`request_recheck`);
* what was checked is older than `settings.tripletex_recheck_days()` (7 days).

A client that cannot tell its fingerprint (a test double) is checked as before: `whoAmI` before each
post, the activation check once per mapping version.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update

from bookspot_tripletex import settings
from bookspot_tripletex.load.errors import WrongCompany
from bookspot_tripletex.staging.schema import tripletex_bindings
from bookspot_tripletex.staging.upsert import insert_ignore

log = logging.getLogger(__name__)

WHO_AM_I_FIELDS = "companyId,company(id,name)"


@dataclass(frozen=True)
class Binding:
    tenant: str
    fingerprint: str
    company_id: int | None
    company: str | None
    checked_at: dt.datetime
    mapping_version_id: int | None
    mapping_checked_at: dt.datetime | None
    recheck: str | None
    periods: list[dict[str, Any]] | None
    periods_read_at: dt.datetime | None


def fingerprint(client: Any) -> str | None:
    """The client's connection fingerprint under the deployment's key; None when it cannot tell."""
    method = getattr(type(client), "connection_fingerprint", None)
    if method is None:
        return None
    try:
        value = client.connection_fingerprint(settings.connection_fingerprint_key())
    except Exception as exc:  # a client that cannot tell is checked every time
        log.warning("no connection fingerprint (%s); the company is checked before each post", exc)
        return None
    return value if isinstance(value, str) and value else None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def load_binding(engine: Engine, tenant: str) -> Binding | None:
    with engine.connect() as conn:
        row = conn.execute(select(tripletex_bindings).where(tripletex_bindings.c.tenant_id == tenant)).first()
    if row is None:
        return None
    return Binding(
        tenant=row.tenant_id,
        fingerprint=row.fingerprint,
        company_id=row.company_id,
        company=row.company,
        checked_at=_aware(row.checked_at) or dt.datetime.min.replace(tzinfo=dt.UTC),
        mapping_version_id=row.mapping_version_id,
        mapping_checked_at=_aware(row.mapping_checked_at),
        recheck=row.recheck,
        periods=row.periods,
        periods_read_at=_aware(row.periods_read_at),
    )


def _fresh(at: dt.datetime | None, now: dt.datetime) -> bool:
    return at is not None and now - at < dt.timedelta(days=settings.tripletex_recheck_days())


def _usable(binding: Binding | None, print_: str | None) -> bool:
    """The binding was made through this very connection and nothing asked for a re-check since."""
    return (
        binding is not None
        and print_ is not None
        and binding.fingerprint == print_
        and binding.recheck is None
    )


def company_current(engine: Engine, tenant: str, client: Any, now: dt.datetime | None = None) -> int | None:
    """The company staging's binding says this client reaches, when that needs no new check; else None."""
    now = now or dt.datetime.now(dt.UTC)
    binding = load_binding(engine, tenant)
    if binding is None or not _usable(binding, fingerprint(client)) or not _fresh(binding.checked_at, now):
        return None
    return binding.company_id


def mapping_current(
    engine: Engine, tenant: str, mapping_version_id: int, client: Any, now: dt.datetime | None = None
) -> bool:
    """Whether the activation check of this mapping version passed through this very connection, for
    this company, recently enough, and nothing asked for a re-check since."""
    now = now or dt.datetime.now(dt.UTC)
    binding = load_binding(engine, tenant)
    return (
        binding is not None
        and _usable(binding, fingerprint(client))
        and binding.mapping_version_id == mapping_version_id
        and _fresh(binding.mapping_checked_at, now)
        and _fresh(binding.checked_at, now)
    )


def record(
    engine: Engine,
    tenant: str,
    client: Any,
    company_id: int | None,
    company: str | None = None,
    mapping_version_id: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Keep what was just checked: the company `whoAmI` named through this connection and, after a
    passing activation check, the mapping version. A new fingerprint or company forgets the mapping
    version checked before (its ids belong to the other company), and the periods read."""
    print_ = fingerprint(client)
    if print_ is None:
        return
    now = now or dt.datetime.now(dt.UTC)
    before = load_binding(engine, tenant)
    same = before is not None and before.fingerprint == print_ and before.company_id == company_id
    asked = before is not None and before.recheck is not None
    values: dict[str, Any] = {
        "fingerprint": print_,
        "company_id": company_id,
        "company": (company or (before.company if same and before else None) or "")[:300] or None,
        "checked_at": now,
        "recheck": None,
        "updated_at": now,
    }
    if mapping_version_id is not None:
        values.update(mapping_version_id=mapping_version_id, mapping_checked_at=now)
    elif not same or asked:
        values.update(mapping_version_id=None, mapping_checked_at=None)
    if not same:
        values.update(periods=None, periods_read_at=None)
    with engine.begin() as conn:
        if before is None:
            insert_ignore(conn, tripletex_bindings, [{"tenant_id": tenant, **values}], ["tenant_id"])
        conn.execute(
            update(tripletex_bindings).where(tripletex_bindings.c.tenant_id == tenant).values(**values)
        )


def request_recheck(engine: Engine, tenant: str, reason: str) -> None:
    """Tripletex refused a posting for a reason that names the mapping or the company: the next post
    checks the company, the accounts and the VAT types again first."""
    log.warning("%s: Tripletex's company, accounts and VAT types are checked again: %s", tenant, reason)
    with engine.begin() as conn:
        conn.execute(
            update(tripletex_bindings)
            .where(tripletex_bindings.c.tenant_id == tenant)
            .values(recheck=reason[:2000], updated_at=dt.datetime.now(dt.UTC))
        )


def ensure_company(
    engine: Engine,
    tenant: Any,
    client: Any,
    row_company: int | None = None,
    what: str | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """The company the connection reaches: from staging when the same connection was checked recently
    and nothing asked for a re-check, else from `whoAmI` (then kept). Refused (`WrongCompany`) when it
    is not the tenant's, not the one the row was begun in, or, for a connection whose fingerprint
    changed, not the company activation bound the tenant to (unless the tenant file names the new one)."""
    now = now or dt.datetime.now(dt.UTC)
    known = company_current(engine, tenant.tenant, client, now)
    if known is not None:
        actual: int | None = known
    else:
        before = load_binding(engine, tenant.tenant)
        me = client.who_am_i(fields=WHO_AM_I_FIELDS)
        value = me.get("companyId")
        actual = int(value) if value is not None else None
        moved = company_moved(before, actual, tenant.tripletex_company_id)
        if moved is not None:
            raise WrongCompany(
                f"{tenant.tenant}: {moved}; fix the connection {tenant.tripletex_conn_id!r}, or name the new "
                "company (tripletex_company_id) in the tenant file and import it. Nothing was posted."
            )
        _compare(tenant, actual, row_company, what)
        company = me.get("company") if isinstance(me.get("company"), dict) else {}
        record(engine, tenant.tenant, client, actual, (company or {}).get("name"), now=now)
        return actual
    _compare(tenant, actual, row_company, what)
    return actual


def company_moved(before: Binding | None, actual: int | None, expected: int | None) -> str | None:
    """Why a connection may not be used as it stands: it now reaches another company than the one the
    tenant was bound to, and the tenant file does not name that company; else None."""
    if expected is not None or before is None or before.company_id is None or actual is None:
        return None
    if actual == before.company_id:
        return None
    return (
        f"the Tripletex connection now reaches company {actual}, but the tenant was checked and posted in "
        f"company {before.company_id}"
    )


def _compare(tenant: Any, actual: int | None, row_company: int | None, what: str | None) -> None:
    expected = tenant.tripletex_company_id
    if expected is not None and actual is not None and int(expected) != actual:
        raise WrongCompany(
            f"{tenant.tenant}: the Tripletex connection reaches company {actual}, but the tenant's company "
            f"is {expected}; fix the connection {tenant.tripletex_conn_id!r}. Nothing was posted."
        )
    if row_company is not None and actual is not None and row_company != actual:
        raise WrongCompany(
            f"{what} was begun in company {row_company}, but the connection now reaches "
            f"company {actual}. Nothing was posted."
        )


def saved_periods(engine: Engine, tenant: str, now: dt.datetime | None = None) -> list[dict[str, Any]] | None:
    """The accounting periods read within the re-check schedule, else None."""
    now = now or dt.datetime.now(dt.UTC)
    binding = load_binding(engine, tenant)
    if binding is None or binding.periods is None or not _fresh(binding.periods_read_at, now):
        return None
    return binding.periods


def save_periods(
    engine: Engine, tenant: str, periods: list[dict[str, Any]], now: dt.datetime | None = None
) -> None:
    now = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            update(tripletex_bindings)
            .where(tripletex_bindings.c.tenant_id == tenant)
            .values(periods=periods, periods_read_at=now)
        )
