"""Staging tables (SQLAlchemy Core); Alembic migrations create them from these definitions."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("tripletex_conn_id", String(250), nullable=False),
    Column("bookspot_conn_id", String(250), nullable=False),
    Column("voucher_type", String(100)),
    Column("vat_tolerance_ore", BigInteger, nullable=False),
    Column("attach_report", Boolean, nullable=False, server_default=false()),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

mapping_versions = Table(
    "mapping_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("vat_types", JSON, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "valid_from", "revision", name="uq_mapping_version"),
)

mapping_accounts = Table(
    "mapping_accounts",
    metadata,
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id"), primary_key=True),
    Column("account_type", String(200), primary_key=True),
    Column("account_number", Integer, nullable=False),
)

transactions = Table(
    "transactions",
    metadata,
    Column("tenant_id", String(100), primary_key=True),
    Column("transaction_id", String(200), primary_key=True),
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
    Column("raw", Text, nullable=False),
    Column("staged_at", DateTime(timezone=True), nullable=False),
    Index("ix_transactions_tenant_day", "tenant_id", "local_date"),
)

transaction_lines = Table(
    "transaction_lines",
    metadata,
    Column("tenant_id", String(100), primary_key=True),
    Column("transaction_id", String(200), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_id", String(200), nullable=False),
    Column("product_name", String(500), nullable=False),
    Column("category", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("gross_ore", BigInteger, nullable=False),
    Column("vat_rate", String(8), nullable=False),
    Column("vat_ore", BigInteger, nullable=False),
    Column("service_date", Date),
    ForeignKeyConstraint(
        ["tenant_id", "transaction_id"],
        ["transactions.tenant_id", "transactions.transaction_id"],
        ondelete="CASCADE",
    ),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), nullable=False),
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
    Column("tenant_id", String(100), ForeignKey("tenants.tenant_id"), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("version", Integer, nullable=False),
    Column("external_number", String(70), nullable=False, unique=True),
    Column("mapping_version_id", Integer, ForeignKey("mapping_versions.id")),
    Column("status", String(16), nullable=False),
    Column("postings", JSON),
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

extract_watermarks = Table(
    "extract_watermarks",
    metadata,
    Column("tenant_id", String(100), ForeignKey("tenants.tenant_id"), primary_key=True),
    Column("updated_to", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

activations = Table(
    "activations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(100), ForeignKey("tenants.tenant_id"), nullable=False),
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
    Column("tenant_id", String(100), nullable=False),
    Column("transaction_id", String(200), nullable=False),
    Column("local_date", Date, nullable=False),
    Column("change", String(16), nullable=False),
    Column("raw", Text, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Index("ix_pending_corrections_tenant_day", "tenant_id", "local_date"),
)
