"""The rewriter: exact hook events, unchanged evaluation order, identical exceptions."""

from __future__ import annotations

import ast
import sys
import textwrap

import pytest

from interlace.instrument import compile_source, is_instrumented_code, rewrite
from interlace.instrument.scopes import CELL, SETTLED, analyze
from interlace.runtime import hooks

pytestmark = pytest.mark.timeout(60)


# Compiled from a string: re-instrumenting loaded test modules in place (as ``explore`` does) must
# never instrument the recorder that the hooks call.
_FAKE_NS: dict = {"__name__": "il_fake_recorder"}
exec(compile(textwrap.dedent("""
class Fake:

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.objs: list[object] = []
        self.sites: list[tuple] = []

    capture_values = False
    reads_first = False
    def observe(self, value):
        pass
    def access(self, kind, obj, name, site, *value):
        self.log.append((kind, name, site[1]))
        self.objs.append(obj)
        self.sites.append(site)

    def callee(self, fn, site):
        return self.call(fn, site)

    def call(self, fn, site, *rest):
        self.log.append(("call", getattr(fn, "__name__", type(fn).__name__), site[1]))
        self.objs.append(fn)
        self.sites.append(site)
        return fn

    def with_manager(self, m, site):
        self.log.append(("with", type(m).__name__, site[1]))
        self.objs.append(m)
        self.sites.append(site)
        return m

    def loop(self, site):
        self.log.append(("loop", None, site[1]))
        self.objs.append(None)
        self.sites.append(site)

    def loop_entered(self):
        self.log.append(("enter", None, None))

    def loop_exited(self):
        self.log.append(("exit", None, None))

def execute(set_active, code, ns, active):
    fake = Fake()
    set_active(fake if active else None)
    try:
        exec(code, ns)
    finally:
        set_active(None)
    return ns, fake
"""), "<fake>", "exec"), _FAKE_NS)
Fake = _FAKE_NS["Fake"]


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run(text: str, ns: dict | None = None, filename: str = "<test>", active: bool = True):
    code = compile_source(src(text), filename)
    ns = {"__name__": "testmod"} if ns is None else ns
    return _FAKE_NS["execute"](hooks.set_active, code, ns, active)


def accesses(fake: Fake) -> list[tuple]:
    return [e for e in fake.log if e[0] in ("read", "write", "delete")]


# -- names --------------------------------------------------------------------------------------------


def test_global_read_write_augmented_delete():
    ns, fake = run("""
        x = 1
        y = x + 2
        x += y
        del y
    """)
    assert fake.log == [
        ("write", "x", 1), ("read", "x", 2), ("write", "y", 2),
        ("read", "x", 3), ("read", "y", 3), ("write", "x", 3), ("delete", "y", 4),
    ]
    assert ns["x"] == 4 and "y" not in ns
    assert all(o is ns for o in fake.objs)


def test_global_from_function_and_builtins_not_instrumented():
    ns, fake = run("""
        G = 0
        def f(a):
            global G
            G = G + len(a)
            return G
        r = f([1, 2])
    """)
    assert fake.log == [
        ("write", "G", 1), ("call", "f", 6), ("read", "G", 4), ("call", "len", 4), ("write", "G", 4),
        ("read", "G", 5), ("write", "r", 6),
    ]
    assert ns["r"] == 2


def test_cell_in_owner_and_inner():
    ns, fake = run("""
        def outer():
            n = 0
            def inc():
                nonlocal n
                n += 1
                return n
            inc()
            return n, inc
        r = outer()
    """)
    assert fake.log == [
        ("call", "outer", 9), ("write", "n", 2), ("call", "inc", 7), ("read", "n", 5), ("write", "n", 5),
        ("read", "n", 6), ("read", "n", 8), ("write", "r", 9),
    ]
    key = ("<test>", 1, "outer", "n")
    assert fake.objs[1] == key and fake.objs[3] == key and fake.objs[6] == key
    assert ns["r"][0] == 1


def test_cell_delete():
    ns, fake = run("""
        def f():
            v = 1
            g = lambda: v
            del v
            return g
        g = f()
    """)
    key = ("<test>", 1, "f", "v")
    assert ("delete", "v", 4) in fake.log
    assert fake.objs[fake.log.index(("delete", "v", 4))] == key
    with pytest.raises(NameError):
        ns["g"]()


def test_locals_not_instrumented():
    ns, fake = run("""
        def f(a):
            b = a + 1
            c = [b]
            b += 2
            i = 0
            for i in range(2):
                c.append(i)
            x, y = c, b
            return b + len(c) + len(x) + y
        r = f(1)
    """)
    assert accesses(fake) == [("write", "r", 10)]
    assert ("loop", None, 6) in fake.log
    assert ns["r"] == f_plain(1)


def f_plain(a):
    b = a + 1
    c = [b]
    b += 2
    for i in range(2):
        c.append(i)
    x, y = c, b
    return b + len(c) + len(x) + y


def test_comprehension_reads_global_on_every_version():
    ns, fake = run("""
        G = 2
        def f(n):
            k = 10
            return [G * i + k for i in range(n)], {i: G for i in range(1)}, list(G for _ in range(1))
        r = f(3)
    """)
    reads = [e for e in fake.log if e[0] == "read"]
    assert reads == [("read", "G", 4)] * 5
    assert ns["r"] == ([10, 12, 14], {0: 2}, [2])


def test_lambda_capture_is_a_cell_comprehension_capture_is_not():
    ns, fake = run("""
        def f():
            a = 1
            b = 2
            xs = [a for _ in range(2)]
            g = lambda: b
            return xs, g()
        r = f()
    """)
    acc = accesses(fake)
    assert ("read", "a", 4) not in acc
    assert acc == [("write", "b", 3), ("read", "b", 5), ("write", "r", 7)]
    assert ns["r"] == ([1, 1], 2)


def _classified(body: str, name: str = "v") -> str:
    tree = ast.parse("def f(p):\n" + textwrap.indent(body, "    "))
    info = analyze(tree)
    f = info.node_scopes[tree.body[0]]
    kind, owner = info.classify(f, name)
    assert owner is f
    return kind


@pytest.mark.parametrize("body", [
    "v = 1\ng = lambda: v",
    "v = w = 1\nclass C:\n    def m(self):\n        return v",  # at any depth
    "v = 1\nfor _ in (1, 2):\n    g = lambda: v",  # closures made in a loop after the binding
])
def test_a_cell_bound_once_before_any_closure_reads_it_is_settled(body):
    assert _classified(body) == SETTLED
    assert _classified("g = lambda: p", "p") == SETTLED  # a parameter never bound again


@pytest.mark.parametrize("body", [
    "v = 1\ng = lambda: v\nv = 2",  # bound again after the closure is made
    "g = lambda: v\nv = 1",  # bound after the closure is made: a thread running it may read first
    "v = g = lambda: v",  # in the statement that makes the closure
    "for v in (1, 2):\n    pass\ng = lambda: v",  # bound by a loop
    "if p:\n    v = 1\ng = lambda: v",  # bound inside a block
    "v = 1\nv += 1\ng = lambda: v",  # bound twice
    "v = 1\ndef h():\n    nonlocal v\ng = lambda: v",  # a nonlocal anywhere
    "v = 1\nt = list(v := i for i in range(2))\ng = lambda: v",  # a generator's walrus, run lazily
    "v = 1\ndel v\ng = lambda: v",
], ids=["rebound", "bound-late", "same-statement", "loop", "block", "augmented", "nonlocal", "genexp-walrus",
        "deleted"])
def test_a_cell_that_can_be_bound_again_is_not_settled(body):
    assert _classified(body) == CELL
    assert _classified("p = 2\ng = lambda: p", "p") == CELL  # a parameter bound again


def test_a_settled_cells_key_says_so_and_is_still_a_scheduling_point():
    ns, fake = run("""
        def f(p):
            box = [0]
            def g():
                box[0] = p
                n = 1
                def h():
                    return n
                n = 2
                return box[0] + h()
            return g()
        r = f(2)
    """)
    acc = accesses(fake)
    assert acc == [("write", "box", 2), ("read", "p", 4), ("read", "box", 4), ("write", 0, 4), ("write", "n", 5),
                   ("write", "n", 8), ("read", "box", 9), ("read", 0, 9), ("read", "n", 7), ("write", "r", 11)]
    keys = [obj for (kind, _, _), obj in zip(fake.log, fake.objs, strict=True) if kind in ("read", "write")]
    settled = [name for (_, name, _), key in zip(acc, keys, strict=True)
               if type(key) is tuple and key[4:] == (SETTLED,)]
    assert settled == ["box", "p", "box", "box"]  # n is bound after h is made: a cell like any other
    assert ns["r"] == 4


def test_class_body_names_are_class_local():
    ns, fake = run("""
        G = 1
        class C:
            a = 1
            b = a + G
            a += 1
            def m(self):
                return 1
    """)
    assert fake.log == [("write", "G", 1), ("read", "G", 4)]
    assert ns["C"].a == 2 and ns["C"].b == 2


def test_class_in_function_reads_free_variable():
    ns, fake = run("""
        def f():
            v = 5
            class C:
                w = v
                def m(self):
                    return v
            return C
        C = f()
        r = C().m()
    """)
    acc = accesses(fake)
    assert acc == [
        ("write", "v", 2), ("read", "v", 4), ("write", "C", 8), ("read", "v", 6), ("write", "r", 9),
    ]
    assert ns["r"] == 5 and ns["C"].w == 5


# -- attributes and subscripts ----------------------------------------------------------------------


def test_attribute_read_write_delete_augmented():
    ns, fake = run("""
        class O:
            pass
        def f(o):
            o.a = 1
            o.a += 2
            v = o.a
            del o.a
            return v
        r = f(O())
    """)
    assert accesses(fake) == [
        ("write", "a", 4), ("read", "a", 5), ("write", "a", 5), ("read", "a", 6), ("delete", "a", 7),
        ("write", "r", 9),
    ]
    assert ns["r"] == 3


def test_subscript_read_write_delete_augmented():
    ns, fake = run("""
        def f(d):
            d['k'] = 1
            d['k'] += 5
            w = d['k']
            del d['k']
            return w, d
        r = f({})
    """)
    assert accesses(fake) == [
        ("write", "k", 2), ("read", "k", 3), ("write", "k", 3), ("read", "k", 4), ("delete", "k", 5),
        ("write", "r", 7),
    ]
    assert ns["r"] == (6, {})


def test_slices():
    ns, fake = run("""
        class K:
            def __getitem__(self, key):
                return key
        def f(a, lst):
            lst[1:3] = [9]
            lst[:1] += [0]
            return a[1:3], a[::2], a[1:2, 3], a[:], lst[-1:], lst
        r = f(K(), [1, 2, 3, 4])
    """)
    names = [e[1] for e in accesses(fake)]
    assert names == [slice(1, 3, None), slice(None, 1, None), slice(None, 1, None),
                     slice(1, 3, None), slice(None, None, 2), (slice(1, 2, None), 3),
                     slice(None, None, None), slice(-1, None, None), "r"]
    assert ns["r"] == (slice(1, 3), slice(None, None, 2), (slice(1, 2), 3), slice(None), [4], [1, 0, 9, 4])


def test_private_names_are_mangled():
    ns, fake = run("""
        class _Priv:
            def __init__(self):
                self.__x = 1
                self.__dunder__ = 2
            def get(self):
                return self.__x
        class __Weird:
            def __init__(self):
                self.__y = 3
        class ___:
            def __init__(self):
                self.__z = 4
        r = _Priv().get(), __Weird().__dict__, ___().__dict__
    """)
    names = [e[1] for e in accesses(fake) if e[0] in ("read", "write") and e[1] not in ("r", "__dict__")]
    assert names == ["_Priv__x", "__dunder__", "_Priv__x", "_Weird__y", "__z"]
    assert ns["r"][0] == 1 and ns["r"][1] == {"_Weird__y": 3} and ns["r"][2] == {"__z": 4}


# -- assignments with several or structured targets -----------------------------------------------------


def test_unpacking_nested_starred_mixed_targets():
    ns, fake = run("""
        G = None
        class O:
            pass
        def f(o, d):
            global G
            a, (o.x, *d['s']), G = 1, (2, 3, 4), 5
            return a
        o = O(); d = {}
        r = f(o, d)
    """)
    acc = [e for e in accesses(fake) if e[2] == 6]
    assert acc == [("write", "x", 6), ("write", "s", 6), ("write", "G", 6)]
    assert ns["r"] == 1 and ns["o"].x == 2 and ns["d"] == {"s": [3, 4]} and ns["G"] == 5


def test_module_level_unpacking_does_not_leak_temporaries():
    ns, fake = run("""
        class O:
            pass
        o = O()
        a, o.b = 1, 2
        for o.c in range(2):
            pass
        for i in []:
            pass
        x = o.d = 7
        class C:
            p, o.e = 3, 4
    """)
    assert not [k for k in ns if k.startswith("_il_")]
    assert not [k for k in vars(ns["C"]) if k.startswith("_il_")]
    assert (ns["a"], ns["o"].b, ns["o"].c, ns["x"], ns["o"].d, ns["C"].p, ns["o"].e) == (1, 2, 1, 7, 7, 3, 4)


def test_multiple_targets():
    ns, fake = run("""
        class O:
            pass
        def f(o, d):
            global H
            a = o.b = d[0] = H = [1]
            return a
        o = O(); d = {}
        r = f(o, d)
    """)
    assert [e for e in accesses(fake) if e[2] == 5] == [("write", "b", 5), ("write", 0, 5), ("write", "H", 5)]
    assert ns["r"] is ns["o"].b is ns["d"][0] is ns["H"]


def test_for_loop_attribute_target_and_continue():
    ns, fake = run("""
        class O:
            pass
        def f(o):
            for o.i in range(3):
                if o.i == 1:
                    continue
            return o.i
        r = f(O())
    """)
    body = [e for e in fake.log if e[2] in (4, 5, 6)]
    assert body == [
        ("call", "range", 4),
        ("write", "i", 4), ("read", "i", 5), ("loop", None, 4),
        ("write", "i", 4), ("read", "i", 5), ("loop", None, 4),
        ("write", "i", 4), ("read", "i", 5), ("loop", None, 4),
    ]
    assert ns["r"] == 2


def test_while_loop_and_continue():
    ns, fake = run("""
        def f():
            n = 0
            while n < 3:
                n += 1
                if n == 2:
                    continue
            else:
                n += 10
            return n
        r = f()
    """)
    assert [e for e in fake.log if e[0] == "loop"] == [("loop", None, 3)] * 3
    assert ns["r"] == 13


def test_a_loop_whose_test_reads_shared_state_says_where_it_begins_and_where_its_test_ends_it():
    ns, fake = run("""
        box = [0]
        def f():
            n = 0
            while n < 2:
                n += 1
            while not box[0]:
                box[0] = 1
            else:
                n += 10
            while box[0]:
                break
            return n
        r = f()
    """)
    marks = [e[:2] for e in fake.log if e[0] in ("enter", "exit", "loop", "read")]
    assert marks == [
        ("loop", None), ("loop", None),  # ``n < 2`` reads only locals: no marks
        ("enter", None), ("read", "box"), ("read", 0), ("read", "box"), ("loop", None),
        ("read", "box"), ("read", 0), ("exit", None),
        ("enter", None), ("read", "box"), ("read", 0),  # left by ``break``: not by its test
    ]
    assert ns["r"] == 12


def test_walrus_to_global_and_cell():
    ns, fake = run("""
        def f():
            global W
            return [(W := i) for i in range(3)]
        r = f()
        if (V := 5) > 3:
            pass
        def g():
            c = 0
            h = lambda: c
            [(c := j) for j in range(2)]
            return h()
        s = g()
    """)
    assert [e for e in accesses(fake) if e[2] == 3] == [("write", "W", 3)] * 3
    assert ("write", "V", 5) in fake.log
    assert [e for e in accesses(fake) if e[2] == 10] == [("write", "c", 10)] * 2
    assert ns["r"] == [0, 1, 2] and ns["W"] == 2 and ns["V"] == 5 and ns["s"] == 1


def test_annotated_assignment():
    ns, fake = run("""
        from __future__ import annotations
        class O:
            pass
        x: Undefined = 1
        y: int
        o = O()
        o.a: int = 2
        def f():
            z: NotDefinedEither = 3
            return z
        r = f()
    """)
    assert accesses(fake) == [
        ("write", "x", 4), ("write", "o", 6), ("read", "o", 7), ("write", "a", 7), ("write", "r", 11),
    ]
    assert ns["__annotations__"] == {"x": "Undefined", "y": "int"}
    assert ns["r"] == 3 and ns["o"].a == 2


# -- calls, with ------------------------------------------------------------------------------------


def test_calls_super_locals_vars():
    ns, fake = run("""
        class A:
            def m(self):
                return 'A'
        class B(A):
            def m(self):
                return 'B' + super().m()
            def n(self):
                return __class__.__name__
        def f():
            x = 1
            return sorted(locals()), B().m(), B().n(), sorted(vars(A))[0], len(dir())
        r = f()
    """)
    assert ns["r"] == (["x"], "BA", "B", "__dict__", 1)
    calls = [e for e in fake.log if e[0] == "call"]
    assert calls == [
        ("call", "f", 12), ("call", "sorted", 11), ("call", "B", 11), ("call", "m", 11), ("call", "m", 6),
        ("call", "B", 11), ("call", "n", 11), ("call", "sorted", 11), ("call", "vars", 11),
        ("call", "len", 11),
    ]


def test_call_argument_order_and_method_receiver_is_instrumented():
    ns, fake = run("""
        class O:
            def m(self, *a, **k):
                return a, k
        obj = O()
        r = obj.m(1, *[2], k=3, **{'z': 4})
    """)
    assert fake.log[-3:] == [("read", "obj", 5), ("call", "m", 5), ("write", "r", 5)]
    assert ns["r"] == ((1, 2), {"k": 3, "z": 4})


def test_with_statement_order():
    ns, fake = run("""
        class CM:
            def __enter__(self):
                return 5
            def __exit__(self, *a):
                return False
        class O:
            pass
        def f(o):
            with CM() as o.v, CM() as w:
                return o.v + w
        r = f(O())
    """)
    assert [e for e in fake.log if e[2] in (9, 10)] == [
        ("call", "CM", 9), ("with", "CM", 9), ("write", "v", 9), ("call", "CM", 9), ("with", "CM", 9),
        ("read", "v", 10),
    ]
    assert ns["r"] == 10


def test_exec_eval_strings_are_instrumented():
    ns, fake = run("""
        G = 1
        exec("G2 = G + 1")
        r = eval("G2 * 10")
        c = compile("G3 = G2", "<mine>", "exec")
        exec(c)
    """)
    string_events = [(e, s[0]) for e, s in zip(fake.log, fake.sites, strict=True)
                     if s[0] in ("<string>", "<mine>")]
    assert string_events == [
        (("read", "G", 1), "<string>"), (("write", "G2", 1), "<string>"), (("read", "G2", 1), "<string>"),
        (("read", "G2", 1), "<mine>"), (("write", "G3", 1), "<mine>"),
    ]
    assert ns["r"] == 20 and ns["G3"] == 2
    assert is_instrumented_code(ns["c"])


def test_exec_in_function_uses_function_locals():
    ns, fake = run("""
        def f():
            a = 41
            return eval("a + 1")
        r = f()
    """)
    assert ns["r"] == 42


def test_loops_in_comprehensions_have_no_loop_hook():
    ns, fake = run("""
        r = [i for i in range(3)]
    """)
    assert [e for e in fake.log if e[0] == "loop"] == []


# -- other syntax keeps working -------------------------------------------------------------------------


def test_docstring_and_future_import_stay_first():
    ns, _ = run('''
        """The doc."""
        from __future__ import annotations
        def f() -> Undefined:
            """F doc."""
            return 1
        class C:
            """C doc."""
    ''')
    assert ns["__doc__"] == "The doc."
    assert ns["f"].__doc__ == "F doc." and ns["C"].__doc__ == "C doc."
    assert ns["f"].__annotations__ == {"return": "Undefined"}


def test_match_try_async_generators_fstrings_decorators():
    ns, fake = run("""
        import asyncio
        G = 3
        def deco(f):
            f.tag = G
            return f
        @deco
        def m(v, d=G):
            match v:
                case [a, b] if a > G:
                    return 'pair', a, b
                case {'k': x}:
                    return 'map', x
                case _:
                    return 'other', d
        def gen():
            x = yield G
            yield from [x, G]
        async def co():
            await asyncio.sleep(0)
            return f"{G!r:>4}|{G + 1}"
        def t():
            try:
                raise ValueError(G)
            except (TypeError, ValueError) as e:
                return e.args
            finally:
                pass
        g = gen(); first = next(g); second = g.send(9)
        r = (m([5, 6]), m({'k': 1}), m(0), m.tag, first, second, list(g), asyncio.run(co()), t())
    """)
    assert ns["r"] == (("pair", 5, 6), ("map", 1), ("other", 3), 3, 3, 9, [3], "   3|4", (3,))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is 3.11+")
def test_try_star():
    ns, _ = run("""
        G = []
        try:
            raise ExceptionGroup("g", [ValueError(1), KeyError(2)])
        except* ValueError as e:
            G.append(type(e.exceptions[0]))
        except* KeyError:
            G.append(KeyError)
    """)
    assert ns["G"] == [ValueError, KeyError]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax")
def test_type_params():
    ns, fake = run("""
        type Alias = list[int]
        def first[T](xs: list[T]) -> T:
            return xs[0]
        class Box[T]:
            def __init__(self, v: T):
                self.v = v
            def kind(self):
                return T.__name__
        r = first([4]), Box(1).v, Box(2).kind(), Alias.__value__
    """)
    assert ns["r"] == (4, 1, "T", list[int])
    assert not [e for e in accesses(fake) if e[1] == "T"]


def test_names_starting_with_il_are_not_instrumented():
    ns, fake = run("""
        _il_mine = 1
        x = _il_mine
    """)
    assert accesses(fake) == [("write", "x", 2)]


def test_no_active_execution_is_plain():
    ns, fake = run("""
        G = [1]
        def f(d):
            d['a'] = G[0]
            return d
        r = f({})
    """, active=False)
    assert fake.log == [] and ns["r"] == {"a": 1}


def test_rewrite_keeps_locations_and_type():
    tree = ast.parse(src("""
        x = 1
        def f(o):
            return o.a
    """))
    before = ast.dump(tree, include_attributes=True)
    new = rewrite(tree, "f.py")
    assert isinstance(new, ast.Module) and ast.dump(tree, include_attributes=True) == before
    ret = new.body[1].body[0]
    assert ret.value.lineno == 3 and ret.value.col_offset == 11
    assert ret.value.func.id == "_il_ra"
    assert isinstance(rewrite(ast.parse("a.b", mode="eval"), "e"), ast.Expression)
    assert isinstance(rewrite(ast.parse("a.b", mode="single"), "s"), ast.Interactive)


def test_traceback_points_at_user_line():
    code = compile_source(src("""
        def f(o):
            x = 1
            return o.missing
        f(object())
    """), "user.py")
    with pytest.raises(AttributeError) as info:
        exec(code, {})
    tb = info.value.__traceback__
    user = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "user.py":
            user.append((tb.tb_frame.f_code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    assert user == [("<module>", 4), ("f", 3)]


# -- evaluation order and exceptions compared with plain Python --------------------------------------------

ORDER_PRELUDE = """
log = []
class O:
    pass
def t(name, value=None):
    log.append(name)
    return value
obj = O()
dct = {}
class CM:
    def __init__(self, name):
        self.name = name
    def __enter__(self):
        log.append('enter ' + self.name)
        return self.name
    def __exit__(self, *a):
        log.append('exit ' + self.name)
"""

ORDER_CASES = [
    "t('g', obj).a = t('h', 1)",
    "dct[t('k1', 'k')] = 0\nt('d', dct)[t('f', 'k')] += t('k', 5)",
    "a, t('b', obj).c = t('x', (1, 2))",
    "t('g', dct)[t('f', 1)] = t('h', 2)",
    "x = y = t('z', 3)\nt('o', obj).p = t('o2', obj).q = t('v', 4)",
    "for t('o', obj).i in t('it', [1, 2]):\n    t('body')",
    "t('o', obj).a = 1\ndct['kk'] = 1\ndel t('o1', obj).a, t('d', dct)[t('k', 'kk')]",
    "t('f', lambda *a, **k: (a, k))(t('a', 1), *t('b', [2]), k=t('c', 3), **t('d', {'z': 4}))",
    "with CM('one') as t('g', obj).a, CM('two') as b:\n    t('body')",
    "t('o', obj).n = 1\nt('o2', obj).n += t('v', 2)",
    "(a, (t('o', obj).x, *t('d', dct)['s'])), e = t('v', [(1, (2, 3, 4)), 5])",
    "r = [t('e', obj).a for obj.a in t('it', [1, 2]) if t('c', True)]",
    "import operator\nv = t('f', operator.getitem)(t('s', [1, 2])[t('i', 0):t('j', 2)], t('k', 1))",
    "x = t('a', 1) if t('c', 0) else t('b', 2)\ny = t('p', 0) or t('q', 1) and t('r', 2)",
    "v = f\"{t('a', 1)}{t('b', 2)!r:{t('w', 3)}}\"",
    "def gen():\n    yield t('y1', 1)\n    yield t('y2', 2)\nv = [t('l', x) for x in gen()]",
    "def deco(name):\n    t('deco ' + name)\n    return lambda f: f\n"
    "@deco(t('n1', 'a'))\n@deco(t('n2', 'b'))\ndef h(x=t('default', 1)):\n    return x",
]


def _public(ns: dict) -> dict:
    """The data the case left behind (objects by their attributes)."""
    out = {}
    for k, v in ns.items():
        if k.startswith("__") or callable(v) or isinstance(v, type(sys)):
            continue
        out[k] = dict(vars(v)) if isinstance(v, ns["O"]) else v
    return out


def _plain(code_text: str):
    ns: dict = {"__name__": "m"}
    exec(compile(ORDER_PRELUDE + code_text, "<order>", "exec"), ns)
    return ns["log"], _public(ns)


@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("case", ORDER_CASES)
def test_evaluation_order_unchanged(case, active):
    plain_log, plain_data = _plain(case)
    ns: dict = {"__name__": "m"}
    hooks.set_active(Fake() if active else None)
    try:
        exec(compile_source(ORDER_PRELUDE + case, "<order>"), ns)
    finally:
        hooks.set_active(None)
    assert ns["log"] == plain_log
    assert _public(ns) == plain_data
    assert not [k for k in ns if k.startswith("_il_")]


EXCEPTION_CASES = [
    "undefined_name",
    "object().missing",
    "{}['x']",
    "class O: pass\no = O()\na, o.b = [1, 2, 3]",
    "class O: pass\no = O()\na, *o.b, c = [1]",
    "x = 1\nx += 'a'",
    "def f():\n    def g():\n        return v\n    r = g()\n    v = 1\nf()",
    "def f():\n    global NOPE\n    NOPE += 1\nf()",
    "d = {}\nd['k'] += 1",
    "class O: pass\no = O()\no.a += 1",
    "class O: pass\ndel O().zz",
    "for a, O.b in [1]: pass",
    "del never_defined",
    "with 1: pass",
    "x = 1\nx()",
    "[][0:1] = 5",
]


@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("case", EXCEPTION_CASES)
def test_exceptions_identical(case, active):
    with pytest.raises(Exception) as plain:
        exec(compile(case, "<exc>", "exec"), {"__name__": "m"})
    hooks.set_active(Fake() if active else None)
    try:
        with pytest.raises(Exception) as inst:
            exec(compile_source(case, "<exc>"), {"__name__": "m"})
    finally:
        hooks.set_active(None)
    assert type(inst.value) is type(plain.value)
    assert str(inst.value) == str(plain.value)


def test_comparing_containers_reads_them_but_not_a_local_or_against_a_constant():
    ns, fake = run("""
        flag = [1]
        box = {"k": [1]}
        def f():
            i, n = [1], [1]
            return (flag == [1],
                    box["k"] < [2],
                    flag == None,
                    i == n,
                    flag is flag)
        r = f()
    """)
    assert accesses(fake)[2:] == [
        ("read", "flag", 5), ("read", "*", 5),  # the global, then its contents
        ("read", "box", 6), ("read", "k", 6), ("read", "*", 6),
        ("read", "flag", 7),  # against a constant: the name only
        ("read", "flag", 9), ("read", "flag", 9),  # identity reads no contents
        ("write", "r", 10),
    ]
    assert ns["r"] == (True, True, False, True, True)
