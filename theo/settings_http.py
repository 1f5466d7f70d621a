"""HTTP: addresses, hosts, HTTPS, reverse proxies, cookies and the Content-Security-Policy."""

from __future__ import annotations

from theo.settings_env import env

# --- HTTP ---------------------------------------------------------------------------

HOST = env("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
# Loopback names are always allowed: health checks inside a container or host use them.
ALLOWED_HOSTS = [*env.list("ALLOWED_HOSTS", default=[]), "127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# THEO_HTTPS: Theo is served over HTTPS (directly or behind a TLS-terminating proxy).
HTTPS = env.bool("THEO_HTTPS", default=False)
# Reverse proxies (apps/core/proxies.py): THEO_TRUSTED_PROXIES is how many proxies stand in
# front of Theo, or their addresses/CIDR networks; setting it implies THEO_BEHIND_PROXY.
# THEO_BEHIND_PROXY=true alone means one proxy. Invalid values: system check theo.E010.
TRUSTED_PROXIES = env("THEO_TRUSTED_PROXIES", default="").strip()
BEHIND_PROXY = env.bool("THEO_BEHIND_PROXY", default=bool(TRUSTED_PROXIES))
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("THEO_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("THEO_SESSION_DAYS", default=14) * 24 * 3600

# --- Content-Security-Policy (django-csp 4; docs/security.md) -------------------------
# Every page: scripts, styles, images and fonts from Theo itself only; no inline script,
# event handler or style attribute (pages put those in static files), no eval. JSON in
# <script type="application/json"> (json_script) is data, not script: CSP does not block it.
# connect-src 'self' also covers Theo's own WebSockets (CSP Level 3). img-src data: is for
# the icons Swagger UI's stylesheet embeds.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
