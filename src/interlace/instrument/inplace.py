"""Re-instrument code that was imported before interlace was asked to (test modules, ``__main__``).

The module's source is rewritten and compiled (never executed); the new code object of each live
function is found by pairing the plain and the rewritten compilation of the same source, and
assigned to ``function.__code__``. Functions that cannot be instrumented are reported, never
silently skipped.
"""

from __future__ import annotations

import ast
import gc
import importlib.machinery
import inspect
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

from .cache import compile_cached
from .importhook import is_hook_loaded
from .registry import is_instrumented_code, register
from .rewriter import compile_source
from .selection import DEFAULT, Selection

_CodeKey = tuple  # (co_name, co_firstlineno)

_replacements: dict[int, tuple[types.CodeType, types.CodeType]] = {}
"""id(original code) -> (original, rewritten): keeps both alive, identity checked."""

_modules: dict[str, tuple[int, _ModuleInfo | None, list[str]]] = {}
"""module name -> (id(module object), info or None, failures)."""

#: code flags a decorator sets on a function's code after compiling it, which its rewritten code keeps
_KEPT_FLAGS = inspect.CO_ITERABLE_COROUTINE

_STANDARD_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)


def _plain_consts(code: types.CodeType) -> tuple:
    return tuple(c for c in code.co_consts if not isinstance(c, types.CodeType))


def _same(a: types.CodeType, b: types.CodeType) -> bool:
    """Same compiled body (free variables are compared separately, to report them precisely)."""
    return (a.co_code == b.co_code and a.co_names == b.co_names and a.co_varnames == b.co_varnames
            and _plain_consts(a) == _plain_consts(b))


def _args(code: types.CodeType) -> tuple:
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    return code.co_varnames[:n]


def _children(code: types.CodeType) -> list[types.CodeType]:
    return [c for c in code.co_consts if isinstance(c, types.CodeType)]


class _ModuleInfo:
    def __init__(self, name: str, filename: str, plain: types.CodeType, instrumented: types.CodeType,
                 strict: bool):
        self.name = name
        self.filename = filename
        self.strict = strict
        self.index: dict[_CodeKey, list[types.CodeType]] = {}
        self.pairs: dict[int, types.CodeType] = {}
        self._pair(plain, instrumented)

    def _pair(self, plain: types.CodeType, new: types.CodeType) -> None:
        self.pairs[id(plain)] = new
        self.index.setdefault((plain.co_name, plain.co_firstlineno), []).append(plain)
        pc, nc = _children(plain), _children(new)
        if len(pc) == len(nc) and all((a.co_name, a.co_firstlineno) == (b.co_name, b.co_firstlineno)
                                      for a, b in zip(pc, nc, strict=True)):
            for a, b in zip(pc, nc, strict=True):
                self._pair(a, b)
            return
        # structures differ (should not happen): pair by (name, line, rank)
        ranks: dict[_CodeKey, list[types.CodeType]] = {}
        for b in nc:
            ranks.setdefault((b.co_name, b.co_firstlineno), []).append(b)
        for a in pc:
            lst = ranks.get((a.co_name, a.co_firstlineno))
            if lst:
                self._pair(a, lst.pop(0))

    def lookup(self, code: types.CodeType) -> tuple[types.CodeType | None, str]:
        cands = self.index.get((code.co_name, code.co_firstlineno), [])
        exact = [p for p in cands if _same(p, code)]
        qual = getattr(code, "co_qualname", None)
        if len(exact) > 1 and qual is not None:
            exact = [p for p in exact if p.co_qualname == qual] or exact  # type: ignore[attr-defined]
        if exact:
            return self.pairs[id(exact[0])], ""
        if not self.strict:
            # another import hook (e.g. pytest's assertion rewriting) compiled this module: match
            # by name, line, qualified name and parameters instead of bytecode
            weak = [p for p in cands if _args(p) == _args(code)
                    and (qual is None or p.co_qualname == qual)]  # type: ignore[attr-defined]
            if len(weak) == 1:
                return self.pairs[id(weak[0])], ""
        return None, "source changed since import"


def _pytest_rewritten_tree(loader: Any, source: bytes, filename: str) -> ast.Module | None:
    """The AST pytest's assertion rewriter executed for a test module, or ``None``."""
    if type(loader).__name__ != "AssertionRewritingHook":
        return None
    try:
        from _pytest.assertion.rewrite import rewrite_asserts
    except ImportError:  # pragma: no cover
        return None
    tree = ast.parse(source, filename=filename)
    try:
        rewrite_asserts(tree, source, filename, getattr(loader, "config", None))
    except Exception:  # noqa: BLE001 - another pytest version: fall back to the plain source
        return None
    return tree


def _fn_name(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"


class _Run:
    def __init__(self, selection: Selection):
        self.selection = selection
        self.failures: list[str] = []
        self.seen: dict[int, Any] = {}  # id -> object (kept alive so ids are not reused)
        self._by_file: dict[str, Any] | None = None
        self._modules_alive: list[Any] = []
        self.compiled: set[str] = set()  # co_filename of the modules compiled by this run

    # -- modules ----------------------------------------------------------------------------------
    def module_for_file(self, filename: str) -> Any:
        if self._by_file is None:
            self._by_file = {}
            for mod in list(sys.modules.values()):
                f = getattr(mod, "__file__", None)
                if isinstance(f, str):
                    self._by_file.setdefault(os.path.normcase(os.path.abspath(f)), mod)
        return self._by_file.get(os.path.normcase(os.path.abspath(filename)))

    def info_for(self, mod: Any) -> _ModuleInfo | None:
        """Process ``mod`` (once per module object) and return its compile info."""
        name = getattr(mod, "__name__", None)
        if not isinstance(name, str):
            return None
        entry = _modules.get(name)
        if entry is not None and entry[0] == id(mod) and sys.modules.get(name) is mod:
            return entry[1]
        failures: list[str] = []
        info = self._compile(mod, name, failures)
        _modules[name] = (id(mod), info, failures)
        self.failures.extend(failures)
        self._modules_alive.append(mod)
        if info is not None:
            self.compiled.add(info.filename)
            self.walk_namespace(vars(mod), info)
        return info

    def _compile(self, mod: Any, name: str, failures: list[str]) -> _ModuleInfo | None:
        if is_hook_loaded(mod):
            return None
        filename = getattr(mod, "__file__", None)
        if not isinstance(filename, str) or not filename.endswith(".py"):
            failures.append(f"{name}: no source")
            return None
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError:
            failures.append(f"{name}: no source")
            return None
        loader = getattr(getattr(mod, "__spec__", None), "loader", None) or getattr(mod, "__loader__", None)
        strict = loader is None or type(loader) in _STANDARD_LOADERS
        try:
            tree = _pytest_rewritten_tree(loader, source, filename)
            if tree is not None:
                # keep pytest's assertion introspection: rewrite the tree pytest would run
                plain = compile(tree, filename, "exec", dont_inherit=True)
                new = compile_source(tree, filename, dont_inherit=True)
                strict = True
            else:
                plain = compile(source, filename, "exec", dont_inherit=True, optimize=sys.flags.optimize)
                new = compile_cached(source, filename, sys.flags.optimize)
        except (SyntaxError, ValueError):
            failures.append(f"{name}: source changed since import")
            return None
        return _ModuleInfo(name, filename, plain, new, strict)

    def fail(self, message: str, module_name: str | None) -> None:
        """Report a failure now, and again on later calls when it belongs to a processed module."""
        self.failures.append(message)
        entry = _modules.get(module_name) if module_name else None
        if entry is not None and message not in entry[2]:
            entry[2].append(message)

    def _home(self, code: types.CodeType) -> str | None:
        mod = self.module_for_file(code.co_filename)
        return getattr(mod, "__name__", None)

    # -- live objects ---------------------------------------------------------------------------
    def walk_namespace(self, ns: dict, info: _ModuleInfo) -> None:
        for value in list(ns.values()):
            self.visit(value, info, explicit=False)

    def visit(self, obj: Any, info: _ModuleInfo | None, explicit: bool) -> None:
        if id(obj) in self.seen:
            return
        self.seen[id(obj)] = obj
        if isinstance(obj, types.FunctionType):
            self.function(obj, explicit)
            wrapped = getattr(obj, "__wrapped__", None)
            if wrapped is not None:
                self.visit(wrapped, info, explicit)
            self.captured(obj)
        elif isinstance(obj, types.MethodType):
            self.visit(obj.__func__, info, explicit)
        elif isinstance(obj, (staticmethod, classmethod)):
            self.visit(obj.__func__, info, explicit)
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                if f is not None:
                    self.visit(f, info, explicit)
        elif isinstance(obj, type):
            if explicit or (info is not None and obj.__module__ == info.name):
                for value in list(vars(obj).values()):
                    self.visit(value, info, explicit)
        elif hasattr(obj, "func") and type(obj).__name__ in ("cached_property", "partial"):
            self.visit(obj.func, info, explicit)

    def stragglers(self) -> None:
        """Every live function made from the old code of a module compiled by this run.

        Walking namespaces finds what a module names; a function made before its module was
        instrumented and kept anywhere else (``WORKERS = [make_worker(c) for c in chunks]``, a
        ``functools.partial``, a bound method in a registry, a decorator's wrapper, a method of a class
        defined in a function) would run its old code in a managed thread, silently uncontrolled. The
        garbage collector knows every function: one pass over its objects per run that compiled a
        module (a few milliseconds for a test session's 100k objects).
        """
        if not self.compiled:
            return
        files = self.compiled
        for obj in gc.get_objects():
            if type(obj) is types.FunctionType and obj.__code__.co_filename in files \
                    and id(obj) not in self.seen and not is_instrumented_code(obj.__code__):
                self.seen[id(obj)] = obj
                self.function(obj, explicit=False)

    def captured(self, fn: types.FunctionType) -> None:
        """What ``fn`` holds in its closure and defaults: a test's local helpers and classes, made
        before ``explore`` was called (functions made during an execution come from instrumented code)."""
        values = []
        for cell in fn.__closure__ or ():
            try:
                values.append(cell.cell_contents)
            except ValueError:  # a cell not filled yet
                continue
        values.extend(fn.__defaults__ or ())
        values.extend((fn.__kwdefaults__ or {}).values())
        for value in values:
            if isinstance(value, type):
                if id(value) in self.seen:
                    continue
                mod = sys.modules.get(getattr(value, "__module__", None) or "")
                if mod is None or not self.selection.is_under_test(mod.__name__, getattr(mod, "__file__", None)):
                    continue
                self.seen[id(value)] = value
                for member in list(vars(value).values()):
                    self.visit(member, None, explicit=False)
            else:
                self.visit(value, None, explicit=False)

    def function(self, fn: types.FunctionType, explicit: bool) -> None:
        code = fn.__code__
        if is_instrumented_code(code):
            return
        rep = _replacements.get(id(code))
        if rep is not None and rep[0] is code:
            new = rep[1]
        else:
            mod = self.module_for_file(code.co_filename)
            if mod is None or not self.selection.is_under_test(mod.__name__, getattr(mod, "__file__", None)):
                if explicit and not (mod is not None and mod.__name__.split(".")[0] == "interlace"):
                    # (interlace's own functions, the pytest plugin's execution body: not code under test)
                    reason = "no source" if mod is None else f"module {mod.__name__} not under test"
                    self.failures.append(f"{_fn_name(fn)}: {reason}")
                return
            info = self.info_for(mod)
            if is_instrumented_code(fn.__code__):  # processing the module fixed it
                return
            if info is None:
                if explicit and not is_hook_loaded(mod):
                    self.failures.append(f"{_fn_name(fn)}: no source")
                return
            found, reason = info.lookup(code)
            if found is None:
                self.fail(f"{_fn_name(fn)}: {reason}", info.name)
                return
            # a flag set on the live code after its compilation (``types.coroutine``: awaitable) stays
            new = found
            if code.co_flags & _KEPT_FLAGS & ~found.co_flags:
                new = found.replace(co_flags=found.co_flags | code.co_flags & _KEPT_FLAGS)
                register(new)
            _replacements[id(code)] = (code, new)
        if new.co_freevars != code.co_freevars:
            self.fail(f"{_fn_name(fn)}: freevars differ", self._home(code))
            return
        fn.__code__ = new


def reinstrument_loaded(selection: Selection | None = None, extra: Iterable[object] = ()) -> list[str]:
    """Instrument in place the functions of already imported modules under test and of ``extra``.

    Returns ``"dotted.name: reason"`` for every function that could not be instrumented.
    """
    run = _Run(selection if selection is not None else DEFAULT)
    for name, mod in list(sys.modules.items()):
        if mod is None or not isinstance(mod, types.ModuleType):
            continue
        entry = _modules.get(name)
        if entry is not None and entry[0] == id(mod):
            run.failures.extend(entry[2])
            continue
        filename = getattr(mod, "__file__", None)
        if run.selection.excluded_by_name(name) or not isinstance(filename, str):
            continue
        if not run.selection.is_under_test(name, filename) or is_hook_loaded(mod):
            continue
        run.info_for(mod)
    for obj in extra:
        if isinstance(obj, types.ModuleType):
            run.info_for(obj)
            continue
        run.visit(obj, None, explicit=True)
    run.stragglers()
    seen: set[str] = set()
    return [f for f in run.failures if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]


def adopt(fn: types.FunctionType, selection: Selection | None = None,
          thread: bool = False) -> tuple[bool, list[str]]:
    """Instrument ``fn`` now, if its module is under test: a function reached during an execution
    whose code was not rewritten (``(instrumented, failures)``; ``failures`` name what could not be).

    Functions of modules not under test (the standard library, installed packages) are left alone:
    running them as one opaque call is the intended treatment, not a blind spot. Code generated from
    a string before the exploration (``exec``) has no source to rewrite: it is reported when it is a
    ``thread``'s target (a dataclass's generated ``__init__`` called from code under test is not).
    """
    code = fn.__code__
    if is_instrumented_code(code):
        return True, []
    sel = selection if selection is not None else DEFAULT
    if not sel.include and not sel.may_hold_code_under_test(code.co_filename):
        return False, []  # the standard library, site-packages: no need to look for its module
    run = _Run(sel)
    mod = run.module_for_file(code.co_filename)
    if mod is None:
        home = sys.modules.get(getattr(fn, "__module__", None) or "")
        if not thread or home is None or not sel.is_under_test(home.__name__, getattr(home, "__file__", None)):
            return False, []
        return False, [f"{_fn_name(fn)}: generated code (exec/compile) made before the exploration"]
    if not run.selection.is_under_test(mod.__name__, getattr(mod, "__file__", None)):
        return False, []
    run.visit(fn, None, explicit=True)
    run.stragglers()
    return is_instrumented_code(fn.__code__), run.failures
