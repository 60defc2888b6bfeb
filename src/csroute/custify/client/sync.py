"""``Custify``: the synchronous client, a thin facade over ``AsyncCustify``.

It runs the async client on a private event loop in a daemon thread and waits for each call.
That keeps one implementation of everything that matters (the shared rate limiter, retries,
envelopes, errors, validation) instead of an httpx twin that would drift from it; the cost is
one thread per client. Methods are those of ``AsyncCustify``: coroutines return their result,
async iterators become plain iterators that fetch page by page.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from csroute.custify.client.client import AsyncCustify
from csroute.custify.client.envelopes import Record
from csroute.router.ratelimit import Limiter

G = TypeVar("G")
T = TypeVar("T")


class SyncGroup(Generic[G]):
    """One resource group of the async client, with blocking methods."""

    def __init__(self, group: G, run: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        self._group = group
        self._run = run

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._group, name)
        if not callable(attribute):
            return attribute

        def blocking(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._run(result)
            if isinstance(result, AsyncIterator):
                return _iterate(result, self._run)
            return result

        blocking.__doc__ = attribute.__doc__
        return blocking


def _iterate(
    pages: AsyncIterator[T], run: Callable[[Coroutine[Any, Any, Any]], Any]
) -> Iterator[T]:
    async def step() -> tuple[bool, Any]:
        try:
            return True, await anext(pages)
        except StopAsyncIteration:
            return False, None

    while True:
        more, item = run(step())
        if not more:
            return
        yield item


class Custify:
    """Same arguments as ``AsyncCustify``; use ``with``, or ``close()`` when done."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._async = AsyncCustify(*args, **kwargs)
        self.connection = self._async.connection
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="custify-client", daemon=True
        )
        self._thread.start()
        for name, value in vars(self._async).items():
            if not name.startswith("_") and name != "connection":
                setattr(self, name, SyncGroup(value, self._run))

    def __getattr__(self, name: str) -> Any:
        """Only reached for unknown names: the resource groups are instance attributes, set in
        ``__init__``; this tells type checkers that ``client.people`` and the like exist."""
        raise AttributeError(name)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def limiter(self) -> Limiter:
        return self._async.limiter

    @property
    def recorded(self) -> list[Record]:
        return self._async.recorded

    def request(self, method: str, path: str, *, params: Any = None, body: Any = None) -> Any:
        return self._run(self._async.request(method, path, params=params, body=body))

    def test_connection(self) -> Record:
        return self._run(self._async.test_connection())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self._async.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Custify:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
