"""Import hook, selection, cache, scripts and in-place re-instrumentation."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
import textwrap
import time
import uuid

import pytest

from interlace.instrument import (
    Selection,
    compile_script,
    install,
    instrumenting,
    is_instrumented_code,
    is_instrumented_function,
    reinstrument_loaded,
    uninstall,
)
from interlace.instrument import cache as il_cache
from interlace.instrument.importhook import InstrumentingFinder, InstrumentingLoader
from interlace.runtime import hooks

pytestmark = pytest.mark.timeout(60)

# The recording execution is compiled from a string so that in-place re-instrumentation of this test
# module never instruments the recorder itself.
_FAKE_NS: dict = {"__name__": "il_fake_recorder"}
exec(compile(textwrap.dedent("""
    class Fake:
        def __init__(self):
            self.log = []
        capture_values = False
        reads_first = False
        def observe(self, value):
            pass
        def access(self, kind, obj, name, site, *value):
            self.log.append((kind, name, site[1]))
        def callee(self, fn, site):
            return self.call(fn, site)

        def call(self, fn, site, *rest):
            self.log.append(("call", getattr(fn, "__name__", "?"), site[1]))
            return fn
        def with_manager(self, m, site):
            return m
        def loop(self, site):
            self.log.append(("loop", None, site[1]))
        def loop_entered(self):
            pass
        def loop_exited(self):
            pass
    def record(set_active, fn, *args):
        fake = Fake()
        set_active(fake)
        try:
            result = fn(*args)
        finally:
            set_active(None)
        return result, fake.log
"""), "<fake>", "exec"), _FAKE_NS)
Fake = _FAKE_NS["Fake"]


def record(fn, *args):
    """``(result, events)`` of ``fn(*args)`` under a recording execution."""
    return _FAKE_NS["record"](hooks.set_active, fn, *args)


class Only(Selection):
    """A selection of exactly the named modules (so tests never touch other loaded modules)."""

    def __init__(self, *names: str):
        super().__init__()
        self.names = set(names)

    def excluded_by_name(self, module_name: str) -> bool:
        return module_name not in self.names

    def is_under_test(self, module_name: str, filename: str | None) -> bool:
        return module_name in self.names and filename is not None and filename.endswith(".py")


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh directory on sys.path, a private cache dir; imported modules are forgotten after."""
    monkeypatch.setenv("INTERLACE_CACHE_DIR", str(tmp_path / "cache"))
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    sys.path.insert(0, str(code_dir))
    before = set(sys.modules)
    importlib.invalidate_caches()
    try:
        yield code_dir
    finally:
        sys.path.remove(str(code_dir))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def make_package(root) -> str:
    name = "ilpkg_" + uuid.uuid4().hex[:8]
    write(root / name / "__init__.py", """
        from .sub import value
        from . import helper
        COUNT = value + 1
    """)
    write(root / name / "sub.py", """
        value = 41
        def bump(o):
            o.x = o.x + 1
            return o.x
    """)
    write(root / name / "helper.py", """
        from .sub import bump
        def twice(o):
            bump(o)
            return bump(o)
    """)
    write(root / name / "nested" / "__init__.py", "")
    write(root / name / "nested" / "deep.py", """
        from ..sub import value as v
        def get():
            return v
    """)
    return name


class Obj:
    x = 0


# -- import hook -----------------------------------------------------------------------------------------


def test_package_is_instrumented_and_behaves_normally(sandbox):
    name = make_package(sandbox)
    with instrumenting(Selection()) as handle:
        assert isinstance(handle, InstrumentingFinder) and handle in sys.meta_path
        pkg = importlib.import_module(name)
        deep = importlib.import_module(name + ".nested.deep")
    assert handle not in sys.meta_path
    assert pkg.COUNT == 42 and deep.get() == 41
    assert is_instrumented_function(pkg.helper.twice) and is_instrumented_function(deep.get)
    sub = sys.modules[name + ".sub"]
    assert isinstance(sub.__spec__.loader, InstrumentingLoader) and sub.__loader__ is sub.__spec__.loader
    assert sub.__file__ == str(sandbox / name / "sub.py")
    assert sub.__cached__ == importlib.util.cache_from_source(sub.__file__)
    assert pkg.__path__ == [str(sandbox / name)] and pkg.__package__ == name
    assert sub.__package__ == name and sub.__spec__.name == name + ".sub"
    assert not (sandbox / name / "__pycache__").exists()  # nothing written next to the sources
    assert inspect.getsource(sub.bump) == "def bump(o):\n    o.x = o.x + 1\n    return o.x\n"

    o = Obj()
    result, log = record(pkg.helper.twice, o)
    assert result == 2
    assert log == [
        ("call", "bump", 3), ("read", "x", 3), ("write", "x", 3), ("read", "x", 4),
        ("call", "bump", 4), ("read", "x", 3), ("write", "x", 3), ("read", "x", 4),
    ]


def test_reload_stays_instrumented(sandbox):
    name = make_package(sandbox)
    with instrumenting(Selection()):
        importlib.import_module(name)
        sub = sys.modules[name + ".sub"]
        old = sub.bump
        importlib.reload(sub)
    assert sub.bump is not old and is_instrumented_function(sub.bump)


def test_not_under_test_is_not_instrumented(sandbox):
    name = make_package(sandbox)
    with instrumenting(Selection(exclude=[name + ".sub"])):
        pkg = importlib.import_module(name)
    assert is_instrumented_function(pkg.helper.twice)
    assert not is_instrumented_function(sys.modules[name + ".sub"].bump)
    # the standard library is not under test by default; include puts it under test
    finder = InstrumentingFinder(Selection())
    assert finder.find_spec("json.tool", json.__path__) is None
    spec = InstrumentingFinder(Selection(include=["json"])).find_spec("json.tool", json.__path__)
    assert isinstance(spec.loader, InstrumentingLoader)
    assert InstrumentingFinder(Selection(include=["json"], exclude=["json.tool"])).find_spec(
        "json.tool", json.__path__) is None
    # never interlace itself
    never = InstrumentingFinder(Selection(include=["interlace"]))
    assert never.find_spec("interlace.instrument.cache") is None


def test_stdlib_module_included_is_instrumented(sandbox):
    saved = sys.modules.pop("colorsys", None)
    try:
        with instrumenting(Selection(include=["colorsys"])):
            colorsys = importlib.import_module("colorsys")
        assert is_instrumented_function(colorsys.rgb_to_hsv)
        assert colorsys.rgb_to_hsv(0.2, 0.4, 0.4) == pytest.approx((0.5, 0.5, 0.4))
    finally:
        sys.modules.pop("colorsys", None)
        if saved is not None:
            sys.modules["colorsys"] = saved


def test_selection_rules():
    s = Selection()
    assert s.is_under_test("mymod", "/home/u/proj/mymod.py")
    assert not s.is_under_test("json", json.__file__)
    assert not s.is_under_test("pkg", "/venv/lib/python3.11/site-packages/pkg/__init__.py")
    assert not s.is_under_test("pkg", "/usr/lib/python3/dist-packages/pkg/__init__.py")
    assert not s.is_under_test("ext", "/home/u/proj/ext.cpython-311-x86_64-linux-gnu.so")
    assert not s.is_under_test("frozen", None)
    assert not s.is_under_test("interlace.cli", "/anywhere/cli.py")
    inc = Selection(include=["requests"])
    assert inc.is_under_test("requests", "/venv/lib/python3.11/site-packages/requests/__init__.py")
    assert inc.is_under_test("requests.api", "/venv/lib/python3.11/site-packages/requests/api.py")
    assert not inc.is_under_test("requests2", "/venv/lib/python3.11/site-packages/requests2/__init__.py")
    assert Selection(include=["json"]).is_under_test("json.decoder", json.decoder.__file__)
    assert not Selection(include=["interlace"]).is_under_test("interlace.cli", "/x/cli.py")
    exc = Selection(include=["mypkg.*"], exclude=["mypkg.slow"])
    assert exc.is_under_test("mypkg.fast", "/site-packages/mypkg/fast.py")
    assert not exc.is_under_test("mypkg.slow", "/home/mypkg/slow.py")
    assert not exc.is_under_test("mypkg.slow.x", "/home/mypkg/slow/x.py")


def test_coexists_with_other_meta_path_hooks(sandbox):
    name = make_package(sandbox)
    seen = []

    class Spy:
        def find_spec(self, fullname, path=None, target=None):
            seen.append(fullname)
            return None

    spy = Spy()
    sys.meta_path.insert(0, spy)
    handle = install(Selection())
    try:
        assert sys.meta_path.index(spy) < sys.meta_path.index(handle)
        importlib.import_module(name)
    finally:
        uninstall(handle)
        sys.meta_path.remove(spy)
    uninstall(handle)  # idempotent
    assert name in seen and name + ".sub" in seen


# -- cache -----------------------------------------------------------------------------------------------


def _forget(prefix: str) -> None:
    for n in [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]:
        del sys.modules[n]


def test_cache_hit_and_corrupt_entries(sandbox, tmp_path):
    name = make_package(sandbox)
    cache_dir = tmp_path / "cache"
    compiled0, hits0 = il_cache.stats["compiled"], il_cache.stats["hits"]
    with instrumenting(Selection()):
        importlib.import_module(name + ".nested.deep")
    assert il_cache.stats["compiled"] - compiled0 == 5 and il_cache.stats["hits"] == hits0
    entries = sorted(p for p in cache_dir.rglob("*.ilc"))
    assert len(entries) == 5
    assert os.path.basename(os.path.dirname(entries[0])) == sys.implementation.cache_tag

    _forget(name)
    with instrumenting(Selection()):
        deep = importlib.import_module(name + ".nested.deep")
    assert il_cache.stats["compiled"] - compiled0 == 5 and il_cache.stats["hits"] - hits0 == 5
    assert deep.get() == 41 and is_instrumented_function(deep.get)

    for i, p in enumerate(entries):  # every kind of damage: garbage, truncation, empty
        data = p.read_bytes()
        p.write_bytes([b"garbage", data[: len(data) // 2], b""][i % 3] if i < 4 else data[:8] + b"\xff" * 10)
    _forget(name)
    with instrumenting(Selection()):
        deep = importlib.import_module(name + ".nested.deep")
    assert il_cache.stats["compiled"] - compiled0 == 10
    assert deep.get() == 41 and is_instrumented_function(deep.get)
    _forget(name)
    with instrumenting(Selection()):  # the entries were rewritten
        importlib.import_module(name + ".nested.deep")
    assert il_cache.stats["compiled"] - compiled0 == 10


def test_cache_prunes_entries_unused_for_30_days(sandbox, tmp_path):
    cache_dir = tmp_path / "cache"
    name = make_package(sandbox)
    with instrumenting(Selection()):
        importlib.import_module(name + ".nested.deep")
    entries = sorted(cache_dir.rglob("*.ilc"))
    assert len(entries) == 5 and (cache_dir / ".last-pruned").is_file()  # the first miss pruned
    now = time.time()
    day = 86400
    for p, age in zip(entries, (40, 31, 29, 3, 0), strict=True):
        os.utime(p, (now - age * day, now - age * day))
    foreign = cache_dir / "notes.txt"
    foreign.write_text("not an entry")
    os.utime(foreign, (now - 400 * day, now - 400 * day))
    assert il_cache.prune() == 2
    assert sorted(cache_dir.rglob("*.ilc")) == entries[2:] and foreign.exists()

    # a hit refreshes an entry older than a day
    _forget(name)
    with instrumenting(Selection()):
        importlib.import_module(name + ".nested.deep")  # misses for the two deleted entries
    assert all(p.stat().st_mtime > now - 60 for p in entries)

    # at most once a day, a miss prunes
    old = entries[0]
    os.utime(old, (now - 40 * day, now - 40 * day))
    il_cache.compile_cached(b"x = 1\n", str(tmp_path / "fresh1.py"))
    assert old.exists()  # pruned less than a day ago
    os.utime(cache_dir / ".last-pruned", (now - 2 * day, now - 2 * day))
    il_cache.compile_cached(b"x = 2\n", str(tmp_path / "fresh2.py"))
    assert not old.exists() and (cache_dir / ".last-pruned").stat().st_mtime > now - 60


def test_unwritable_cache_dir_is_ignored(sandbox, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("INTERLACE_CACHE_DIR", str(blocker / "sub"))
    name = make_package(sandbox)
    with instrumenting(Selection()):
        pkg = importlib.import_module(name)
    assert pkg.COUNT == 42 and is_instrumented_function(pkg.helper.twice)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERLACE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert il_cache.cache_dir() == str(tmp_path / "interlace")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert il_cache.cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "interlace")


# -- scripts ---------------------------------------------------------------------------------------------


def test_compile_script(sandbox):
    script = sandbox / "main_script.py"
    write(script, """
        import sys
        G = [1]
        def main():
            G[0] += 1
            return G[0]
        RESULT = main()
    """)
    code = compile_script(script)
    assert is_instrumented_code(code) and code.co_filename == str(script)
    ns = {"__name__": "__main__"}
    fake = Fake()
    hooks.set_active(fake)
    try:
        exec(code, ns)
    finally:
        hooks.set_active(None)
    assert ns["RESULT"] == 2 and ("write", 0, 4) in fake.log
    with pytest.raises(FileNotFoundError):
        compile_script(sandbox / "missing.py")
    bad = sandbox / "bad.py"
    bad.write_text("x = 1\ndef f(:\n    pass\n")
    with pytest.raises(SyntaxError) as mine:
        compile_script(bad)
    with pytest.raises(SyntaxError) as ref:
        compile(bad.read_bytes(), str(bad), "exec")
    assert (mine.value.lineno, mine.value.offset, mine.value.msg, mine.value.filename) == \
        (ref.value.lineno, ref.value.offset, ref.value.msg, ref.value.filename)


# -- in-place re-instrumentation -------------------------------------------------------------------------

PLAIN_MODULE = """
import functools

STATE = {"n": 0}

def bump():
    STATE["n"] += 1
    return STATE["n"]

def logged(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return fn(*a, **k)
    return wrapper

@logged
def decorated(o):
    return o.x

class K:
    def m(self):
        return self.v
    @staticmethod
    def s(d):
        return d["k"]
    @classmethod
    def c(cls):
        return cls.z
    @property
    def p(self):
        return self.v
    @p.setter
    def p(self, value):
        self.v = value
    class Inner:
        def im(self, o):
            o.y = 1

def make_counter():
    n = 0
    def body():
        nonlocal n
        n += 1
        return n
    return body

def outer():
    a = 1
    b = 2
    def inner():
        return a
    return inner, b
"""


def _import_plain(root, text=PLAIN_MODULE):
    name = "ilplain_" + uuid.uuid4().hex[:8]
    write(root / f"{name}.py", text)
    return name, importlib.import_module(name)


def test_reinstrument_loaded_module_functions(sandbox):
    name, mod = _import_plain(sandbox)
    counter = mod.make_counter()  # a closure created before re-instrumentation
    assert not is_instrumented_function(mod.bump)
    failures = reinstrument_loaded(Only(name), extra=[counter])
    assert failures == []
    fns = [mod.bump, mod.decorated, mod.decorated.__wrapped__, mod.logged, mod.K.m, mod.K.s, mod.K.c,
           mod.K.p.fget, mod.K.p.fset, mod.K.Inner.im, mod.make_counter, counter, mod.outer]
    assert all(is_instrumented_function(f) for f in fns)

    _, log = record(mod.bump)
    assert log == [("read", "STATE", 6), ("read", "n", 6), ("write", "n", 6), ("read", "STATE", 7),
                   ("read", "n", 7)]
    k = mod.K()
    k.v = 5
    mod.K.z = 6
    assert record(lambda: (k.m(), mod.K.s({"k": 1}), mod.K.c(), k.p))[0] == (5, 1, 6, 5)
    _, log = record(setattr, k, "p", 7)
    assert log == [("write", "v", 33)]
    _, log = record(counter)
    assert log == [("read", "n", 42), ("write", "n", 42), ("read", "n", 43)]
    key_counter = mod.make_counter()  # made by the instrumented outer function
    assert is_instrumented_function(key_counter)

    # idempotent and cheap the second time
    codes = [f.__code__ for f in fns]
    t0 = time.perf_counter()
    assert reinstrument_loaded(Only(name), extra=[counter]) == []
    elapsed = time.perf_counter() - t0
    assert all(a is f.__code__ for a, f in zip(codes, fns, strict=True))
    assert elapsed < 0.05


def test_reinstrument_reports_changed_source_and_freevars(sandbox):
    name, mod = _import_plain(sandbox)
    inner, _ = mod.outer()
    # same lines, but ``bump`` now differs and ``inner`` captures ``b`` instead of ``a``
    changed = PLAIN_MODULE.replace('STATE["n"] += 1', 'STATE["n"] += 2').replace(
        "        return a\n", "        return b\n")
    (sandbox / f"{name}.py").write_text(changed.lstrip("\n"))
    failures = reinstrument_loaded(Only(name), extra=[inner])
    assert f"{name}.bump: source changed since import" in failures
    assert f"{name}.outer.<locals>.inner: freevars differ" in failures
    assert not is_instrumented_function(mod.bump) and not is_instrumented_function(inner)
    assert is_instrumented_function(mod.K.m)  # unchanged functions are still instrumented
    # reported again (never silently skipped), cheaply
    again = reinstrument_loaded(Only(name), extra=[inner])
    assert f"{name}.bump: source changed since import" in again
    assert f"{name}.outer.<locals>.inner: freevars differ" in again


def test_reinstrument_reports_missing_source(sandbox):
    name, mod = _import_plain(sandbox)
    os.unlink(sandbox / f"{name}.py")
    assert reinstrument_loaded(Only(name)) == [f"{name}: no source"]
    assert not is_instrumented_function(mod.bump)


def test_reinstrument_skips_hook_loaded_modules(sandbox):
    name = make_package(sandbox)
    with instrumenting(Selection()):
        pkg = importlib.import_module(name)
    code = pkg.helper.twice.__code__
    assert reinstrument_loaded(Only(name, name + ".helper", name + ".sub")) == []
    assert pkg.helper.twice.__code__ is code


def test_reinstrument_closure_defined_in_this_test_module():
    """The function handed to explore is often a closure in a (pytest-rewritten) test function."""
    box = [0]

    def body():
        box[0] += 1
        return box[0]

    failures = reinstrument_loaded(Only(__name__), extra=[body])
    assert failures == []
    assert is_instrumented_function(body)
    result, log = record(body)
    line = body.__code__.co_firstlineno + 1
    assert result == 1 and log == [("read", "box", line), ("read", 0, line), ("write", 0, line),
                                   ("read", "box", line + 1), ("read", 0, line + 1)]


def test_reinstrument_follows_closures_and_defaults_to_helpers_made_before_explore():
    """A test's local helper functions and classes, made before explore was called, are reached
    through the closure (or defaults) of the function handed to it: they are instrumented too."""

    class Box:
        def __init__(self):
            self.n = 0

        def bump(self):
            self.n += 1

    def helper(box):
        box.n += 1

    def body(extra=helper):
        box = Box()
        box.bump()
        extra(box)
        return box.n

    def outer():
        return body()

    failures = reinstrument_loaded(Only(__name__), extra=[outer])
    assert failures == []
    assert all(is_instrumented_function(f) for f in (outer, body, helper, Box.bump, Box.__init__))
    result, log = record(outer)
    assert result == 2
    # __init__, bump, helper, and the return
    assert [entry[:2] for entry in log if entry[1] == "n"] == [("write", "n"), ("read", "n"), ("write", "n"),
                                                              ("read", "n"), ("write", "n"), ("read", "n")]


def test_extra_function_not_under_test_is_reported(sandbox):
    name, mod = _import_plain(sandbox)
    failures = reinstrument_loaded(Only("something.else"), extra=[mod.bump])
    assert failures == [f"{name}.bump: module {name} not under test"]
