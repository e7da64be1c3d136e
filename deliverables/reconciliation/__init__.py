"""Golden reconciliation: a Domo card's golden rows against a calculation run's output (engine: plain DuckDB,
no Django)."""
