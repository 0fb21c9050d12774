"""Deep memory: storage (CRUD, dedup, counters), search (filters, queries) and pure planning."""
