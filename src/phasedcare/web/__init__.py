"""The console: server-rendered pages in Dutch (and English) for professionals and auditors,
served by ``phasedcare serve`` at /console over the same Engine as the API."""

from phasedcare.web.entry import mount_console
from phasedcare.web.oidc_signin import OidcSignIn

__all__ = ["OidcSignIn", "mount_console"]
