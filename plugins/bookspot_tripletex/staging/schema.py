"""Staging tables (SQLAlchemy Core); Alembic migrations create them from these definitions.

The tenant tables are defined with the tenants (`tenants.tables`) on the same MetaData."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from bookspot_tripletex.domain import STATUS_LENGTH, TENANT_ID_LENGTH
from bookspot_tripletex.tenants.tables import mapping_accounts, mapping_versions, metadata, tenants

__all__ = [
    "activations",
    "approvals",
    "draft_doubts",
    "extract_watermarks",
    "ledger_reads",
    "mapping_accounts",
    "mapping_versions",
    "metadata",
    "night_steps",
    "pending_corrections",
    "quarantine",
    "reconcile_marks",
    "tenants",
    "transaction_lines",
    "transactions",
    "tripletex_bindings",
    "vouchers",
]


def key_text(length: int) -> String:
    """A text key of the staging bulk tables: `COLLATE "C"` on PostgreSQL (byte order, as SQLite's BINARY
    compares), so their B-trees compare with memcmp rather than the database's locale (migration 0014)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


transactions = Table(
    "transactions",
    metadata,
    Column("tenant_id", key_text(TENANT_ID_LENGTH), primary_key=True),
    Column("transaction_id", key_text(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("booking_id", String(200)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_ore", BigInteger, nullable=False),
    Column("payment_method", String(32), nullable=False),
    Column("provider_fee_ore", BigInteger, nullable=False),
    Column("gift_card_code", String(100)),
    Column("raw_batch_id", Integer, nullable=False),
    Column("raw_offset", Integer, nullable=False),
    Column("raw_length", Integer, nullable=False),
    Column("staged_at", DateTime(timezone=True), nullable=False),
    Index("ix_transactions_tenant_day", "tenant_id", "local_date"),
)

raw_batches = Table(
    "raw_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("records", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("staged_at", DateTime(timezone=True), nullable=False),
)
"""The raw JSON text of staged transactions, a batch per staging chunk: the texts joined (UTF-8) and
zlib-compressed. A transaction's text is bytes [raw_offset, raw_offset + raw_length) of its batch."""

transaction_lines = Table(
    "transaction_lines",
    metadata,
    Column("tenant_id", key_text(TENANT_ID_LENGTH), primary_key=True),
    Column("transaction_id", key_text(200), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", String(200), nullable=False),
    Column("product_name", String(500), nullable=False),
    Column("category", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("gross_ore", BigInteger, nullable=False),
    Column("vat_rate", String(8), nullable=False),
    Column("vat_ore", BigInteger, nullable=False),
    Column("service_date", Date),
    Index("ix_transaction_lines_service_date", "tenant_id", "service_date"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("record_id", String(200)),
    Column("local_date", Date),
    Column("updated_at", String(64)),
    Column("reason", Text, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("raw", Text, nullable=False),
    Column("raw_hash", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True)),
    Column("released_by", String(200)),
    UniqueConstraint("tenant_id", "raw_hash", name="uq_quarantine_record"),
    Index("ix_quarantine_tenant_day", "tenant_id", "local_date"),
    Index(
        "ix_quarantine_held",
        "tenant_id",
        "record_id",
        sqlite_where=text("released_at IS NULL"),
        postgresql_where=text("released_at IS NULL"),
    ),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("external_number", String(70), nullable=False, unique=True),
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id")),
    Column("status", String(STATUS_LENGTH), nullable=False),
    Column("postings", JSON),
    Column("journal", JSON),
    Column("validation", JSON),
    Column("report_path", Text),
    Column("tripletex_voucher_id", BigInteger),
    Column("tripletex_number", String(50)),
    Column("claimed_by", String(200)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("posted_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False, server_default="day"),
    Column("posting_date", Date),
    Column("note", Text),
    Column("claim_token", String(64)),
    Column("claim_expires_at", DateTime(timezone=True)),
    Column("draft_id", BigInteger),
    Column("draft_version", Integer),
    Column("draft_requested_at", DateTime(timezone=True)),
    Column("company_id", BigInteger),
    Column("reversal_id", BigInteger),
    UniqueConstraint("tenant_id", "local_date", "version", name="uq_voucher_day_version"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("status", String(STATUS_LENGTH), nullable=False),
    Column("model", JSON, nullable=False),
    Column("html", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "local_date", "version", "run_id", name="uq_report_run"),
    Index("ix_reports_tenant_day", "tenant_id", "local_date", "created_at"),
)

extract_watermarks = Table(
    "extract_watermarks",
    metadata,
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), primary_key=True),
    Column("updated_to", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

activations = Table(
    "activations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id"), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("company", String(300)),
    Column("problems", JSON, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("resolved", JSON),
    Index("ix_activations_tenant_mapping", "tenant_id", "mapping_version_id"),
)

pending_corrections = Table(
    "pending_corrections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("transaction_id", String(200), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("change", String(16), nullable=False),
    Column("raw", Text, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Index("ix_pending_corrections_tenant_day", "tenant_id", "local_date"),
)

day_outcomes = Table(
    "day_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("step", String(16), nullable=False),
    Column("outcome", String(STATUS_LENGTH), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("reason", Text),
    Column("action", Text),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "local_date", "run_id", name="uq_day_outcome_run"),
    Index("ix_day_outcomes_recorded", "recorded_at"),
)
"""What each run did with each tenant-day, one row per (tenant, day, run), the latest attempt of the run
winning (written by `staging/outcomes.py`; read by the review screen and alerts).

`step` is the step the day reached or stopped at (extract, journal, validate, approve, activate, load,
reconcile).
`outcome` is one of `staging.outcomes.Outcome`: posted, corrected, already_posted, empty, dry_run
(done); awaiting_approval (ready, a person approves it first: step `approve`); held, refused (a person
must act: `reason` says why, `action` what releases it); retry, error (the run retries). `counts` holds
transactions, postings, quarantined and, once posted, the Tripletex voucher number; a corrected day
also the correction vouchers posted and their net change to its sales.
The latest row of a tenant-day (`recorded_at`) is where it stands."""

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id")),
    Column("digest", String(64), nullable=False),
    Column("why", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("requested_by_run", String(250), nullable=False),
    Column("alerted_at", DateTime(timezone=True)),
    Column("alerts", Integer, nullable=False, server_default=text("0")),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Index("ix_approvals_tenant_day", "tenant_id", "local_date"),
)
"""The approval gate's audit table (`load/approval.py`): one row per request that a tenant-day wait for
a person, what it waits for (`why`) and the voucher it shows (`digest` of its postings and mapping);
`status` is awaiting, approved, rejected or superseded (the day changed before anyone decided), with
who decided, when and why. Rows are never deleted."""

reconcile_marks = Table(
    "reconcile_marks",
    metadata,
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), primary_key=True),
    Column("touched_to", DateTime(timezone=True), nullable=False),
    Column("rolling_after", Date),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("days", Integer, nullable=False),
    Column("calls", Integer, nullable=False),
    Column("drafts_deleted", Integer, nullable=False),
)
"""Where each tenant's reconciliation stands (written by `load/reconcile.py`): every change to its days
before `touched_to` (less a settling margin) has been read back from Tripletex, and the rolling pass over
posted days in open periods continues after `rolling_after`. `days`, `calls` and `drafts_deleted` are
the last clean reconciliation's figures."""

night_steps = Table(
    "night_steps",
    metadata,
    Column("run_id", String(250), primary_key=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), primary_key=True),
    Column("local_date", Date, primary_key=True),
    Column("step", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("outcome", String(STATUS_LENGTH)),
    Column("detail", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_night_steps_updated", "updated_at"),
)
"""The tenant-days of a run and the step each reached (written by `staging/night_steps.py`): each step of
the night takes the rows the step before left `ready`, and leaves them `ready` for the next one, `stopped`
(held, refused or to retry: its outcome is in `day_outcomes`) or `done`; `idle` marks a tenant extracted
with nothing due. `detail` carries what a later step needs of an earlier one (the journal's counts, the
validation's status and report), never records or vouchers."""

tripletex_bindings = Table(
    "tripletex_bindings",
    metadata,
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("company_id", BigInteger),
    Column("company", String(300)),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id")),
    Column("mapping_checked_at", DateTime(timezone=True)),
    Column("recheck", Text),
    Column("periods", JSON),
    Column("periods_read_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""What was last checked in each tenant's Tripletex company (written by `load/binding.py`): the
connection it was checked through (`fingerprint`: an HMAC-SHA256 of the connection's base URL, company
id and tokens under the deployment's key, never a token itself), the company `whoAmI` named then
(`company_id`, `checked_at`), the mapping version whose accounts and VAT types the activation check
passed with that connection (`mapping_version_id`, `mapping_checked_at`), and the accounting periods
last read (`periods`, `periods_read_at`; the rolling reconciliation skips closed ones). `recheck` holds
the reason a re-check is due before the next post (Tripletex refused a posting naming an account, a VAT
type or the company). A changed fingerprint, a new mapping version, a `recheck` or an age over
`BOOKSPOT_TRIPLETEX_RECHECK_DAYS` makes the next post check again."""

ledger_reads = Table(
    "ledger_reads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
    Column("vouchers", JSON, nullable=False),
    Index("ix_ledger_reads_tenant", "tenant_id", "read_at"),
)
"""What the load step read from Tripletex for reconciliation (`load/ledger.py`), so that reconciliation,
in another process, compares without a session of its own: `kind` `listing` is one `GET /ledger/voucher`
of [`date_from`, `date_to`) (our vouchers in it, as listed). `read_at` is taken before the request was
sent.
Reconciliation uses a read only when it is younger than the last change to the days it covers and than
`BOOKSPOT_LEDGER_READ_MAX_AGE_SECONDS`; a clean reconciliation deletes the tenant's reads up to its mark."""

draft_doubts = Table(
    "draft_doubts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("posting_date", Date, nullable=False),
    Column("external_number", String(70), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_draft_doubts_tenant_day", "tenant_id", "local_date"),
)
"""Where a draft of ours may be left in Tripletex's non-posted list (`load/protocol.py`): a row is
written before each draft `POST` and deleted once that POST's answer is recorded, and written when a
draft could not be deleted. Reconciliation lists a day's drafts (`>nonPosted`) only while it has a
doubt, and clears doubts older than the settling margin once that listing found no draft of ours left."""
