"""One-time login links for notebook servers, so their token never lands in an address bar, history or logs.

The portal writes a random code's hash into the notebook's login folder (the portal's, read-only for the team) and
sends the browser to `<notebook>/lab?login=<code>`. The server's identity provider (the config below, written into
the notebook's Jupyter config folder, also the portal's) accepts a code once, within LINK_SECONDS, and sets its own
login cookie. It also logs a
warning whenever a request carries the portal's session cookie, which must never happen (notebooks are served
from another host name than the portal).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

LINK_SECONDS = 120
SESSION_COOKIE_WARNING = "portal-session-cookie-received"

CONFIG = '''# Written by the portal (provisioning/sandbox/notebook_login.py); rewritten at every start.
import hashlib
import os
import pathlib
import time

from jupyter_server.auth.identity import IdentityProvider

LOGINS = pathlib.Path(os.environ["PORTAL_LOGIN_DIR"])
PORTAL_COOKIE = os.environ.get("PORTAL_SESSION_COOKIE", "sessionid")


USED = set()


class PortalIdentityProvider(IdentityProvider):
    """The token, or a one-time code from the portal's Open button (`?login=`), used once."""

    def get_token(self, handler):
        if PORTAL_COOKIE in handler.request.cookies:
            self.log.warning("{warning}: a request to %s carried the portal's session cookie", handler.request.path)
        code = handler.get_argument("login", "")
        if code:
            digest = hashlib.sha256(code.encode()).hexdigest()
            try:
                made = (LOGINS / digest).stat().st_mtime
            except OSError:
                made = None
            if made is not None and digest not in USED and time.time() - made < {seconds}:
                USED.add(digest)
                return self.token
        return super().get_token(handler)


c.ServerApp.identity_provider_class = PortalIdentityProvider  # noqa: F821 (c is given by Jupyter)
'''


def write_config(config_dir: Path) -> Path:
    """The server's config, in a folder of the portal's that the team's account can read but not change."""
    path = config_dir / "jupyter_server_config.py"
    path.write_text(CONFIG.replace("{warning}", SESSION_COOKIE_WARNING).replace("{seconds}", str(LINK_SECONDS)))
    return path


def login_link(lab_url: str, login_dir: Path) -> str:
    """A link that signs the browser in once; the code is stored only as its hash."""
    now = time.time()
    for old in login_dir.iterdir():  # expired links
        if now - old.stat().st_mtime > LINK_SECONDS:
            old.unlink(missing_ok=True)
    code = secrets.token_urlsafe(32)
    path = login_dir / hashlib.sha256(code.encode()).hexdigest()
    path.write_text("")
    path.chmod(0o644)
    return f"{lab_url}?login={code}"
