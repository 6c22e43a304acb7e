"""Page numbers without counting every row (issue 19): a list counts at most up to the end of the page asked for
(and never fewer than COUNT_CAP rows), so a page of a 100,000-row catalog reads a few thousand index entries at
most. Below the cap the count is exact ("Page 2 of 5"); above it the page says "more than N" and offers Next."""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.utils.functional import cached_property

COUNT_CAP = 1000


class CappedPaginator(Paginator):
    """A Paginator whose `count` stops at `upto` rows; `exact` says whether it stopped early (then `count` is a floor
    and there is at least one more page after the one asked for)."""

    def __init__(self, object_list, per_page, *, upto: int):
        super().__init__(object_list, per_page)
        self.upto = upto

    @cached_property
    def counted(self) -> int:
        # COUNT over a LIMITed subquery: the database stops after `upto + 1` rows of the (index-ordered) list.
        return self.object_list.order_by()[: self.upto + 1].count()

    @cached_property
    def exact(self) -> bool:
        return self.counted <= self.upto

    @cached_property
    def count(self) -> int:
        return min(self.counted, self.upto)

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return pages if self.exact else pages + 1


def capped_page(object_list, number, per_page: int, *, cap: int = COUNT_CAP) -> Page:
    """The page `number` (text from the URL; bad or out-of-range numbers give the first or last page, like
    Paginator.get_page) of `object_list`, counting rows only up to max(cap, end of that page)."""
    try:
        wanted = max(1, int(number))
    except (TypeError, ValueError):
        wanted = 1
    wanted = min(wanted, 100_000)  # a page number from the URL must not make the count unbounded
    paginator = CappedPaginator(object_list, per_page, upto=max(cap, wanted * per_page))
    try:
        return paginator.page(wanted)
    except (PageNotAnInteger, EmptyPage):
        return paginator.page(paginator.num_pages)
