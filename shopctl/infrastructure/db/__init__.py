"""PostgreSQL adapters: tables, engine, embedded server, repositories, unit of work."""
