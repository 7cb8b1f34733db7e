"""The web app at ``GET /``: a small client of the public API, served by the service itself.

The app is plain HTML, CSS and JavaScript modules under ``static/`` (no build step, nothing from a
CDN, so it works offline and inside the executable). Public surface: ``add_routes``;
``content_security_policy`` (the page's policy, a pure function of the settings).
"""

from ._policy import content_security_policy
from ._routes import add_routes

__all__ = ["add_routes", "content_security_policy"]
