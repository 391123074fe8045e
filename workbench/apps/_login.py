"""The report server's own sign-in and sign-out pages (token mode).

Jupyter's login page explains Jupyter (``jupyter server list``, passwords) and offers to set a
password; a stakeholder needs none of that. These pages reuse jupyter_server's login logic
(:class:`~jupyter_server.auth.login.LoginFormHandler`: the XSRF-checked form, the signed auth
cookie, the safe ``next`` redirect) and only replace what is shown. No password can be set:
the provider is a plain token provider, and its form has no new-password field.
"""

from __future__ import annotations

import functools
import hmac
from html import escape
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f5f6f8; color: #1f2933; margin: 0; }}
main {{ max-width: 26rem; margin: 12vh auto; background: #fff; padding: 2rem 2.25rem; border-radius: 8px;
        box-shadow: 0 1px 4px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.3rem; margin: 0 0 1rem; }}
p {{ line-height: 1.45; }}
label {{ display: block; font-weight: 600; margin: 1rem 0 .35rem; }}
input[type=password] {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; border: 1px solid #9aa5b1; border-radius: 4px; }}
button {{ margin-top: 1rem; padding: .5rem 1.2rem; font-size: 1rem; border: 0; border-radius: 4px; background: #2563eb; color: #fff; cursor: pointer; }}
.wb-login-error {{ color: #b91c1c; }}
</style></head>
<body><main class="wb-login">
<h1>{project}</h1>
{body}
</main></body></html>
"""


def login_page(project: str, action: str, xsrf_field: str, error: str = "") -> str:
    """The sign-in page: the project name, one token field, one sentence."""
    body = (f'<p class="wb-login-error">{escape(error)}</p>\n' if error else "") + (
        "<p>Ask the person who runs the report server for the access token.</p>\n"
        f'<form method="post" action="{escape(action)}">{xsrf_field}\n'
        '<label for="wb-token">Access token</label>\n'
        '<input type="password" id="wb-token" name="password" autocomplete="current-password" autofocus>\n'
        '<button type="submit">Open the reports</button>\n</form>'
    )
    return PAGE.format(title=escape(f"{project}: sign in"), project=escape(project), body=body)


def logout_page(project: str, home: str) -> str:
    """The page after signing out."""
    body = f'<p>You are signed out.</p>\n<p><a href="{escape(home)}">Sign in again</a></p>'
    return PAGE.format(title=escape(f"{project}: signed out"), project=escape(project), body=body)


@functools.cache
def identity_provider() -> type:
    """The identity provider class (built on first use: jupyter_server imports slowly)."""
    from jupyter_server.auth.decorator import allow_unauthenticated
    from jupyter_server.auth.login import LoginFormHandler
    from jupyter_server.auth.logout import LogoutHandler
    from tornado.escape import url_escape
    from voila.voila_identity_provider import VoilaIdentityProvider

    def project(handler: Any) -> str:
        return str(handler.settings.get("workbench_project") or "Reports")

    class Login(LoginFormHandler):
        """Jupyter's login form handler with the workbench's page."""

        def _render(self, message: dict | None = None) -> None:
            next_url = self.get_argument("next", default=self.base_url)
            error = "That access token is not right. Check it and try again." if message and message.get("error") else ""
            action = f"{self.base_url}login?next={url_escape(next_url)}"
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write(login_page(project(self), action, self.xsrf_form_html(), error))

    class Logout(LogoutHandler):
        """Jupyter's logout (the cookie is cleared) with the workbench's page, not Jupyter's (a 500 under Voila)."""

        @allow_unauthenticated
        def get(self) -> None:
            self.identity_provider.clear_login_cookie(self)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(logout_page(project(self), self.base_url))

    class WorkbenchIdentityProvider(VoilaIdentityProvider):
        """Voila's token provider with the workbench's pages; no password, so none can be changed."""

        allow_password_change = False

        def get_handlers(self) -> list:
            handlers = [(r"/logout", Logout)]
            return ([(r"/login", Login)] if self.login_available else []) + handlers

        def process_login_form(self, handler: Any) -> Any:
            typed = handler.get_argument("password", default="")
            if self.token and hmac.compare_digest(typed.encode(), self.token.encode()):
                return self.generate_anonymous_user(handler)  # (jupyter_server calls a user_for_token it lacks)
            return None

    return WorkbenchIdentityProvider
