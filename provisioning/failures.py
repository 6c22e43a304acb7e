"""The one exception drivers (and the helpers below them, like the sandbox) raise for expected failures."""


class DriverError(Exception):
    """An expected failure of the outside world. `message` is for people; `reason` a short machine code."""

    def __init__(self, message: str, *, reason: str = "error", retryable: bool = False):
        super().__init__(message)
        self.message, self.reason, self.retryable = message, reason, retryable
