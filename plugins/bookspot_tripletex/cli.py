"""Command line: migrate staging, import tenants, run days (an initial import, a backfill), preview a day,
show a voucher, release a held day, check activation, review mapping versions, force a day's re-post,
reconcile recent days with Tripletex. It calls `pipeline` and the step modules, never the Airflow task
layer."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def _staging(url: str | None):  # type: ignore[no-untyped-def]
    """The staging engine, which must be migrated (`db migrate`) first."""
    from bookspot_tripletex.staging.db import make_engine, require_head

    engine = make_engine(url)
    require_head(engine)
    return engine


def _db_migrate(args: argparse.Namespace) -> int:
    from bookspot_tripletex.staging.db import current_revision, make_engine, migrate

    engine = make_engine(args.staging_url)
    before = current_revision(engine)
    migrate(engine)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    change = f"{before or 'empty'} -> {after}" if before != after else f"already at {after}"
    print(f"staging {where}: {change}")
    return 0


def _import_tenant(args: argparse.Namespace) -> int:
    from bookspot_tripletex.journal.mapping_preview import posted_days_covered
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

    engine = _staging(args.staging_url)
    for path in args.files:
        cfg = load_tenant_file(path)
        with engine.begin() as conn:
            result = import_tenant(conn, cfg)
            covered = {d: posted_days_covered(conn, cfg.tenant, d) for d, _ in result.new_versions}
        added = ", ".join(f"{d} rev {r}" for d, r in result.new_versions) or "none"
        print(f"{cfg.tenant}: imported; new mapping versions: {added}; unchanged: {result.unchanged}")
        for valid_from, days in covered.items():
            if days:
                print(_covered_warning(cfg.tenant, valid_from, days), file=sys.stderr)
    return 0


def _covered_warning(tenant: str, valid_from: dt.date, days: list[dt.date]) -> str:
    more = f" and {len(days) - 31} more" if len(days) > 31 else ""
    shown = ", ".join(d.isoformat() for d in days[:31]) + more
    return (
        f"warning: {tenant}: the mapping valid from {valid_from} reaches back over {len(days)} posted "
        f"day(s), which keep the mapping they were posted with: {shown}. To post one of them with the new "
        "mapping: "
        f"`python -m bookspot_tripletex force-repost --tenant {tenant} --date <day> --by <your name> "
        "--reason <why> --use-current-mapping`"
    )


def _preview(args: argparse.Namespace) -> int:
    from bookspot_tripletex.journal.preview import preview_from_file, preview_from_staging

    day = dt.date.fromisoformat(args.date)
    if args.feed:
        if not args.tenant_file:
            raise SystemExit("preview --feed needs --tenant-file")
        out = preview_from_file(args.tenant_file, args.feed, day)
    else:
        if not args.tenant:
            raise SystemExit("preview needs --feed and --tenant-file, or --tenant (from staging)")
        out = preview_from_staging(args.tenant, day, args.staging_url)
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _voucher(args: argparse.Namespace) -> int:
    """The day's effective voucher (or the version asked for) and every version of the day."""
    from bookspot_tripletex.load.post import summary
    from bookspot_tripletex.load.state import day_versions, effective_row
    from bookspot_tripletex.staging.db import make_engine

    with make_engine(args.staging_url).connect() as conn:
        rows = day_versions(conn, args.tenant, dt.date.fromisoformat(args.date))
    if not rows:
        print(f"{args.tenant} {args.date}: no voucher built", file=sys.stderr)
        return 1
    if args.version is not None:
        chosen = next((r for r in rows if r.version == args.version), None)
        if chosen is None:
            known = ", ".join(str(r.version) for r in rows)
            print(f"{args.tenant} {args.date}: no version {args.version} (has {known})", file=sys.stderr)
            return 1
    else:
        chosen = effective_row(rows)
    out = summary(chosen, chosen.status)
    out["effective"] = chosen.id == effective_row(rows).id
    out["versions"] = [
        {
            "version": r.version,
            "kind": r.kind,
            "status": r.status,
            "effective": r.id == effective_row(rows).id,
            "external_number": r.external_number,
            "posting_date": r.effective_date.isoformat(),
            "tripletex_voucher_id": r.tripletex_voucher_id,
            "tripletex_number": r.tripletex_number,
            "sum": summary(r, r.status)["sum"],
            "note": r.note,
            "error": r.error,
        }
        for r in rows
    ]
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _release_day(args: argparse.Namespace) -> int:
    from bookspot_tripletex.staging.release import release_day, release_record

    if (args.date is None) == (args.record is None):
        raise SystemExit("release-day needs --date (a held day) or --record (one held record)")
    engine = _staging(args.staging_url)
    what = f"{args.tenant} {args.date or args.record}"
    try:
        with engine.begin() as conn:
            if args.record is not None:
                count = release_record(conn, args.tenant, args.record, args.by, args.reason)
            else:
                count = release_day(conn, args.tenant, dt.date.fromisoformat(args.date), args.by, args.reason)
    except ValueError as exc:
        print(f"error: {what}: {exc}", file=sys.stderr)
        return 2
    if count == 0:
        print(
            f"error: {what}: no held record to release; a day held by failed checks or a missing mapping "
            "is fixed at the source or in the tenant file and run again",
            file=sys.stderr,
        )
        return 1
    print(
        f"{what}: released {count} quarantined record(s) (by {args.by}: {args.reason}); "
        "the next run (or a re-run of the day) posts the day without them."
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    """Days of some tenants through every step, as a night runs them, printing how far it is."""
    from bookspot_tripletex import pipeline

    engine = _staging(args.staging_url)
    now = dt.datetime.now(dt.UTC)
    last_over = now.astimezone(OSLO).date() - dt.timedelta(days=1)
    first = dt.date.fromisoformat(args.date_from) if args.date_from else None
    last = dt.date.fromisoformat(args.date_to) if args.date_to else last_over
    if first is not None and first > last:
        raise SystemExit("error: --from is after --to")
    days = None
    if first is not None:
        days = tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    night = pipeline.Night(
        run_id=f"cli__{now:%Y-%m-%dT%H:%M:%S}",
        until=min(last, last_over),
        days=days,
        dry_run=args.dry_run,
        now=now,
    )
    scope = f"{first} .. {last}" if first else f"every due day up to {night.until}"
    print(f"{len(args.tenant)} tenant(s), {scope}{' (dry run)' if args.dry_run else ''}", flush=True)
    result = pipeline.run_night(engine, args.tenant, night, progress=lambda line: print(line, flush=True))
    print(result.tally())
    if result.to_retry or result.needs_person:
        print(result.problems(), file=sys.stderr)
        return 1
    return 0


def _activation(args: argparse.Namespace) -> int:
    from bookspot_tripletex.activation_cli import run_activation_checks

    if bool(args.tenant) == args.all:
        print("activation-check: give --tenant (repeatable) or --all, not both", file=sys.stderr)
        return 2
    return run_activation_checks(None if args.all else args.tenant, args.staging_url, args.date)


def _mappings(args: argparse.Namespace) -> int:
    from bookspot_tripletex.journal import mapping_preview
    from bookspot_tripletex.tenants import diff

    with _staging(args.staging_url).connect() as conn:
        if args.action == "list":
            out: object = [v.as_dict() for v in mapping_preview.versions_in_use(conn, args.tenant)]
        elif args.action == "diff":
            versions = diff.list_versions(conn, args.tenant)
            if len(versions) < 2 and not (args.old and args.new):
                raise LookupError(f"{args.tenant} has {len(versions)} mapping version(s): nothing to compare")
            old = args.old or versions[-2].id
            new = args.new or versions[-1].id
            out = {
                "old": old,
                "new": new,
                "changes": [c.as_dict() for c in diff.diff_versions(conn, args.tenant, old, new)],
            }
        else:
            from bookspot_tripletex.tenants.config import load_tenant_file

            days = [dt.date.fromisoformat(d) for d in args.date]
            candidate = load_tenant_file(args.tenant_file)
            out = [c.as_dict() for c in mapping_preview.preview_candidate(conn, candidate, days)]
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _tenant_and_client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.connections import tripletex_client
    from bookspot_tripletex.tenants.store import load_tenant

    engine = _staging(args.staging_url)
    with engine.connect() as conn:
        tenant = load_tenant(conn, args.tenant)
    return engine, tenant, tripletex_client(engine, args.tenant)


def _force_repost(args: argparse.Namespace) -> int:
    from bookspot_tripletex import pipeline
    from bookspot_tripletex.connections import tripletex_client
    from bookspot_tripletex.load.corrections import repost_refusal
    from bookspot_tripletex.load.errors import ActionRefused
    from bookspot_tripletex.tenants.store import load_tenant

    engine = _staging(args.staging_url)
    day = dt.date.fromisoformat(args.date)
    with engine.connect() as conn:
        refusal = repost_refusal(conn, load_tenant(conn, args.tenant), day)
    if refusal is not None:
        raise ActionRefused(refusal)
    client = tripletex_client(engine, args.tenant)
    result = pipeline.force_repost_day(
        engine, args.tenant, day, client, args.by, args.reason, args.use_current_mapping
    )
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
    print(f"{args.tenant} {day}: {result['note']}", file=sys.stderr)
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from bookspot_tripletex.load.errors import ReconcileMismatch
    from bookspot_tripletex.load.reconcile import reconcile
    from bookspot_tripletex.pipeline import refresh_touched

    engine, tenant, client = _tenant_and_client(args)
    since = dt.datetime.now(dt.UTC)
    try:
        result = reconcile(engine, tenant, client, days=args.days, repair=args.repair)
    except ReconcileMismatch as exc:
        for day, problems in sorted(exc.days.items()):
            print(f"HELD {args.tenant} {day}: " + "; ".join(problems), file=sys.stderr)
        if not exc.days:
            print(f"MISMATCH: {exc}", file=sys.stderr)
        if exc.result:
            print(_reconciled_line(args.tenant, exc.result), file=sys.stderr)
        return 1
    finally:
        refresh_touched(engine, tenant.tenant, since, "reconciled")
    print(_reconciled_line(args.tenant, result) + "; each day in the ledger once, as its journal says")
    return 0


def _reconciled_line(tenant: str, result: dict) -> str:
    span = f", {result['from']} to {result['to']}" if result["days"] else ""
    return (
        f"{tenant}: {result['days']} day(s) read back{span} ({result['touched']} touched since the last "
        f"reconciliation, {result['rolling']} by the rolling pass), {result['vouchers']} voucher(s), "
        f"{result['calls']} Tripletex call(s), {result['drafts_deleted']} stray draft(s) deleted"
    )


def _prepayments(args: argparse.Namespace) -> int:
    """Open prepayments (revenue on delivery) by service month; with --check, against Tripletex's ledger."""
    from bookspot_tripletex.journal.prepayments import check_ledger, prepayments_report

    yesterday = dt.datetime.now(OSLO).date() - dt.timedelta(days=1)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else yesterday
    if args.check:
        engine, tenant, client = _tenant_and_client(args)
    else:
        engine = _staging(args.staging_url)
    with engine.connect() as conn:
        out = prepayments_report(conn, args.tenant, as_of, lines=args.lines, history=args.history)
        if args.check:
            out.update(check_ledger(conn, tenant, client, as_of))
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()
    if args.check and not out["match"]:
        print(
            f"MISMATCH: {args.tenant} prepayments in staging differ from Tripletex's ledger", file=sys.stderr
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bookspot-tripletex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the staging database").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("migrate", help="bring the staging schema to this version (once per deployment)")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_db_migrate)

    p = sub.add_parser(
        "run", help="run tenants' days through every step (initial import, backfill), showing progress"
    )
    p.add_argument("--tenant", required=True, action="append", help="repeat for several tenants")
    p.add_argument("--from", dest="date_from", help="first day (default: every due day)")
    p.add_argument("--to", dest="date_to", help="last day (default: yesterday in Oslo)")
    p.add_argument("--dry-run", action="store_true", help="validate and report, post nothing")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_run)

    p = sub.add_parser("import-tenant", help="import tenant YAML files into the staging mapping tables")
    p.add_argument("files", nargs="+")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_import_tenant)

    p = sub.add_parser("preview", help="print the Day preview JSON of one tenant-day (posts nothing)")
    p.add_argument("--tenant-file")
    p.add_argument("--feed", help="a BookSpot JSON Lines export")
    p.add_argument("--tenant", help="read from staging instead of a file")
    p.add_argument("--date", required=True)
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_preview)

    p = sub.add_parser(
        "voucher", help="print a tenant-day's effective voucher (or one version) and every version of the day"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--version", type=int, help="show this version instead of the effective one")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_voucher)

    p = sub.add_parser(
        "release-day",
        help="let a held day be posted without its quarantined records (kept); the next run posts it",
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", help="the held day (also releases the records whose day is unknown)")
    p.add_argument("--record", help="instead of a day: one held record, by its BookSpot id")
    p.add_argument("--by", required=True, help="who releases the day (kept with the records)")
    p.add_argument("--reason", required=True, help="why it is released (kept with the records)")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_release_day)

    p = sub.add_parser("activation-check", help="check tenants' Tripletex keys and mapped accounts")
    p.add_argument("--tenant", action="append", help="repeat for several tenants")
    p.add_argument("--all", action="store_true", help="every active tenant (onboarding, a rotated key)")
    p.add_argument(
        "--date", type=dt.date.fromisoformat, help="the mapping in force on this day (default: today)"
    )
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_activation)

    p = sub.add_parser(
        "mappings", help="a tenant's mapping versions: list, diff two, preview a candidate file"
    )
    p.add_argument("action", choices=["list", "diff", "preview"])
    p.add_argument("--tenant", help="list, diff: the tenant")
    p.add_argument("--old", type=int, help="diff: version id (default: the one before the latest)")
    p.add_argument("--new", type=int, help="diff: version id (default: the latest)")
    p.add_argument("--tenant-file", help="preview: the candidate tenant YAML (not imported)")
    p.add_argument("--date", action="append", default=[], help="preview: a day to compare (repeatable)")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_mappings_checked)

    p = sub.add_parser(
        "force-repost",
        help="reverse a posted day's vouchers in Tripletex and post the day again (only a posted day)",
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--by", required=True, help="who asks for it (recorded)")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument(
        "--use-current-mapping",
        action="store_true",
        help="re-map the day with the mapping version in force now (default: the one it was posted with)",
    )
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_force_repost)

    p = sub.add_parser(
        "reconcile",
        help="check every day touched since the last reconciliation against Tripletex: one effective "
        "voucher chain per day, summing to its journal",
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--days", type=int, default=None, help="also read back every day of the last N days")
    p.add_argument(
        "--repair",
        action="store_true",
        help="post again a day whose voucher Tripletex confirms deleted or reversed; "
        "reverse duplicates of ours",
    )
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_reconcile)

    p = sub.add_parser(
        "prepayments", help="open customer prepayments (revenue on delivery) by account and service month"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--as-of", help="open at the end of this day (default: yesterday in Oslo)")
    p.add_argument("--lines", action="store_true", help="list each open line too")
    p.add_argument(
        "--history", action="store_true", help="list lines paid before the option and delivered after it"
    )
    p.add_argument("--check", action="store_true", help="compare with the balances in Tripletex's ledger")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_prepayments)

    return parser


def _mappings_checked(args: argparse.Namespace) -> int:
    if args.action == "preview" and not (args.tenant_file and args.date):
        raise SystemExit("mappings preview needs --tenant-file and at least one --date")
    if args.action != "preview" and not args.tenant:
        raise SystemExit(f"mappings {args.action} needs --tenant")
    return _mappings(args)


def main(argv: Sequence[str] | None = None) -> int:
    from bookspot_tripletex.load.errors import ActionRefused, DayRefused, VoucherBusy
    from bookspot_tripletex.staging.db import StagingNotAtHead
    from bookspot_tripletex.tenants.config import TenantConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (TenantConfigError, LookupError, FileNotFoundError, StagingNotAtHead) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ActionRefused, DayRefused) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except VoucherBusy as exc:
        print(f"busy: {exc}", file=sys.stderr)
        return 3
