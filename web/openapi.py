"""The JSON API's OpenAPI 3.1 description, made from what the API declares of each operation
(``Operation``) and from the JSON schemas of its pydantic models. The views are registered
from the same declarations (``web.api``), so the description is the API, not a copy of it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from gtb.model import Site
from gtb.model.points import Role
from gtb.store.accounts import UserRole
from web.api_models import Body, ErrorOut, Query
from web.limits import SQLITE_MAX_ID

ID = {"type": "integer", "minimum": 0, "maximum": SQLITE_MAX_ID}
"""A row's id; a larger one is no route (``web.limits.StoreId``): a 404."""
IDENTIFIER = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "maxLength": 40}

PATH_PARAMETERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "building": ("string", IDENTIFIER, "a building's id in the site file"),
    "zone": ("string", IDENTIFIER, "a zone's id in its building"),
    "alarm_id": ("int", ID, "an alarm's id"),
    "cabinet": ("string", IDENTIFIER, "a public lighting cabinet's id in the site file"),
    "entry_id": ("int", ID, "an agenda entry's id (as GET answers it)"),
}
"""Each path parameter: its Flask converter, its schema and what it is."""

ERRORS = {
    400: "Malformed JSON, an unknown field or parameter, a wrong type, or a value the panel "
         "refuses (out of bounds, in the past…); nothing was changed",
    401: "No API token, or an unknown, revoked, expired or disabled one",
    403: "The token's role may not do this",
    404: "Unknown building, zone, cabinet, alarm or agenda entry",
    409: "Conflicts with what is stored (no override or order to cancel, alarm already "
         "acknowledged)",
}


@dataclass(frozen=True)
class Operation:
    """One endpoint: what it takes, who may call it, and what it answers."""

    method: str
    path: str
    """OpenAPI path, e.g. ``/api/zones/{building}/{zone}``."""
    name: str
    """The view's name: the endpoint ``api.NAME`` and the operationId."""
    summary: str
    answer: type | None
    """The type of a success (a pydantic model or a dataclass); None: any JSON object."""
    role: UserRole | None = UserRole.VIEWER
    """The least role that may call it; None: public."""
    ok: int = 200
    body: type[Body] | None = None
    body_required: bool = True
    query: type[Query] | None = None
    conflicts: bool = False
    example: dict[str, Any] | None = None
    """A request body that succeeds on the site's first heated zone."""

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    @property
    def rule(self) -> str:
        """The Flask rule, under the blueprint's ``/api`` prefix."""
        def convert(match: re.Match[str]) -> str:
            converter = PATH_PARAMETERS[match[1]][0]
            return f"<{match[1]}>" if converter == "string" else f"<{converter}:{match[1]}>"
        return re.sub(r"\{(\w+)\}", convert, self.path.removeprefix("/api"))

    def statuses(self) -> list[int]:
        """The error statuses it may answer."""
        codes = []
        if self.body is not None or self.query is not None:
            codes.append(400)
        if self.role is not None:
            codes.append(401)
            if self.role is not UserRole.VIEWER:
                codes.append(403)
        if self.parameters:
            codes.append(404)
        if self.conflicts:
            codes.append(409)
        return codes


def document(operations: list[Operation], site: Site) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``; examples use ``site``'s first heated zone
    and first cabinet."""
    modes: dict[type, JsonSchemaMode] = {ErrorOut: "serialization"}
    for op in operations:
        if op.answer is not None:
            modes[op.answer] = "serialization"
        if op.body is not None:
            modes[op.body] = "validation"
    refs, defs = TypeAdapter.json_schemas(
        [(kind, mode, TypeAdapter(kind)) for kind, mode in modes.items()],
        ref_template="#/components/schemas/{model}")

    def ref(kind: type) -> dict[str, Any]:
        return {"schema": refs[(kind, modes[kind])]}

    examples = _examples(site)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        spec: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "parameters": [_path_parameter(name, examples) for name in op.parameters]
                          + _query_parameters(op.query),
            "responses": {
                str(op.ok): {"description": "Success", "content": {
                    "application/json": ref(op.answer) if op.answer is not None
                    else {"schema": {"type": "object"}}}},
                **{str(code): _error_response(code, ref(ErrorOut)) for code in op.statuses()},
            },
        }
        if op.role is None:
            spec["security"] = []
        elif op.role is not UserRole.VIEWER:
            spec["description"] = f"Role {op.role.value} or above."
        if op.body is not None:
            media = ref(op.body)
            if op.example is not None:
                media["example"] = op.example
            spec["requestBody"] = {"required": op.body_required,
                                   "content": {"application/json": media}}
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GTB JSON API",
            "version": "1",
            "description": "The panel's data and actions for scripts. Authenticate with "
                           "`Authorization: Bearer TOKEN` (`gtb users token NAME`). Times are "
                           "ISO 8601 in UTC, temperatures in °C; errors are in the language of "
                           "Accept-Language (French by default).",
        },
        "paths": paths,
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token of gtb users token"}},
        },
        "security": [{"bearer": []}],
    }


def _examples(site: Site) -> dict[str, str]:
    """Path parameters that exist: the first heated zone, the first cabinet."""
    found = {"cabinet": site.cabinets[0].id} if site.cabinets else {}
    for building in site.buildings:
        for zone in building.zones:
            if any(point.role is Role.HEATING_SETPOINT for point in zone.points):
                return {**found, "building": building.id, "zone": zone.id}
    return found


def _path_parameter(name: str, examples: dict[str, str]) -> dict[str, Any]:
    _, schema, description = PATH_PARAMETERS[name]
    parameter = {"name": name, "in": "path", "required": True, "schema": schema,
                 "description": description}
    if name in examples:
        parameter["example"] = examples[name]
    return parameter


def _query_parameters(model: type[Query] | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = {key: value for key, value in prop.items() if key != "title"}
        description = prop.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _error_response(code: int, content: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {"description": ERRORS[code],
                                "content": {"application/json": content}}
    if code == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response
