"""The staging database's MetaData and the tables of tenants and their mapping versions.

The tenant tables live with the tenants; `staging.schema` adds the pipeline's tables to the same MetaData,
which Alembic migrates as one database.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
    true,
)

from bookspot_tripletex.domain import (
    ACCOUNT_TYPE_LENGTH,
    APPROVAL_ALERT_HOURS,
    APPROVAL_DAYS,
    CONN_ID_LENGTH,
    NAME_LENGTH,
    TENANT_ID_LENGTH,
    TIMEZONE_LENGTH,
    VOUCHER_TYPE_LENGTH,
)

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(TENANT_ID_LENGTH), primary_key=True),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("timezone", String(TIMEZONE_LENGTH), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("tripletex_conn_id", String(CONN_ID_LENGTH), nullable=False),
    Column("bookspot_conn_id", String(CONN_ID_LENGTH), nullable=False),
    Column("voucher_type", String(VOUCHER_TYPE_LENGTH)),
    Column("vat_tolerance_ore", BigInteger, nullable=False),
    Column("attach_report", Boolean, nullable=False, server_default=false()),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("tripletex_company_id", BigInteger),
    Column("organization_number", String(9)),
    Column("shares_company_with", JSON),
    Column("approval_days", Integer, nullable=False, server_default=text(str(APPROVAL_DAYS))),
    Column("approval_new_mapping", Boolean, nullable=False, server_default=true()),
    Column("approval_alert_hours", Integer, nullable=False, server_default=text(str(APPROVAL_ALERT_HOURS))),
)

mapping_versions = Table(
    "mapping_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(TENANT_ID_LENGTH), ForeignKey("tenants.tenant_id"), nullable=False),
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
    Column("account_type", String(ACCOUNT_TYPE_LENGTH), primary_key=True),
    Column("account_number", Integer, nullable=False),
)
