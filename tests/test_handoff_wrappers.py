"""The hand-off wrappers (runtime/handoffs.py) of methods of ``self`` alone take ``self`` alone: the same
signature and errors as the original, the same edges, without the cost of ``*args, **kwargs``."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import interlace
from interlace.runtime import handoffs

pytestmark = pytest.mark.timeout(60)


class Box:
    def done(self) -> bool:
        return True

    def put(self, item: int) -> None:
        pass

    async def take(self) -> int:
        return 1


def test_a_method_of_self_alone_is_wrapped_by_one_of_self_alone(monkeypatch) -> None:
    emitted = []
    monkeypatch.setattr(handoffs, "_emit", lambda kind, key: emitted.append((kind, key)))
    key = lambda obj, *rest, **kw: ("box", id(obj))  # noqa: E731
    done = handoffs._wait_after(key, only_if_true=True)(Box.done)
    take = handoffs._wait_after_await(key)(Box.take)
    put = handoffs._signal_before(key)(Box.put)

    def params(fn):
        return list(inspect.signature(fn, follow_wrapped=False).parameters)

    for wrapper, original in ((done, Box.done), (take, Box.take)):
        assert params(wrapper) == ["self"]
        assert wrapper.__wrapped__ is original and wrapper.__qualname__ == original.__qualname__
    assert params(put) == ["self", "args", "kwargs"]  # (another signature: the general wrapper)
    with pytest.raises(TypeError, match=r"^Box\.done\(\) takes 1 positional argument but 2 were given$"):
        done(Box(), 1)
    boxes = []

    def program() -> None:  # (the edges are told while an execution with observers runs)
        box = Box()
        boxes.append(box)
        assert done(box) is True and put(box, 3) is None and asyncio.run(take(box)) == 1

    assert interlace.explore(program, executions=1, seed=0, strategy="pct").ok
    mine = [e for e in emitted if e[1][0] == "box"]
    assert mine == [("wait", ("box", id(boxes[0]))), ("signal", ("box", id(boxes[0]))), ("wait", ("box", id(boxes[0])))]
