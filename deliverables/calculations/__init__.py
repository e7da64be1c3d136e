"""Calculations: the guarantee, rebate and pricing-audit arithmetic written once as set-based SQL (definitions),
its PostgreSQL and T-SQL forms (dialects), and the DuckDB runner over a claims Parquet (engine). No Django."""
