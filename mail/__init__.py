"""Email: templates, message composition, the outbox and its SMTP delivery, the dev catcher."""
