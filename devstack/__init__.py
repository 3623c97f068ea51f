"""The embedded stack for local runs and tests: Temporal dev server, SMTP catcher, demo."""
