#!/usr/bin/env python3
"""Writes Sources/ArbiterHTTP/Web/openapi.json, the OpenAPI 3.1 document of the HTTP/JSON door,
from the .proto files: every message as the JSON Schema of protobuf's canonical JSON mapping
(lowerCamelCase names, enums by name, 64-bit integers as strings), and the routes of
docs/http-api.md. Run after changing a .proto file or a route: .build/venv/bin/python
tools/make-openapi.py (needs protoc and the PyPI package protobuf). The test suite runs
schemathesis against the live server with this document."""
import json
import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Sources", "ArbiterHTTP", "Web", "openapi.json")
FD = descriptor_pb2.FieldDescriptorProto

INT32 = {FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32}
UINT32 = {FD.TYPE_UINT32, FD.TYPE_FIXED32}
INT64 = {FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64}
UINT64 = {FD.TYPE_UINT64, FD.TYPE_FIXED64}


def descriptors():
    protos = []
    # Server reflection is a gRPC-only stream: no HTTP route carries its messages.
    for base, _, files in os.walk(os.path.join(ROOT, "proto")):
        if os.path.relpath(base, os.path.join(ROOT, "proto")).startswith(os.path.join("grpc", "reflection")):
            continue
        protos += [os.path.relpath(os.path.join(base, f), os.path.join(ROOT, "proto")) for f in files if f.endswith(".proto")]
    with tempfile.NamedTemporaryFile(suffix=".pb") as out:
        subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--include_source_info",
                        "--descriptor_set_out", out.name, *sorted(protos)], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(open(out.name, "rb").read())
    return fds


def comments(file):
    """Leading comments by element path (messages, fields, enums)."""
    found = {}
    for location in file.source_code_info.location:
        text = (location.leading_comments or "").strip()
        if text:
            found[tuple(location.path)] = " ".join(line.strip() for line in text.splitlines())
    return found


def schema_name(full_name):
    # ".arbiter.v1.DecideRequest" -> "arbiter.v1.DecideRequest"
    return full_name.lstrip(".")


def field_schema(field, messages, enums, response):
    if field.type == FD.TYPE_MESSAGE:
        entry = messages.get(field.type_name)
        if entry is not None and entry.options.map_entry:
            value = entry.field[1]
            return {"type": "object", "additionalProperties": field_schema(value, messages, enums, response)}
        single = {"$ref": "#/components/schemas/" + schema_name(field.type_name)}
    elif field.type == FD.TYPE_ENUM:
        names = [v.name for v in enums[field.type_name].value]
        single = {"type": "string", "enum": names} if response else {
            "anyOf": [{"type": "string", "enum": names}, {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}]}
    elif field.type in INT64 | UINT64:
        low, high = (0, 2**64 - 1) if field.type in UINT64 else (-2**63, 2**63 - 1)
        # swift-protobuf reads no leading zeros; 19 digits stay within 64 bits.
        pattern = "^(0|[1-9][0-9]{0,18})$" if field.type in UINT64 else "^(0|-?[1-9][0-9]{0,17})$"
        as_string = {"type": "string", "pattern": pattern}
        single = as_string if response else {
            "anyOf": [as_string, {"type": "integer", "minimum": low, "maximum": high}]}
    elif field.type in INT32:
        single = {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1}
    elif field.type in UINT32:
        single = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}
    elif field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        number = {"type": "number"}
        special = {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}
        single = {"anyOf": [number, special]}
    elif field.type == FD.TYPE_BOOL:
        single = {"type": "boolean"}
    elif field.type == FD.TYPE_BYTES:
        single = {"type": "string", "contentEncoding": "base64"}
    else:
        single = {"type": "string"}
    if field.label == FD.LABEL_REPEATED:
        return {"type": "array", "items": single}
    return single


def enum_fields(fds):
    """(message, json field name) → (the enum's value names, the field's description)."""
    enums, found = {}, {}
    for file in fds.file:
        for enum in file.enum_type:
            enums["." + file.package + "." + enum.name] = [v.name for v in enum.value]
    for file in fds.file:
        notes = comments(file)
        for i, message in enumerate(file.message_type):
            for j, field in enumerate(message.field):
                if field.type == FD.TYPE_ENUM and field.type_name in enums:
                    found[(file.package + "." + message.name, field.json_name)] = (
                        enums[field.type_name], notes.get((4, i, 2, j), ""))
    return found


def message_schemas(fds, response):
    messages, enums, schemas = {}, {}, {}

    def collect(prefix, message):
        name = prefix + "." + message.name
        messages[name] = message
        for nested in message.nested_type:
            collect(name, nested)
        for enum in message.enum_type:
            enums[name + "." + enum.name] = enum

    docs = {}
    for file in fds.file:
        prefix = "." + file.package
        notes = comments(file)
        for i, message in enumerate(file.message_type):
            collect(prefix, message)
            docs[prefix + "." + message.name] = (notes, (4, i))
        for enum in file.enum_type:
            enums[prefix + "." + enum.name] = enum
    for name, message in messages.items():
        if message.options.map_entry:
            continue
        notes, path = docs.get(name, ({}, None))
        properties = {}
        for j, field in enumerate(message.field):
            schema = field_schema(field, messages, enums, response)
            note = notes.get(path + (2, j)) if path else None
            if note:
                schema = {**schema, "description": note}
            properties[field.json_name] = schema
        entry = {"type": "object", "properties": properties, "additionalProperties": False}
        if path and notes.get(path):
            entry["description"] = notes[path]
        schemas[schema_name(name)] = entry
    return schemas


# What the server checks beyond the types, per request message (docs/http-api.md): required
# fields, lengths and ranges. A field set to null is read as its default, as protobuf's JSON
# mapping says, so every request field also accepts null.
NONZERO_ID = {"anyOf": [{"type": "string", "pattern": "^[1-9][0-9]{0,18}$"},
                        {"type": "integer", "minimum": 1, "maximum": 2**64 - 1}]}
ID_TEXT = {"type": "string", "minLength": 1, "maxLength": 128}
# Text without control characters (Unicode's Cc: U+0000-U+001F, U+007F-U+009F).
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
CONSTRAINTS = {
    "arbiter.v1.DecideRequest": {
        "required": ["customerId", "channel"],
        "properties": {"customerId": NONZERO_ID, "maxOffers": {"type": "integer", "minimum": 0, "maximum": 50},
                       "requestId": {"type": "string", "maxLength": 128}}},
    "arbiter.v1.PersonalizeRequest": {
        "required": ["channel", "slots"],
        "properties": {"requestId": {"type": "string", "maxLength": 128},
                       "visitorId": {"type": "string", "maxLength": 64, "pattern": "^[!-~]*$"},
                       "slots": {"minItems": 1, "maxItems": 50}}},
    "arbiter.v1.Slot": {
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 128},
                       "contentType": {"type": "string", "maxLength": 128},
                       "count": {"type": "integer", "minimum": 0, "maximum": 50}}},
    "arbiter.v1.InteractionContext": {
        "properties": {"callReason": {"type": "string", "maxLength": 256},
                       "page": {"type": "string", "maxLength": 256},
                       "device": {"type": "string", "maxLength": 256},
                       "features": {"items": {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN"]}]}}}},
    "arbiter.v1.RecordOutcomesRequest": {
        "required": ["outcomes"], "properties": {"outcomes": {"minItems": 1, "maxItems": 10000}}},
    "arbiter.v1.OutcomeEvent": {
        "required": ["decisionId", "offerId", "outcome"],
        "properties": {"decisionId": ID_TEXT, "offerId": ID_TEXT, "value": {"type": "number"},
                       "declineReason": {"type": "string", "maxLength": 1000},
                       "timestampMillis": {"anyOf": [{"type": "string", "pattern": "^(0|[1-9][0-9]{0,12})$"},
                                                     {"type": "integer", "minimum": 0, "maximum": 9999999999999}]}}},
    "arbiter.v1.CallbackRequest": {
        "required": ["decisionId", "offerId"],
        "properties": {"decisionId": ID_TEXT, "offerId": ID_TEXT,
                       "visitorId": {"type": "string", "maxLength": 64}, "page": {"type": "string", "maxLength": 64},
                       "viewing": {"type": "string", "maxLength": 200},
                       "phoneNumber": {"type": "string", "maxLength": 32}}},
    "arbiter.v1.CallEvent": {
        "required": ["customerId"],
        "properties": {"customerId": NONZERO_ID, "callReason": {"type": "string", "maxLength": 64},
                       "phoneNumber": {"type": "string", "maxLength": 32}}},
    "arbiter.v1.AgentState": {"required": ["state"]},
    "arbiter.v1.RecordConsentsRequest": {
        "required": ["changes"], "properties": {"changes": {"minItems": 1, "maxItems": 100000}}},
    "arbiter.v1.ConsentChange": {
        "required": ["customerId", "channel", "purpose", "state", "source"],
        "properties": {"customerId": NONZERO_ID,
                       "source": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NO_CONTROL},
                       "timestampMillis": {"anyOf": [{"type": "string", "pattern": "^(0|[1-9][0-9]{0,12})$"},
                                                     {"type": "integer", "minimum": 0, "maximum": 9999999999999}]}}},
}
# Enums that must be set where they are required: every name but the UNSPECIFIED one.
REQUIRED_ENUMS = {("arbiter.v1.DecideRequest", "channel"), ("arbiter.v1.PersonalizeRequest", "channel"),
                  ("arbiter.v1.OutcomeEvent", "outcome"), ("arbiter.v1.AgentState", "state"),
                  ("arbiter.v1.ConsentChange", "channel"), ("arbiter.v1.ConsentChange", "purpose"),
                  ("arbiter.v1.ConsentChange", "state")}


def constrain(schemas, enums_by_field):
    for name, extra in CONSTRAINTS.items():
        schema = schemas[name]
        if "required" in extra:
            schema["required"] = extra["required"]
        for field, rules in extra.get("properties", {}).items():
            current = schema["properties"][field]
            if "anyOf" in rules or "type" in rules:
                description = current.get("description")
                current = {k: v for k, v in current.items() if k in ("type", "items")} if current.get("type") == "array" and "type" not in rules else dict(rules)
                if description:
                    current["description"] = description
            else:
                current = {**current, **rules}
            schema["properties"][field] = current
    for name, field in REQUIRED_ENUMS:
        names, description = enums_by_field[(name, field)]
        schemas[name]["properties"][field] = {
            "anyOf": [{"type": "string", "enum": [n for n in names if not n.endswith("UNSPECIFIED")]},
                      {"type": "integer", "minimum": 1, "maximum": len(names) - 1}], "description": description}
    # null is every request field's default.
    for schema in schemas.values():
        for field, value in list(schema.get("properties", {}).items()):
            if field in schema.get("required", []):
                continue
            schema["properties"][field] = {"anyOf": [value, {"type": "null"}]} if "description" not in value else {
                "anyOf": [{k: v for k, v in value.items() if k != "description"}, {"type": "null"}],
                "description": value["description"]}


def ref(name, response):
    return {"$ref": f"#/components/schemas/{'Response.' if response else ''}{name}"}


def json_body(name, response=True):
    return {"content": {"application/json": {"schema": ref(name, response)}}}


ERRORS = {
    "400": "Bad request: malformed JSON, a wrong type, an unknown field, a value out of range",
    "401": "Unauthenticated: no credential, or one the server does not accept (docs/security.md)",
    "403": "Permission denied: the credential lacks the role the operation needs",
    "404": "Not found: an unknown customer, decision or path",
    "405": "The path is not served with this method",
    "413": "The body is over the limit",
    "415": "The body is not JSON",
    "429": "Too many requests: the door's limit of requests in flight was reached (shed at once; try again), or a queue is full",
    "500": "The server could not answer",
    "503": "Not serving (shutting down)",
    "504": "Deadline exceeded: the X-Server-Timeout passed before the request started",
}

TIMEOUT = {"name": "X-Server-Timeout", "in": "header", "required": False,
           "schema": {"type": "string", "pattern": "^[0-9]{1,9}(\\.[0-9]{1,9})?$"},
           "description": "Seconds within which the answer is wanted, e.g. 0.25. 0 is already past (504). A decision "
                          "that cannot finish within it answers with the catalogue's fallback offers "
                          "(`fallback: true`)."}


def operation(summary, request=None, response=None, parameters=(), description=None, errors=("400", "404"),
              body_required=True, role="decide"):
    """An operation; `role` is the role it needs (None: open to all), stated in its description and
    its security requirement, with the 401 and 403 answers."""
    op = {"summary": summary, "responses": {}}
    if role:
        description = (description + " " if description else "") + f"Needs the role `{role}`."
        op["security"] = [{"bearer": []}, {"session": []}]
        errors = tuple(errors) + ("401", "403", "429")
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = list(parameters)
    if request:
        op["requestBody"] = {"required": body_required, **json_body(request, response=False)}
        errors = tuple(errors) + ("413", "415")
    if response:
        op["responses"]["200"] = {"description": "OK", **json_body(response)}
    for code in sorted(set(errors)):
        op["responses"][code] = {"description": ERRORS[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    op["responses"]["405"] = {"description": ERRORS["405"], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def session_operation(summary, request=False, errors=()):
    """An operation of the login session (open to all; JSON defined here, not by a proto)."""
    op = {"summary": summary, "responses": {"200": {"description": "OK", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}}}
    if request:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Login"}}}}
    for code in sorted(set(errors) | {"405"}):
        op["responses"][code] = {"description": ERRORS[code], "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return op


def document(fds):
    requests = message_schemas(fds, response=False)
    constrain(requests, enum_fields(fds))
    responses = message_schemas(fds, response=True)
    schemas = dict(requests)
    for name, schema in responses.items():
        text = json.dumps(schema).replace('"#/components/schemas/', '"#/components/schemas/Response.')
        schemas["Response." + name] = json.loads(text)
    schemas["Error"] = {
        "type": "object", "required": ["code", "message", "httpStatus"], "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "description": "The gRPC status code's name, e.g. INVALID_ARGUMENT"},
            "message": {"type": "string", "description": "What was wrong, naming the field"},
            "httpStatus": {"type": "integer"}}}
    schemas["Health"] = {"type": "object", "properties": {"status": {"type": "string"}}}
    schemas["Login"] = {
        "type": "object", "required": ["credential"], "additionalProperties": False,
        "properties": {"credential": {"type": "string", "minLength": 1,
                                      "description": "An API key or a signed token (docs/security.md)"}}}
    schemas["Session"] = {
        "type": "object", "required": ["required"], "additionalProperties": False,
        "properties": {
            "required": {"type": "boolean", "description": "Whether the server requires credentials at all"},
            "name": {"type": "string", "description": "Who logged in: the API key's name or the token's subject"},
            "roles": {"type": "array", "items": {"type": "string"}},
            "expires": {"type": "string", "description": "When the session ends (ISO 8601)"}}}
    customer = {"name": "customerId", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,18}$"}, "description": "The customer's id"}
    agent = {"name": "agentId", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "description": "The agent's id"}
    limit = {"name": "maxInteractions", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 0, "maximum": 50},
             "description": "How many recent interactions to include (0 means 10)"}
    v1 = "arbiter.v1."
    paths = {
        "/v1/decide": {"post": operation("Ranked offers for one customer on one channel",
                                         v1 + "DecideRequest", v1 + "DecideResponse", parameters=[TIMEOUT],
                                         errors=("400", "404", "504"))},
        "/v1/personalize": {"post": operation("One item per named slot of a page",
                                              v1 + "PersonalizeRequest", v1 + "PersonalizeResponse",
                                              parameters=[TIMEOUT], errors=("400", "404", "504"))},
        "/v1/outcomes": {"post": operation("Outcomes of offers made by earlier decisions",
                                           v1 + "RecordOutcomesRequest", v1 + "RecordOutcomesResponse")},
        "/v1/customers/{customerId}/profile": {"get": operation(
            "The agent's view of a customer", response=v1 + "CustomerProfile", parameters=[customer, limit],
            role="profile-read")},
        "/v1/consents": {"post": operation(
            "Record consents given or withdrawn, per customer, channel and purpose", v1 + "RecordConsentsRequest",
            v1 + "RecordConsentsResponse", role="profile-write",
            description="Each change is durable before the answer and obeyed by the next decision; a channel and "
                        "purpose with no recorded consent is not consented. Changes refused (an unknown customer, "
                        "a time older than the consent recorded) are counted and named in `errors`.")},
        "/v1/customers/{customerId}": {"delete": operation(
            "Erase a customer on request: profile and consents removed, a snapshot written without them, "
            "their interaction-log lines made anonymous", response=v1 + "EraseCustomerResponse",
            parameters=[customer, {"name": "reference", "in": "query", "required": False,
                                   "schema": {"type": "string", "maxLength": 128, "pattern": NO_CONTROL},
                                   "description": "The requester's reference (e.g. a case number), kept in the "
                                                  "audit log"}],
            errors=("400",), role="admin")},
        "/v1/status": {"get": operation("The live bundle, models and counts", response=v1 + "ServerStatus",
                                        errors=(), role="admin")},
        "/health": {"get": {"summary": "SERVING, or NOT_SERVING once shutdown begins", "responses": {
            "200": {"description": "Serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
            "503": {"description": "Not serving", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}},
        "/v1/benchmark/echo": {"post": operation("The no-op baseline: a decision made at start, no work",
                                                 v1 + "DecideRequest", v1 + "DecideResponse",
                                                 description="The request is checked as Decide checks it, the "
                                                             "customer is not looked up, and nothing is decided.")},
        "/v1/callbacks": {"post": operation("\"Call me\": queue a call-back with the customer's context",
                                            v1 + "CallbackRequest", v1 + "CallbackTicket",
                                            errors=("400", "404", "429"))},
        "/v1/calls": {"post": operation("An arriving call, announced by the telephony system",
                                        v1 + "CallEvent", v1 + "CallTicket", errors=("400", "404", "429"))},
        "/v1/contact-centre": {"get": operation("Open or closed, agents and the queue",
                                                response=v1 + "ContactCentreStatus", errors=())},
        "/v1/agents/{agentId}/events": {"get": {
            "summary": "Server-Sent Events for an agent's console: `call` when a call pops, `ping` when quiet",
            "description": "Needs the role `decide`.",
            "parameters": [agent], "security": [{"bearer": []}, {"session": []}],
            "responses": {"401": {"description": ERRORS["401"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "403": {"description": ERRORS["403"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "200": {"description": "An event stream that stays open",
                                  "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                          "400": {"description": ERRORS["400"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
        "/v1/agents/{agentId}/state": {"post": operation("Set an agent free (ends the call) or busy",
                                                         v1 + "AgentState", v1 + "AgentState",
                                                         parameters=[agent], errors=("400",))},
        "/v1/dashboard": {"get": operation("Everything the decision dashboard draws",
                                           response=v1 + "DashboardSnapshot", errors=(), role="admin")},
        "/metrics": {"get": {
            "summary": "Prometheus metrics (text format 0.0.4): requests by door, method and status, latency "
                       "histograms, decisions, offers, suppressions, pacing, the store (docs/observability.md)",
            "description": "Needs the role `admin`.", "security": [{"bearer": []}, {"session": []}],
            "responses": {"200": {"description": "The metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "401": {"description": ERRORS["401"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "403": {"description": ERRORS["403"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "405": {"description": ERRORS["405"], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
        "/v1/session": {
            "get": session_operation("Who this browser's login session is (the `arbiter_session` cookie)",
                                     errors=("401",)),
            "post": session_operation("Log in: exchange a credential for a session cookie (HttpOnly, "
                                      "SameSite=Strict) that stands in for it", request=True,
                                      errors=("400", "401", "413", "415", "429")),
            "delete": session_operation("Log out: close the session and clear its cookie", errors=()),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Arbiter HTTP/JSON API", "version": "1",
                 "description": "The same services and messages as gRPC (proto/arbiter/v1), in protobuf's "
                                "canonical JSON mapping. Errors carry the gRPC code and its HTTP status. "
                                "See docs/http-api.md."},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "An API key or a signed token (JWT) with the operation's role"},
            "session": {"type": "apiKey", "in": "cookie", "name": "arbiter_session",
                        "description": "A login session opened with POST /v1/session"}}},
    }


if __name__ == "__main__":
    doc = document(descriptors())
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {len(doc['paths'])} paths, {len(doc['components']['schemas'])} schemas")
