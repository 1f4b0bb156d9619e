"""The JSON APIs, for systems rather than people: no session, no CSRF token, no templates.

- service_api.py: /api/v1 for systems such as the provincial 数智招商平台, a bearer token standing for
  one user, so every call goes through the same service functions and permission checks as the pages;
  described by openapi.py (/api/v1/openapi.json).
- filing_api.py: /api/v1/filings between a county deployment and a prefecture deployment, each request
  authenticated by its signature (workflows/filing_exchange.py).

These modules call workflows.services and workflows.capabilities only (and the filing exchange's wire
protocol), never the tables or the engine (tests/test_architecture.py). The token administration
pages are HTML for the administrator and stay in webapp/api_tokens.py.
"""
