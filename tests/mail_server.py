"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, and a worker that sends to it."""

import email
import email.policy
import socket
import time

import pytest


class MailServer:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list[email.message.EmailMessage] = []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def wait_for(self, predicate, timeout: float = 60.0):
        """The first received message for which `predicate(message)` holds; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if predicate(message):
                    return message
            time.sleep(0.1)
        subjects = [m["Subject"] for m in self.messages]
        raise AssertionError(f"no such e-mail within {timeout} s; received: {subjects}")


@pytest.fixture(scope="module")
def mail_server():
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(mail_server, settings):
    """This test process sends through the test SMTP server too."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", mail_server.port, False
    return mail_server


@pytest.fixture(scope="module")
def worker_with_mail(worker_process, mail_server):
    """The session's worker, restarted to send e-mail through the test SMTP server; put back afterwards."""
    keys = ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_BACKEND")
    saved = {key: worker_process.env.get(key) for key in keys}
    worker_process.env.update(
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(mail_server.port),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    worker_process.stop()
    worker_process.start()
    yield worker_process
    for key, value in saved.items():
        if value is None:
            worker_process.env.pop(key, None)
        else:
            worker_process.env[key] = value
    worker_process.stop()
    worker_process.start()
