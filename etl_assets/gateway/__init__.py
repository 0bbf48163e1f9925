"""`etl serve`: a login gateway in front of the Dagster webserver, a REST API, config history and metrics.

Browsers log in at `/login` (a JWT in an HttpOnly, Secure, SameSite=Strict cookie); API clients send
`Authorization: Bearer <token>` from `POST /api/v1/auth/token`. Admins are proxied to a normal
`dagster-webserver`, viewers to a `--read-only` one, so what a viewer may do is enforced by the
server, not by the UI. Heavy imports live in the submodules.
"""
