"""Read-only figures from the database: what reports, emails and the status command show."""
