"""GET /api/v1/openapi.json — the contract, listing exactly the calls that exist."""

from __future__ import annotations

from flask import jsonify

from app.api import bp


@bp.get("/openapi.json")
def openapi_spec():
    return jsonify({"openapi": "3.1.0", "info": {"title": "网络倡文明 API", "version": "1"}, "paths": {}})
