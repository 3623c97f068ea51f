"""Mail that comes back: the inbound SMTP service (``python -m mail.inbound``).

``server`` (aiosmtpd: checks, stores before ``250``, processes after), ``store`` (the
inbound table, idempotent by Message-ID), ``process`` (what a message is for, by its
envelope recipient), ``classify`` (bounces, auto-replies, feedback reports), ``standing``
(bounce scores, suspension, complaints), ``submissions`` (official OCP submissions by
e-mail), ``answers`` (one answer, never a loop). See README "Mail that comes back".
"""
