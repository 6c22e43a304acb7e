"""Fixtures of the portal's tests: a real SMTP server on loopback and a worker that sends through it."""

from tests.mail_server import mail_server, mail_settings, worker_with_mail  # noqa: F401 (fixtures)
