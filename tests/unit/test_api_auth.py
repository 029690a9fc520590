"""Tenant resolution from API keys (api.auth)."""

from __future__ import annotations

import pytest

from anemonefish_services.api.auth import resolve_tenant
from anemonefish_services.exceptions import ForbiddenError, UnauthorizedError
from anemonefish_services.settings import Settings


def test_api_gateway_mode_uses_the_key_id_api_gateway_checked():
    settings = Settings(auth_mode="apigateway")
    event = {"requestContext": {"identity": {"apiKeyId": "abc123"}}}
    assert resolve_tenant(event, {}, settings) == "abc123"
    with pytest.raises(UnauthorizedError):
        resolve_tenant({"requestContext": {"identity": {}}}, {}, settings)


def test_static_mode_maps_keys_to_tenants():
    settings = Settings(auth_mode="static", api_keys={"k1": "t1"})
    assert resolve_tenant({}, {"x-api-key": "k1"}, settings) == "t1"
    with pytest.raises(UnauthorizedError):
        resolve_tenant({}, {}, settings)
    with pytest.raises(ForbiddenError):
        resolve_tenant({}, {"x-api-key": "k2"}, settings)
