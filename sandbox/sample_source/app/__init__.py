"""A tiny sample of an ERP backend package."""
