"""Per-record budgets: what one raw record may cost the processor before it is refused as poison.

Known-bad pages (`../shared/docs/reliability.md` §c) make the extractors hang or swell: trafilatura on a page of a
million table rows runs for minutes, spans multiply cells, lxml silently drops everything nested deeper than 256
levels, and a quadratic regex can meet a hostile string anywhere. Three bounds keep a worker turning:

- **Input size** (`max_body_chars`): a larger body is refused before anything parses it.
- **Input shape** (`check_html`): a regex pass counts the attributes of the widest start tag (libxml2 compares
  each attribute with all earlier ones: 50,000 in one tag cost close to a minute of uninterruptible C), then one
  lxml parse with trafilatura's own parser settings measures elements, depth and the table cells spans expand to.
  A page over a limit is refused instead of extracted — and a page as deep as libxml2's silent cut-off is refused
  instead of being published with its deep text missing.
- **Time** (`deadline`): one wall-clock budget per record, shared by the pure stages wrapped in `Bounded`. In a
  process's main thread a SIGALRM timer interrupts the stage at the deadline (CPython checks signals between
  bytecodes and inside `re` matching; a single long C call, such as one lxml parse, finishes first, which the
  size and shape bounds keep short). Signals only reach the main thread, so in any other thread the stage runs to
  its end and the record is refused when it returns: late, but with the same outcome.

Store-backed stages (chrome's template memory, dedupe, story) are never interrupted — an exception in the middle of
a database call could leave the connection or the claims half-done — so they are not wrapped; they run after the
pure extraction and are bounded by its output. A refused record raises `BudgetExceeded`, which the stage runner
counts (`newswire_record_budget_exceeded_total{stage,limit}`) and turns into `StageFailed`, so the worker sends it
to the dead-letter topic with the stage, the error class and a message naming the limit.
"""

from __future__ import annotations

import contextvars
import math
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator

from lxml import etree
from lxml import html as lxml_html

from newswire.settings import ProcessorSettings
from processors.article import Article, StageResult

if TYPE_CHECKING:  # the stage runner imports this module: no import back at run time
    from processors.stage import Stage

__all__ = ["BudgetExceeded", "Bounded", "HtmlShape", "LIMITS", "RecordLimits", "check_html", "deadline",
           "attributes_over", "measure_html", "record_clock"]

# The limit names: the values of the metric's `limit` label and the first word of a refusal's message.
LIMITS = ("body_chars", "html_attributes", "html_elements", "html_depth", "table_cells", "time", "memory")

# trafilatura caps a cell's colspan/rowspan at 100 (its `_MAX_SPAN`); a cell expands to at most 100 x 100 cells.
_SPAN_CAP = 100
_CELL_TAGS = frozenset({"td", "th"})

# One attribute of a start tag as libxml2 reads it: a name (a stray quote is part of it), then maybe "=" and a
# value, which when quoted may hold "<", ">" and spaces. Atomic groups and possessive quantifiers: a match never
# backtracks into a token, so a search costs one pass over each tag.
_ATTRIBUTE = r"""[\s/]++[^\s<>=/]++(?>\s*+=\s*+(?>"[^"]*+"|'[^']*+'|[^\s<>]*+))?+"""
_WHOLE_TAG = re.compile(r"<[A-Za-z][^\s<>/]*+(?>%s)*+" % _ATTRIBUTE)
_QUOTED_VALUE = re.compile(r"""\s*=\s*(?:"[^"]*"|'[^']*')""")
_EQUALS = re.compile(r"\s*=\s*")


@lru_cache(maxsize=8)
def _tag_with_attributes(count: int) -> re.Pattern[str]:
    """A start tag with at least `count` attributes."""
    return re.compile(r"<[A-Za-z][^\s<>/]*+(?>%s){%d}" % (_ATTRIBUTE, count))


class BudgetExceeded(Exception):
    """A record needs more than its budget allows: poison for the stage it was in (a dead letter, never a retry)."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"{limit}: {detail}")
        self.limit = limit
        self.detail = detail


@dataclass(frozen=True)
class RecordLimits:
    """The bounds on one record; `from_settings` reads them from `processor.*` settings."""

    time_seconds: float = 20.0  # wall-clock budget of one record's pure stages; 0 turns the deadline off
    max_body_chars: int = 5_000_000
    max_html_attributes: int = 1000  # in one start tag
    max_html_elements: int = 200_000
    max_html_depth: int = 200  # below libxml2's 256, where deeper content is silently dropped
    max_table_cells: int = 200_000  # cells once colspan/rowspan are expanded as trafilatura expands them

    @classmethod
    def from_settings(cls, options: ProcessorSettings) -> "RecordLimits":
        return cls(time_seconds=options.record_time_budget_seconds, max_body_chars=options.max_body_chars,
                   max_html_attributes=options.max_html_attributes, max_html_elements=options.max_html_elements, max_html_depth=options.max_html_depth,
                   max_table_cells=options.max_table_cells)


# -- input size and shape -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HtmlShape:
    """What a page costs to extract: elements, whether it reaches the depth limit, table cells after span expansion."""

    elements: int
    too_deep: bool
    table_cells: int


_PARSERS = threading.local()


def _parser() -> etree.HTMLParser:
    # trafilatura's own settings (utils.HTML_PARSER), so the tree measured is the tree it will walk. One parser per
    # thread (lxml parsers are not thread-safe; making one per call cost 2 % of the check). No huge_tree: with it,
    # 100k nested elements exhaust the C stack.
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml_html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8",
                                                        remove_comments=True, remove_pis=True)
    return parser


def _span(cell: Any, attribute: str) -> int:
    value = (cell.get(attribute) or "1").strip()
    return min(int(value), _SPAN_CAP) if value.isdecimal() and int(value) > 0 else 1


def attributes_over(html: str, limit: int) -> int:
    """Attributes of the first start tag holding more than `limit` of them; 0 when no tag does."""
    match = _tag_with_attributes(limit + 1).search(html)
    if match is None:
        return 0
    tag = _WHOLE_TAG.match(html, match.start()).group(0)  # the match stopped at limit + 1: count them all
    return len(_EQUALS.sub("=", _QUOTED_VALUE.sub("=v", tag[1:])).split()) - 1


def measure_html(html: str, max_depth: int = 256) -> HtmlShape:
    """Elements, depth (reaching `max_depth` or not) and expanded table cells of a page, as lxml parses it.

    XPath does the walking in C: counting every element, one path `/*/*/…` of `max_depth` steps for the depth, and
    Python only visits the cells that carry a span.
    """
    try:
        root = lxml_html.document_fromstring(html.encode("utf-8", "surrogatepass"), parser=_parser())
    except (etree.ParserError, ValueError):
        return HtmlShape(0, False, 0)  # no tree at all (empty, or nothing but whitespace): nothing to bound
    tree = root.getroottree()
    elements = int(tree.xpath("count(//*)"))
    # Fewer elements than levels cannot nest that deep: the path walk is skipped.
    too_deep = elements >= max_depth and bool(tree.xpath("boolean(" + "/*" * max_depth + ")"))
    cells = int(tree.xpath("count(//td|//th)"))
    if cells:  # most pages have no table: skipping the span query there saves 0.2 ms of the 1.5 ms per page
        for cell in tree.xpath("//td[@colspan or @rowspan]|//th[@colspan or @rowspan]"):
            cells += _span(cell, "colspan") * _span(cell, "rowspan") - 1
    return HtmlShape(elements, too_deep, cells)


def check_html(html: str, limits: RecordLimits) -> HtmlShape:
    """The page's shape; raises BudgetExceeded when its size or shape is over a limit."""
    if len(html) > limits.max_body_chars:
        raise BudgetExceeded("body_chars", f"{len(html)} characters > {limits.max_body_chars}")
    if attributes := attributes_over(html, limits.max_html_attributes):
        raise BudgetExceeded("html_attributes", f"{attributes} attributes in one tag > {limits.max_html_attributes}")
    shape = measure_html(html, limits.max_html_depth)
    if shape.elements > limits.max_html_elements:
        raise BudgetExceeded("html_elements", f"{shape.elements} elements > {limits.max_html_elements}")
    if shape.too_deep:
        raise BudgetExceeded("html_depth", f"elements nested {limits.max_html_depth}+ levels deep (libxml2 drops "
                                           f"what is nested deeper than 255)")
    if shape.table_cells > limits.max_table_cells:
        raise BudgetExceeded("table_cells", f"{shape.table_cells} table cells once spans expand > "
                                            f"{limits.max_table_cells}")
    return shape


# -- time -----------------------------------------------------------------------------------------------------
def _can_interrupt() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def deadline(seconds: float, what: str = "record") -> Iterator[None]:
    """Raise BudgetExceeded('time') in the block once `seconds` have passed (main thread only; else a no-op).

    Plays well with other users of SIGALRM (pytest-timeout, an outer deadline): when their timer is due first it
    fires for them, and their handler and remaining time are restored on the way out.
    """
    if seconds <= 0 or math.isinf(seconds) or not _can_interrupt():
        yield
        return
    started = time.monotonic()
    ours_at = started + seconds
    outer_handler = signal.getsignal(signal.SIGALRM)
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    outer_at = started + outer_delay if outer_delay > 0 else None

    def on_alarm(signum: int, frame: Any) -> None:
        nonlocal outer_at
        now = time.monotonic()
        if outer_at is not None and outer_at <= now + 1e-3 and outer_at < ours_at:
            outer_at = None  # the outer timer's turn: hand it the signal, then re-arm ours
            signal.setitimer(signal.ITIMER_REAL, max(ours_at - now, 1e-3))
            if callable(outer_handler):
                outer_handler(signum, frame)
            return
        raise BudgetExceeded("time", f"{what} still running after {seconds:g}s")

    signal.signal(signal.SIGALRM, on_alarm)
    first = min(ours_at, outer_at) if outer_at is not None else ours_at
    signal.setitimer(signal.ITIMER_REAL, max(first - started, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_at is not None:
            signal.setitimer(signal.ITIMER_REAL, max(outer_at - time.monotonic(), 1e-3), outer_interval)


# The monotonic time at which the record being processed runs out of budget (None: no record clock running).
_record_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("record_deadline", default=None)


@contextmanager
def record_clock(seconds: float) -> Iterator[None]:
    """Start one record's time budget; the `Bounded` stages run inside it share what is left of it."""
    token = _record_deadline.set(time.monotonic() + seconds if seconds > 0 else None)
    try:
        yield
    finally:
        _record_deadline.reset(token)


def _is_markup(article: Article) -> bool:
    """The extract stage parses the body as HTML: a page, or a feed's own HTML content."""
    return article.raw.content_type != "text/plain"


class Bounded:
    """A pure stage run within the record's budget: the body's size and shape checked first (`inspect_input`,
    for the stage that parses it), then the stage under the deadline of what is left of the record's time."""

    def __init__(self, stage: Stage, limits: RecordLimits, *, inspect_input: bool = False) -> None:
        self.stage = stage
        self.limits = limits
        self.inspect_input = inspect_input
        self.name = stage.name

    def _time_left(self) -> float:
        ends = _record_deadline.get()
        if ends is None:  # called outside a record clock (a stage used on its own): the whole budget
            return self.limits.time_seconds if self.limits.time_seconds > 0 else math.inf
        return ends - time.monotonic()

    def __call__(self, article: Article) -> StageResult:
        left = self._time_left()
        if left <= 0:
            raise BudgetExceeded("time", f"record out of time before stage {self.name!r}")
        started = time.monotonic()
        if self.inspect_input and _is_markup(article):
            check_html(article.raw.body, self.limits)
        remaining = left - (time.monotonic() - started)
        if remaining <= 0:
            raise BudgetExceeded("time", f"record out of time after checking its input for {self.name!r}")
        with deadline(remaining, f"stage {self.name!r}"):
            result = self.stage(article)
        if time.monotonic() - started > left:  # not interruptible here (a thread): refused when it returns
            raise BudgetExceeded("time", f"stage {self.name!r} took {time.monotonic() - started:.1f}s, "
                                         f"over the record's budget")
        return result
