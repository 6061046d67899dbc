"""The sandbox's TSH ERP application (FastAPI)."""
