"""Schemathesis hooks for Proffer's contract run (loaded through SCHEMATHESIS_HOOKS by api_contract.py).

POST /v1/me/import takes an `application/zip` body, a media type schemathesis has no serializer for: its
generated bodies (arbitrary bytes) are sent as they are, so the run checks that whatever arrives is refused
with a problem answer and never a 5xx.
"""
import schemathesis
from schemathesis.transport.serialization import serialize_binary


@schemathesis.serializer("application/zip")
def zip_body(ctx, value):
    return {"data": serialize_binary(value)}
