"""Walking the job listing: one small paginator per style, and the time window.

Each paginator is a tiny state machine in the manner of dlt's: it reads an answer
(``update``), then says whether there is a next page (``has_next``) and where
(``next_url``). The API has answered in four styles over its versions, sometimes
more than one at once; :class:`JobPager` asks the most explicit first:

1. :class:`LinkPaginator`: a ``rel="next"`` URL (``Link`` header, or ``links.next``
   in the body), relative ones resolved against the request, followed only on the
   API's own host;
2. :class:`PageNumberPaginator`: ``{"meta": {"page": 2, "pages": 5}, "data": [...]}``
   (the 2024-25 versions and the official SDKs): ``page=N+1`` until the last;
3. :class:`EnvelopePaginator`: ``{"data": [...], "has_more": ...}`` (or a ``Has-More``
   header) says whether to go on; the cursor moves;
4. :class:`CursorPaginator`: ``after=<id of the last job>`` until a short page.

Whatever the style, :class:`JobPager` ends every walk: a next URL already followed, or
a page with no job not seen before, is a :class:`~ittybit_frames.errors.PaginationError`;
a job seen on an earlier page (it moved while the walk went on) is passed over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import orjson

from ittybit_frames.client._config import check_job_id, clean_job_id
from ittybit_frames.client._decode import bad_answer
from ittybit_frames.client._transport import Headers
from ittybit_frames.errors import APIError, ConfigurationError, PaginationError
from ittybit_frames.vocabulary import created_ms, parse_when

__all__ = [
    "CursorPaginator",
    "EnvelopePaginator",
    "JobPager",
    "LinkPaginator",
    "Page",
    "PageNumberPaginator",
    "read_page",
    "window",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One answer of the listing: where it came from, what it said, the jobs in it."""

    url: str
    payload: Any
    headers: Headers
    items: list[dict[str, Any]]
    has_more: bool | None


def read_page(
    payload: Any, headers: Headers, url: str = ""
) -> tuple[list[dict[str, Any]], bool | None, list[dict[str, Any]]]:
    """The jobs of a listing answer, its ``has_more`` flag if it gave one, and a
    failure row for each item that is not a JSON object (the walk goes on without it).

    Raises
    ------
    APIError
        The answer is no list of jobs, or a page whose items are all non-objects (going
        on would end the walk there as if the listing were over).
    """
    has_more: bool | None = None
    header = headers.get("has-more")
    if header is not None:
        has_more = header.strip().lower() == "true"
    if isinstance(payload, dict):
        if isinstance(payload.get("has_more"), bool):
            has_more = payload["has_more"]
        payload = payload.get("data")
    if not isinstance(payload, list):
        raise APIError(
            "the job listing is neither a JSON array nor a {data: [...]} envelope",
            status_code=200,
            kind="bad_payload",
        )
    items = [j for j in payload if isinstance(j, dict)]
    if payload and not items:
        raise APIError(
            f"the job listing page {url} holds {len(payload)} items and none is a JSON "
            "object (a job): is the base URL the ittybit API?",
            status_code=200,
            kind="bad_payload",
        )
    strays = [
        {
            "job_id": "",
            "status_code": 200,
            "kind": "not_a_job",
            "message": f"item {i + 1} of the job listing page {url} is not a JSON object "
            f"(a {_json_type(item)}): skipped",
        }
        for i, item in enumerate(payload)
        if not isinstance(item, dict)
    ]
    if strays:
        logger.warning(
            "%d items of a job listing page are not JSON objects (not jobs): skipped",
            len(strays),
        )
    for job in items:
        if "id" in job:  # numeric IDs become strings; stray whitespace is dropped
            job["id"] = clean_job_id(job["id"])
    return items, has_more, strays


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) else "list"


class Paginator(Protocol):
    """A pagination style: reads an answer, then knows whether and where to go on."""

    def update(self, page: Page) -> bool:
        """Read ``page``; return whether this style decides what comes next."""
        ...

    @property
    def has_next(self) -> bool: ...

    def next_url(self) -> str: ...


def _next_link(headers: Headers, payload: Any) -> str | None:
    link = headers.get("link")
    if link:
        for part in link.split(","):
            section = part.split(";")
            if any(s.strip().replace(" ", "") in ('rel="next"', "rel=next") for s in section[1:]):
                return str(section[0]).strip().strip("<>")
    if isinstance(payload, dict):
        links = payload.get("links")
        if isinstance(links, dict) and isinstance(links.get("next"), str):
            return str(links["next"])
    return None


class LinkPaginator:
    """Follows the ``rel="next"`` URL the API gives, on the API's own host only."""

    def __init__(self, base_url: str) -> None:
        self._origin = urlsplit(base_url)[:2]
        self._next: str | None = None

    def update(self, page: Page) -> bool:
        link = _next_link(page.headers, page.payload)
        if link:
            try:  # a relative link ("/jobs?page=2") is relative to the page's own URL
                link = urljoin(page.url, link)
                origin = urlsplit(link)[:2]
            except ValueError:
                logger.warning("ignoring an unparsable pagination link")
                link = None
            else:
                if origin != self._origin:
                    logger.warning("ignoring a pagination link to another host")
                    link = None
        self._next = link
        return link is not None

    @property
    def has_next(self) -> bool:
        return self._next is not None

    def next_url(self) -> str:
        assert self._next is not None, "next_url() without a next page"
        return self._next


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PageNumberPaginator:
    """Asks for ``page=N+1`` while the answer's ``meta`` says there are more pages."""

    def __init__(self) -> None:
        self._url = ""
        self._page: int | None = None
        self._more = False

    def update(self, page: Page) -> bool:
        meta = page.payload.get("meta") if isinstance(page.payload, dict) else None
        number = _int(meta.get("page")) if isinstance(meta, dict) else None
        if meta is None or number is None:
            return False
        pages, total, limit = (
            _int(meta.get("pages")),
            _int(meta.get("total")),
            _int(meta.get("limit")),
        )
        if pages is None and total is not None and limit:
            pages = -(-total // limit)
        if pages is None:
            return False
        self._url, self._page, self._more = page.url, number, number < pages
        return True

    @property
    def has_next(self) -> bool:
        return self._more

    def next_url(self) -> str:
        assert self._page is not None, "next_url() before update()"
        parts = urlsplit(self._url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("page", "after")]
        query.append(("page", str(self._page + 1)))
        return urlunsplit(parts._replace(query=urlencode(query)))


class CursorPaginator:
    """Asks for the jobs ``after`` the last one seen; a short page is the last."""

    def __init__(self, base_url: str, params: dict[str, Any], page_size: int) -> None:
        self._base_url = base_url
        self._params = params
        self._page_size = page_size
        self._page: Page | None = None

    def update(self, page: Page) -> bool:
        self._page = page
        return True

    @property
    def has_next(self) -> bool:
        return self._page is not None and len(self._page.items) >= self._page_size

    def next_url(self) -> str:
        assert self._page is not None, "next_url() before update()"
        last = self._page.items[-1].get("id") if self._page.items else None
        if not isinstance(last, str):
            raise _stuck(
                f"cannot page on: the last job of the page has no id usable as the cursor "
                f"({str(last)[:40]!r})",
                self._page.url,
            )
        return f"{self._base_url}/jobs?{urlencode({**self._params, 'after': last})}"


class EnvelopePaginator(CursorPaginator):
    """Goes on while the answer says ``has_more``; moves like the cursor."""

    def update(self, page: Page) -> bool:
        self._page = page
        return page.has_more is not None

    @property
    def has_next(self) -> bool:
        return self._page is not None and self._page.has_more is True


@dataclass(frozen=True, kw_only=True)
class JobQuery:
    """A checked listing request: filters, order, page size, time window, resume point."""

    kind: str | None = None
    status: str | None = None
    since: Any = None
    until: Any = None
    order: Literal["asc", "desc"] = "desc"
    page_size: int = 100
    after: str | None = None

    def __post_init__(self) -> None:
        if self.order not in ("asc", "desc"):
            raise ConfigurationError("order must be 'asc' or 'desc'")
        if not 1 <= self.page_size <= 100:
            raise ConfigurationError("page_size must be from 1 to 100 (the API's limit)")

    def params(self) -> dict[str, Any]:
        """The query string's parameters, without the cursor."""
        params: dict[str, Any] = {"limit": self.page_size, "order": self.order}
        if self.kind:
            params["kind"] = self.kind
        if self.status:
            params["status"] = self.status
        return params


class JobPager:
    """Where the walk of the listing is: the URL to get now, how to go on, what was seen."""

    def __init__(self, base_url: str, query: JobQuery) -> None:
        self.since_ms, self.until_ms = parse_when(query.since), parse_when(query.until)
        self.order = query.order
        params = query.params()
        first = {**params, "after": check_job_id(query.after)} if query.after else params
        self.url = f"{base_url}/jobs?{urlencode(first)}"
        self._link = LinkPaginator(base_url)
        self._styles: tuple[Paginator, ...] = (
            self._link,
            PageNumberPaginator(),
            EnvelopePaginator(base_url, params, query.page_size),
            CursorPaginator(base_url, params, query.page_size),
        )
        self._urls = {self.url}
        self._ids: set[str] = set()
        self.pages = 0

    def fresh(self, url: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The jobs of the page read from ``url`` not seen on an earlier page.

        Raises
        ------
        PaginationError
            The page has jobs, all of them seen before: the server repeats a page.
        """
        self.pages += 1
        new = []
        for job in items:
            jid = job.get("id")
            # A job without a usable id (null, a float, a list) is told apart by its whole
            # content: kept once, and a page of such jobs seen before still ends the walk.
            seen = jid if isinstance(jid, str) else _fingerprint(job)
            if seen not in self._ids:
                self._ids.add(seen)
                new.append(job)
        if items and not new:
            raise _stuck(
                f"page {self.pages} of the job listing holds only jobs already seen: the "
                "server repeats a page (it ignores the cursor, or its next link loops)",
                url,
            )
        return new

    def peek(self, url: str, headers: Headers) -> str | None:
        """The next page's URL when the headers of the page from ``url`` give it (a
        ``Link`` header, which :meth:`advance` will follow too), else None.

        None too under a time window: the walk may end on this page's jobs, and a
        request started on the header's word would be wasted.
        """
        if self.since_ms is not None or self.until_ms is not None:
            return None
        if not self._link.update(Page(url, None, headers, [], None)):
            return None
        upcoming = self._link.next_url()
        return None if upcoming in self._urls else upcoming

    def advance(self, page: Page) -> bool:
        """Move to the page after ``page``; False when the walk is over.

        Raises
        ------
        PaginationError
            The next URL (link, page number or cursor) was followed before.
        """
        for style in self._styles:
            if style.update(page):
                if not style.has_next:
                    return False
                url = style.next_url()
                if url in self._urls:
                    raise _stuck(
                        f"the server's next page after page {self.pages} repeats a page "
                        f"already read ({type(style).__name__}): the walk would never end",
                        url,
                    )
                self._urls.add(url)
                self.url = url
                return True
        return False  # pragma: no cover - the cursor always decides

    def window(self, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """Keep the jobs of a page inside [since, until); say whether the walk is past it."""
        return window(items, self.since_ms, self.until_ms, self.order)


def _fingerprint(job: dict[str, Any]) -> str:
    """A job's whole content as text: the same for the same job served twice."""
    try:
        return "\0" + orjson.dumps(job, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):  # keys that are not strings, huge integers
        return "\0" + repr(job)


def _stuck(message: str, url: str) -> PaginationError:
    return bad_answer("pagination", f"{message}; stopped [GET {url}]", url, PaginationError)


def window(
    items: list[dict[str, Any]], since_ms: int | None, until_ms: int | None, order: str
) -> tuple[list[dict[str, Any]], bool]:
    """Keep the jobs of a page inside [since, until); say whether the walk is past it."""
    if since_ms is None and until_ms is None:
        return items, False
    kept = []
    for job in items:
        created = created_ms(job)
        if created is None:
            kept.append(job)  # cannot place it in time: keep it rather than lose it
            continue
        if order == "desc":
            if until_ms is not None and created >= until_ms:
                continue
            if since_ms is not None and created < since_ms:
                return kept, True
        else:
            if since_ms is not None and created < since_ms:
                continue
            if until_ms is not None and created >= until_ms:
                return kept, True
        kept.append(job)
    return kept, False
