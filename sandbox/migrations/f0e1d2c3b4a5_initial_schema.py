"""Initial schema: the tables of sandbox/schema.sql."""

revision = "f0e1d2c3b4a5"
down_revision = None

UPGRADE_SQL = ""
