"""queue claim index: index the queue's claim query (status, due time, priority, age)

Revision ID: a1b2c3d4e5f6
Revises: f0e1d2c3b4a5
Create Date: 2026-01-15 00:00:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a1b2c3d4e5f6"
down_revision: str | Sequence[str] | None = "f0e1d2c3b4a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_tds_sync_queue_claim", "tds_sync_queue", ["status", "next_retry_at", "priority", "created_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_tds_sync_queue_claim", table_name="tds_sync_queue")
