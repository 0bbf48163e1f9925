"""What a GraphQL request would do: which mutations it holds (viewers may send none)."""
from __future__ import annotations

import json
from typing import Any, Iterable

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.language import FieldNode

RELOAD_MUTATIONS = {"reloadRepositoryLocation", "reloadWorkspace"}


class Unreadable(Exception):
    """The request holds a GraphQL document that cannot be parsed."""


def mutation_fields(query: str) -> set[str]:
    """Top-level fields of every mutation operation in the document; Unreadable if it does not parse."""
    if "mutation" not in query:  # the keyword is always spelled out
        return set()
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise Unreadable(str(exc.message)) from None
    fields: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.operation == OperationType.MUTATION:
            fields |= {s.name.value for s in definition.selection_set.selections if isinstance(s, FieldNode)}
            fields.add("mutation")  # fragments spread at the top level count too
    return fields


def request_queries(query_values: list[str], content_type: str, body: bytes) -> list[str]:
    """Every GraphQL document an HTTP request to /graphql carries (`?query=` values and body)."""
    queries = list(query_values)
    if not body:
        return queries
    if "application/graphql" in content_type:
        return queries + [body.decode("utf-8", "replace")]
    if "application/json" in content_type:
        try:
            data: Any = json.loads(body)
        except ValueError:
            return queries  # the webserver answers 400 itself
        return queries + list(_json_queries(data))
    return queries


def _json_queries(data: Any) -> Iterable[str]:
    for item in data if isinstance(data, list) else [data]:
        if isinstance(item, dict) and isinstance(item.get("query"), str):
            yield item["query"]


def websocket_query(message: str) -> str | None:
    """The document of a graphql-ws `start`/`subscribe` message, else None."""
    try:
        data = json.loads(message)
    except ValueError:
        return None
    payload = data.get("payload") if isinstance(data, dict) else None
    query = payload.get("query") if isinstance(payload, dict) else None
    return query if isinstance(query, str) else None
