"""Index the queue's claim query (status, due time, priority, age)."""

revision = "a1b2c3d4e5f6"
down_revision = "f0e1d2c3b4a5"

UPGRADE_SQL = """
CREATE INDEX IF NOT EXISTS ix_tds_sync_queue_claim ON tds_sync_queue (status, next_retry_at, priority, created_at)
"""
