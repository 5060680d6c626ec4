"""The HTTP API's one contract: every JSON body a client sends or receives, as a pydantic model.
Routes validate with these models, the OpenAPI document (web/openapi.py) is generated from
them, and a refused body's message is written from the same limits.

- `requests`: the bodies, forms and query strings clients send, with their limits.
- `responses`: what the API answers, errors included.
- `validation`: a body checked against its model; a pydantic error as the API's 400.

It imports `retrieval` (the names and shapes the store and the meeting work already define)
and web.errors, never a route module."""
