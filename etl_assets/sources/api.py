"""API sources: page through a REST endpoint and turn its JSON records into chunks.

Pagination styles: `none`, `page` (page number), `offset` (offset/limit), `cursor` (the next cursor
is read from the response at `cursor_path`; a cursor that is an absolute URL is requested as is)
and `link_header` (RFC 8288 `Link: <...>; rel="next"`). Paging stops at an empty page, a page
shorter than `size`, or when there is no next cursor/link. A next URL on another host than the
first request is refused (the credentials would go with it).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import dagster as dg
import pyarrow as pa

from resources.http import BodyTooLarge, HttpClient, HttpResource, HttpResponse
from resources.templates import Secrets

from ..config.models import ApiSource, Pagination
from ..partitions import partition_window, render_placeholders
from ..tables import CHUNK_ROWS
from .errors import SourceError
from .files import read_files

if TYPE_CHECKING:
    from ..assets.common import AssetContext

Request = tuple[str, dict[str, Any]]


@dataclass
class PageStats:
    pages: int = 0
    bytes: int = 0


def read_api(
    client: HttpClient,
    src: ApiSource,
    endpoint: str,
    params: Mapping[str, Any],
    stats: PageStats,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[pa.Table]:
    """Every record of every page in chunks of one schema. Pages are spooled to a JSON Lines temp
    file as they arrive and read back by the jsonl file reader, so records are flattened and typed
    exactly as JSON files are (nested objects -> `a.b` columns, lists -> JSON text)."""
    with tempfile.TemporaryDirectory(prefix="etl-api-") as tmp:
        spool = Path(tmp) / "records.jsonl"
        with open(spool, "w", encoding="utf-8") as out:
            for records in fetch_pages(client, src, endpoint, params, stats):
                for record in records:
                    out.write(json.dumps(record if isinstance(record, dict) else {"value": record}, ensure_ascii=False) + "\n")
        yield from read_files([spool], "jsonl", {}, chunk_rows)


def fetch_pages(client: HttpClient, src: ApiSource, endpoint: str, params: Mapping[str, Any], stats: PageStats) -> Iterator[list[Any]]:
    """The records of each page, following the pagination until the last page."""
    pagination = src.pagination
    first_url = client.url_for(endpoint)
    request: Request | None = (first_url, {**params, **_first_params(pagination)})
    seen: set[str] = set()
    while request is not None:
        if stats.pages >= pagination.max_pages:
            raise SourceError(f"{client.display(first_url)}: more than pagination.max_pages={pagination.max_pages} pages; raise it if the API really has more")
        response = _get(client, src, request, stats)
        body = _json(client, response)
        records = records_at(body, src.records_path, client.display(response.url))
        stats.pages += 1
        yield records
        request = next_request(pagination, request, response, body, records, stats.pages)
        _check_next(client, first_url, request, seen)


def _get(client: HttpClient, src: ApiSource, request: Request, stats: PageStats) -> HttpResponse:
    try:
        response = client.request(src.method, request[0], request[1], max_bytes=src.max_bytes - stats.bytes)
    except BodyTooLarge:
        raise SourceError(f"{client.display(request[0])}: the responses pass max_bytes={src.max_bytes}; raise it if that much data is expected") from None
    stats.bytes += len(response.body)
    return response


def _json(client: HttpClient, response: HttpResponse) -> Any:
    try:
        return json.loads(response.body) if response.body.strip() else None
    except ValueError:
        excerpt = client.secrets.redact(response.body[:200].decode("utf-8", "replace"))
        raise SourceError(f"{client.display(response.url)}: the response is not JSON: {excerpt!r}") from None


def _first_params(p: Pagination) -> dict[str, Any]:
    if p.type == "page":
        return {p.page_param: p.start_page, **({p.size_param: p.size} if p.size_param and p.size else {})}
    if p.type == "offset":
        return {p.offset_param: 0, p.limit_param: p.size}
    return {}


def next_request(p: Pagination, request: Request, response: HttpResponse, body: Any, records: list[Any], pages: int) -> Request | None:
    """The request for the page after this one, or None when this was the last."""
    url, params = request
    if p.type == "none" or (not records and p.type != "link_header"):
        return None
    if p.type == "page":
        short = p.size is not None and len(records) < p.size
        return None if short else (url, {**params, p.page_param: p.start_page + pages})
    if p.type == "offset":
        assert p.size is not None
        return None if len(records) < p.size else (url, {**params, p.offset_param: pages * p.size})
    if p.type == "cursor":
        assert p.cursor_path is not None
        cursor = dig(body, p.cursor_path)
        if cursor in (None, "", False):
            return None
        if isinstance(cursor, str) and cursor.startswith(("http://", "https://")):
            return cursor, {}
        return url, {**params, p.cursor_param: cursor}
    link = response.links.get("next", {}).get("url")
    return (urljoin(response.url, link), {}) if link else None


def _check_next(client: HttpClient, first_url: str, request: Request | None, seen: set[str]) -> None:
    """Refuse a next page on another host, and a next page that was already requested (a loop)."""
    if request is None:
        return
    url, params = request
    if _origin(url) != _origin(first_url):
        raise SourceError(f"the next page is on another host ({client.display(url)}); refusing to send the credentials there")
    key = json.dumps([url, params], sort_keys=True, default=str)
    if key in seen:
        raise SourceError(f"{client.display(url)}: the API sent the same next page twice (a pagination loop)")
    seen.add(key)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def dig(body: Any, path: str) -> Any:
    """The value at a dot path (`data.items`, `meta.next_cursor`, `results.0`); None when absent."""
    value = body
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def records_at(body: Any, path: str | None, where: str) -> list[Any]:
    """The list of records in a response: at `records_path`, or the body itself."""
    value = body if not path else dig(body, path)
    if value is None:
        if path and isinstance(body, dict) and not _has_path(body, path):
            keys = ", ".join(map(str, body)) or "none"
            raise SourceError(f"{where}: records_path {path!r} is not in the response (top-level keys: {keys})")
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise SourceError(f"{where}: expected a list of records at {path or 'the top level'}, got {type(value).__name__}")
    return value


def _has_path(body: Any, path: str) -> bool:
    head, _, rest = path.partition(".")
    if not isinstance(body, dict) or head not in body:
        return False
    return not rest or body[head] is None or _has_path(body[head], rest)


# --- the asset's reader ----------------------------------------------------------------------------


def api_client(ctx: AssetContext, context: dg.AssetExecutionContext, secrets: Secrets) -> HttpClient:
    """The client for a source: its connection's resource (with the source's headers/auth on top),
    or a resource made from the source's own `url`, `headers` and `auth`."""
    src: ApiSource = ctx.config
    raw = ctx.loaded.raw[ctx.section][ctx.index]
    log = context.log.debug
    if src.connection:
        resource: HttpResource = getattr(context.resources, ctx.connection_resource_key(src.connection))
        return resource.client(raw.get("headers"), raw.get("auth"), log, secrets, src.timeout_seconds)
    return HttpResource.from_raw(raw).client(log=log, secrets=secrets)


def read_api_source(ctx: AssetContext, context: dg.AssetExecutionContext, meta: dict[str, Any]) -> Iterator[pa.Table]:
    """The `api` source reader (see `assets.sources.READERS`)."""
    src: ApiSource = ctx.config
    window = partition_window(ctx.loaded.config, context)
    endpoint = render_placeholders(src.endpoint, window)
    params = render_placeholders(dict(src.params), window)
    secrets = Secrets(ctx.loaded.secrets)
    stats = PageStats()
    with api_client(ctx, context, secrets) as client:
        url = client.display(client.url_for(endpoint))
        context.log.info(f"reading {url} ({src.pagination.type} pagination)")
        yield from read_api(client, src, endpoint, params, stats)
        meta.update(
            {
                "url": dg.MetadataValue.text(url),
                "pages": dg.MetadataValue.int(stats.pages),
                "requests": dg.MetadataValue.int(client.requests_sent),
                "bytes": dg.MetadataValue.int(stats.bytes),
            }
        )
        context.log.info(f"read {stats.pages} page(s), {stats.bytes} bytes in {client.requests_sent} request(s) from {url}")
