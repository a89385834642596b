"""Command line: import tenants, preview a day, show a voucher, release a held day, check activation,
force a day's re-post, reconcile recent days with Tripletex."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence


def _import_tenant(args: argparse.Namespace) -> int:
    from bookspot_tripletex.staging.db import make_engine, migrate
    from bookspot_tripletex.tenants.config import load_tenant_file
    from bookspot_tripletex.tenants.store import import_tenant

    engine = make_engine(args.staging_url)
    migrate(engine)
    for path in args.files:
        cfg = load_tenant_file(path)
        with engine.begin() as conn:
            result = import_tenant(conn, cfg)
        added = ", ".join(f"{d} rev {r}" for d, r in result.new_versions) or "none"
        print(f"{cfg.tenant}: imported; new mapping versions: {added}; unchanged: {result.unchanged}")
    return 0


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
    from bookspot_tripletex.load.post import summary
    from bookspot_tripletex.load.state import get_voucher
    from bookspot_tripletex.staging.db import make_engine

    with make_engine(args.staging_url).connect() as conn:
        row = get_voucher(conn, args.tenant, dt.date.fromisoformat(args.date))
    if row is None:
        print(f"{args.tenant} {args.date}: no voucher built", file=sys.stderr)
        return 1
    json.dump(summary(row, row.status), sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


def _release_day(args: argparse.Namespace) -> int:
    from bookspot_tripletex.staging.db import make_engine, migrate
    from bookspot_tripletex.staging.release import release_day

    engine = make_engine(args.staging_url)
    migrate(engine)
    with engine.begin() as conn:
        count = release_day(conn, args.tenant, dt.date.fromisoformat(args.date), args.by)
    print(
        f"{args.tenant} {args.date}: released {count} quarantined record(s); "
        "the next run (or a re-run of the day) posts the day without them."
    )
    return 0


def _activation(args: argparse.Namespace) -> int:
    from bookspot_tripletex.activation_cli import run_activation_check

    return run_activation_check(args.tenant, args.staging_url)


def _tenant_and_client(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from bookspot_tripletex.staging.db import make_engine, migrate
    from bookspot_tripletex.tasks import tripletex_client
    from bookspot_tripletex.tenants.store import load_tenant

    engine = make_engine(args.staging_url)
    migrate(engine)
    with engine.connect() as conn:
        tenant = load_tenant(conn, args.tenant)
    return engine, tenant, tripletex_client(engine, args.tenant)


def _force_repost(args: argparse.Namespace) -> int:
    from bookspot_tripletex.load.corrections import force_repost

    engine, tenant, client = _tenant_and_client(args)
    result = force_repost(engine, tenant, dt.date.fromisoformat(args.date), client, args.by, args.reason)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from bookspot_tripletex.load.errors import ReconcileMismatch
    from bookspot_tripletex.load.reconcile import reconcile

    engine, tenant, client = _tenant_and_client(args)
    try:
        result = reconcile(engine, tenant, client, days=args.days, repair=args.repair)
    except ReconcileMismatch as exc:
        print(f"MISMATCH: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.tenant}: {result['vouchers']} voucher(s), {result['from']} to {result['to']}, match staging"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bookspot-tripletex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("voucher", help="print the staged voucher of one tenant-day and its posting state")
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_voucher)

    p = sub.add_parser("release-day", help="post a held day without its quarantined records (they are kept)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--by", required=True, help="who releases the day (kept with the records)")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_release_day)

    p = sub.add_parser("activation-check", help="check a tenant's Tripletex key and mapped accounts")
    p.add_argument("--tenant", required=True)
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_activation)

    p = sub.add_parser(
        "force-repost", help="reverse a posted day's vouchers in Tripletex and post the day again"
    )
    p.add_argument("--tenant", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--by", required=True, help="who asks for it (recorded)")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_force_repost)

    p = sub.add_parser("reconcile", help="compare the last days' vouchers in Tripletex with staging")
    p.add_argument("--tenant", required=True)
    p.add_argument("--days", type=int, default=None, help="how many days back (default 14)")
    p.add_argument(
        "--repair", action="store_true", help="queue days whose voucher vanished to be posted again"
    )
    p.add_argument("--staging-url", default=None)
    p.set_defaults(func=_reconcile)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from bookspot_tripletex.tenants.config import TenantConfigError

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (TenantConfigError, LookupError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
