"""initial schema: the real TSH ERP's TDS tables and the ERP tables the sync handlers upsert into

The TDS tables (inbox, queue, dead letters, runs, cursors, alerts, logs, audit,
metrics, configuration) and the ERP tables the TDS entities map to (customers,
products, invoices, sales orders, vendors, payments, users, price lists,
branches), so the schema contract checks the whole real shape.

Revision ID: f0e1d2c3b4a5
Revises:
Create Date: 2026-01-01 00:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "f0e1d2c3b4a5"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "tds_inbox_events", "tds_sync_runs", "tds_sync_queue", "tds_dead_letter_queue", "customers", "products",
    "invoices", "sales_orders", "tds_sync_cursors", "tds_alerts", "tds_sync_logs", "tds_audit_trail", "tds_metrics",
    "tds_configuration", "vendors", "invoice_payments", "zoho_users", "pricelists", "product_prices", "branches",
)  # fmt: skip
TYPES = ("tds_event_status", "tds_entity_type", "tds_source_type", "tds_operation_type")

SCHEMA_SQL = """
CREATE TYPE tds_event_status AS ENUM
    ('pending', 'processing', 'completed', 'failed', 'retry', 'dead_letter');
CREATE TYPE tds_entity_type AS ENUM
    ('product', 'stock_adjustment', 'customer', 'VENDOR', 'SUPPLIER', 'invoice', 'order',
     'PAYMENT', 'USER', 'price_list', 'bill', 'credit_note', 'branch');
CREATE TYPE tds_source_type AS ENUM ('zoho', 'manual', 'system');
CREATE TYPE tds_operation_type AS ENUM ('create', 'update', 'delete', 'upsert');

CREATE TABLE tds_inbox_events (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_type        tds_source_type NOT NULL,
    entity_type        tds_entity_type NOT NULL,
    source_entity_id   text NOT NULL,
    raw_payload        jsonb NOT NULL,
    idempotency_key    text,
    content_hash       text,
    webhook_headers    jsonb,
    signature_verified boolean NOT NULL DEFAULT false,
    ip_address         text,
    received_at        timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz,
    is_valid           boolean NOT NULL DEFAULT true,
    validation_errors  jsonb,
    moved_to_queue     boolean NOT NULL DEFAULT false
);
CREATE INDEX ix_tds_inbox_events_idempotency ON tds_inbox_events (idempotency_key, received_at);

CREATE TABLE tds_sync_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_type      text NOT NULL,
    entity_type   tds_entity_type,
    status        text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    total_records integer NOT NULL DEFAULT 0,
    processed     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0
);

CREATE TABLE tds_sync_queue (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    inbox_event_id     uuid REFERENCES tds_inbox_events (id),
    sync_run_id        uuid REFERENCES tds_sync_runs (id),
    entity_type        tds_entity_type NOT NULL,
    source_entity_id   text NOT NULL,
    operation_type     tds_operation_type NOT NULL,
    validated_payload  jsonb NOT NULL,
    status             tds_event_status NOT NULL DEFAULT 'pending',
    priority           integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    attempt_count      integer NOT NULL DEFAULT 0,
    max_retry_attempts integer NOT NULL DEFAULT 3,
    next_retry_at      timestamptz,
    locked_by          text,
    lock_expires_at    timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    completed_at       timestamptz,
    target_entity_id   text,
    processing_result  jsonb,
    error_message      text,
    error_code         text
);
CREATE INDEX ix_tds_sync_queue_inbox_event ON tds_sync_queue (inbox_event_id);

CREATE TABLE tds_dead_letter_queue (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sync_queue_id      uuid REFERENCES tds_sync_queue (id),
    entity_type        tds_entity_type NOT NULL,
    source_entity_id   text NOT NULL,
    failure_reason     text NOT NULL,
    error_code         text,
    total_attempts     integer NOT NULL,
    last_error_message text,
    last_payload       jsonb,
    resolved           boolean NOT NULL DEFAULT false,
    resolved_at        timestamptz,
    resolved_by        text,
    resolution_notes   text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    priority           integer
);

CREATE TABLE customers (
    id              serial PRIMARY KEY,
    zoho_contact_id text UNIQUE,
    name            text NOT NULL,
    email           text,
    phone           text,
    is_active       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id            serial PRIMARY KEY,
    zoho_item_id  text UNIQUE,
    name          text NOT NULL,
    sku           text,
    price         numeric(12, 2),
    stock_on_hand integer NOT NULL DEFAULT 0,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    id              serial PRIMARY KEY,
    zoho_invoice_id text UNIQUE,
    invoice_number  text NOT NULL,
    customer_id     integer REFERENCES customers (id),
    total           numeric(12, 2) NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sales_orders (
    id                 serial PRIMARY KEY,
    order_number       text UNIQUE NOT NULL,
    zoho_salesorder_id text,
    customer_id        integer REFERENCES customers (id),
    total              numeric(12, 2) NOT NULL,
    status             text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The other TDS tables and the remaining ERP tables the TDS entities map to
-- (vendors, payments, users, price lists, branches), so the schema contract
-- checks the whole real shape.

CREATE TABLE tds_sync_cursors (
    id               serial PRIMARY KEY,
    source_type      tds_source_type NOT NULL,
    entity_type      tds_entity_type NOT NULL,
    last_sync_at     timestamptz,
    last_entity_id   text,
    cursor_value     text,
    total_synced     integer NOT NULL DEFAULT 0,
    last_sync_status text,
    UNIQUE (source_type, entity_type)
);

CREATE TABLE tds_alerts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_type   text NOT NULL,
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    message      text,
    is_active    boolean NOT NULL DEFAULT true,
    acknowledged boolean NOT NULL DEFAULT false,
    resolved     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tds_sync_logs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sync_queue_id uuid,
    sync_run_id   uuid,
    level         text NOT NULL,
    message       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tds_audit_trail (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type tds_entity_type NOT NULL,
    entity_id   text NOT NULL,
    action      text NOT NULL,
    changes     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tds_metrics (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    metric_name  text NOT NULL,
    metric_value double precision NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tds_configuration (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vendors (
    id             serial PRIMARY KEY,
    zoho_vendor_id text UNIQUE,
    name           text NOT NULL
);

CREATE TABLE invoice_payments (
    id             serial PRIMARY KEY,
    payment_number text UNIQUE NOT NULL,
    invoice_id     integer REFERENCES invoices (id),
    amount         numeric(12, 2) NOT NULL
);

CREATE TABLE zoho_users (
    id           serial PRIMARY KEY,
    zoho_user_id text UNIQUE NOT NULL,
    name         text NOT NULL
);

CREATE TABLE pricelists (
    id                serial PRIMARY KEY,
    zoho_pricelist_id text UNIQUE,
    code              text NOT NULL,
    name              text NOT NULL
);

CREATE TABLE product_prices (
    id           serial PRIMARY KEY,
    product_id   integer NOT NULL REFERENCES products (id),
    pricelist_id integer NOT NULL REFERENCES pricelists (id),
    price        numeric(12, 2) NOT NULL,
    UNIQUE (product_id, pricelist_id)
);

CREATE TABLE branches (
    id   serial PRIMARY KEY,
    name text NOT NULL
);
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.get_bind().exec_driver_sql(SCHEMA_SQL)


def downgrade() -> None:
    """Downgrade schema."""
    for table in reversed(TABLES):
        op.drop_table(table)
    for type_name in TYPES:
        op.execute(f"DROP TYPE {type_name}")
