"""The sandbox's Zoho simulator: OAuth refresh, Books and Inventory lists, rate limits and faults."""
