"""Data shapes: the cycle configuration, the database tables and what crosses the Temporal wire."""
