"""Which tenant is calling: the API key identifies it.

``apigateway`` mode: API Gateway has already checked ``x-api-key`` against its usage plan and
puts the key's id in ``requestContext.identity.apiKeyId`` -- that id is the tenant.
``static`` mode (local stack, tests): keys come from ``ANEMONEFISH_API_KEYS``.
"""

from __future__ import annotations

import hmac
from typing import Any

from anemonefish_services.exceptions import ForbiddenError, UnauthorizedError
from anemonefish_services.settings import Settings


def resolve_tenant(event: dict[str, Any], headers: Any, settings: Settings) -> str:
    if settings.auth_mode == "apigateway":
        key_id = ((event.get("requestContext") or {}).get("identity") or {}).get("apiKeyId")
        if not key_id:
            raise UnauthorizedError("missing API key (x-api-key header)")
        return str(key_id)
    key = headers.get("x-api-key")
    if not key:
        raise UnauthorizedError("missing API key (x-api-key header)")
    for known, tenant in settings.api_keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):  # constant time: no key guessing by timing
            return tenant
    raise ForbiddenError("invalid API key")
