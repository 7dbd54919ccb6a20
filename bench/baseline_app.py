"""The baseline web app: the least a WSGI app can do, served by the same gunicorn settings.

It answers every path with the same body /healthz sends (`{"status":"ok"}` as JSON), so
"healthz req/s ÷ hello req/s" is the share of the ceiling (gunicorn + sockets + wrk on
this machine) that Flask and the app's middleware leave. Started by the harness as
`gunicorn --pythonpath bench baseline_app:app`.
"""

from __future__ import annotations

BODY = b'{"status":"ok"}\n'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
