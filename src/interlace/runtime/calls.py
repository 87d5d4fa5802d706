"""What a call from instrumented code means to the scheduler.

A call is one of:
- a call of instrumented Python code: not a scheduling point of its own (its accesses are), except in
  the GIL model, where every call is a point where the interpreter may switch threads;
- a known method of a builtin container on a possibly shared object (``list.append``, ``dict.get``,
  ...): one atomic read or write access of that container;
- an indirect attribute or item access (``getattr``, ``setattr``, ``operator.setitem``, ``vars``,
  ``attrgetter`` objects, ...): the access it stands for;
- a call into code that is not instrumented (stdlib, C extensions): a scheduling point, because that
  code may touch shared state where interlace cannot see it;
- a pure builtin (``len``, ``isinstance``, ``math.sqrt``, ...): nothing.

It may also *substitute* the callee: uncontrolled originals that the code under test bound before
interlace was active (``from time import sleep``, a ``threading.Lock`` created at import time) are
swapped for their controlled counterparts.
"""

from __future__ import annotations

import builtins
import collections
import functools
import operator
from collections.abc import Callable
from functools import partial
from types import BuiltinFunctionType, FunctionType, MethodType, MethodWrapperType
from typing import Any

from .containers import container_base
from .fastpath import native
from .iterating import SORT, WALKERS

READ, WRITE, DELETE = "read", "write", "delete"

# Methods that take items out are deletes (a write that a check of the container may rely on not
# happening: ``if k in d: d[k]``), the others that change it writes.
_LIST = {
    "append": WRITE, "extend": WRITE, "insert": WRITE, "pop": DELETE, "remove": DELETE, "clear": DELETE,
    "sort": WRITE, "reverse": WRITE, "__setitem__": WRITE, "__delitem__": DELETE, "__iadd__": WRITE,
    "index": READ, "count": READ, "copy": READ, "__getitem__": READ, "__len__": READ,
    "__contains__": READ, "__iter__": READ,
}
_DICT = {
    "setdefault": WRITE, "pop": DELETE, "popitem": DELETE, "update": WRITE, "clear": DELETE,
    "__setitem__": WRITE, "__delitem__": DELETE, "__ior__": WRITE,
    "get": READ, "keys": READ, "values": READ, "items": READ, "copy": READ, "__getitem__": READ,
    "__contains__": READ, "__len__": READ, "__iter__": READ,
}
_SET = {
    "add": WRITE, "discard": DELETE, "remove": DELETE, "pop": DELETE, "clear": DELETE, "update": WRITE,
    "difference_update": DELETE, "intersection_update": DELETE, "symmetric_difference_update": DELETE,
    "copy": READ, "issubset": READ, "issuperset": READ, "isdisjoint": READ, "union": READ,
    "intersection": READ, "difference": READ, "symmetric_difference": READ, "__contains__": READ,
    "__len__": READ, "__iter__": READ,
}
_DEQUE = {
    "append": WRITE, "appendleft": WRITE, "pop": DELETE, "popleft": DELETE, "extend": WRITE,
    "extendleft": WRITE, "insert": WRITE, "remove": DELETE, "clear": DELETE, "rotate": WRITE,
    "reverse": WRITE, "count": READ, "index": READ, "copy": READ, "__len__": READ,
}
_BYTEARRAY = {"append": WRITE, "extend": WRITE, "insert": WRITE, "pop": DELETE, "remove": DELETE,
              "clear": DELETE, "reverse": WRITE}

CONTAINER_METHODS: dict[type, dict[str, str]] = {
    list: _LIST, dict: _DICT, set: _SET, collections.deque: _DEQUE, bytearray: _BYTEARRAY,
    collections.OrderedDict: {**_DICT, "move_to_end": WRITE},
    collections.defaultdict: _DICT, collections.Counter: _DICT,
}

#: keyword for the dict methods whose first argument is the key they touch
_KEYED = frozenset({"get", "setdefault", "pop", "__getitem__", "__setitem__", "__delitem__",
                    "__contains__"})

_PURE_BUILTINS = frozenset(
    getattr(builtins, name)
    for name in (
        "isinstance", "issubclass", "id", "callable", "abs", "chr", "ord", "hex", "oct", "bin",
        "divmod", "pow", "round", "hash", "iter", "next", "format", "ascii",
    )
)
_PURE_TYPES = frozenset({int, float, bool, complex, str, bytes, object, slice, range, type, super,
                         property, staticmethod, classmethod, enumerate, zip, reversed, map, filter})
_PURE_MODULES = frozenset({"math", "cmath", "_operator", "operator"})

#: code objects of interlace's stand-ins for library functions (the recorded inputs of ``interlace run``)
#: -> the module of what each stands for; see :func:`schedule_like`
_STAND_INS: dict[Any, str] = {}


#: code objects of library functions whose every effect on shared state interlace models, with scheduling
#: points of its own: a call of them is none (see :func:`modelled`)
_MODELLED: set[Any] = set()


def modelled(fn: FunctionType) -> None:
    """Make calls of library function ``fn`` no scheduling points of their own, as calls of interlace's.

    A call into code interlace cannot see is a point that DPOR orders against everything (it may touch
    any shared state). ``multiprocessing``'s ``Event`` and ``Condition`` share nothing but semaphores,
    whose every acquire is a scheduling point that says which semaphore, and whose every change DPOR is
    told of (runtime/semlocks.py): a point that conflicts with everything before them only multiplied
    the orders DPOR ran (an event set by one thread and waited for by another: more than 2,000 classes, 34
    without)."""
    _MODELLED.add(fn.__code__)


def schedule_like(value: Any, module: str) -> None:
    """Make calls of ``value`` scheduling points, like calls of the library code it stands in for.

    Calls into interlace's own code are not scheduling points (its runtime makes its own), calls into
    the standard library are; a stand-in (a recorded ``socket.recv``, ``subprocess.Popen``) must be
    scheduled like the function it replaces, recorded or not. ``value`` is a function, a class, or
    an instance, whose class's methods (and properties) defined by interlace are the stand-ins.
    A stand-in for another runtime stand-in (``module`` is interlace's: the virtual clock) keeps
    being scheduled like that one.
    """
    if not isinstance(module, str):
        module = "builtins"
    if module.startswith("interlace"):
        return
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, FunctionType):
        if value.__module__.startswith("interlace"):
            _STAND_INS[value.__code__] = module
        return
    classes = [value] if isinstance(value, type) else [type(value)]
    for cls in classes:
        for klass in cls.__mro__:
            if not klass.__module__.startswith("interlace"):
                continue
            for attr in vars(klass).values():
                inner = attr.__func__ if isinstance(attr, (staticmethod, classmethod)) else attr
                inner = inner.fget if isinstance(inner, property) else inner
                if isinstance(inner, FunctionType) and inner.__module__.startswith("interlace"):
                    _STAND_INS[inner.__code__] = module


_ATTRGETTER = type(operator.attrgetter("x"))
_ITEMGETTER = type(operator.itemgetter(0))


#: what every call of a callee is in the free-threaded model (:meth:`CallClassifier.verdict`)
ASK, NO_POINT, CALL_POINT, WHOLE_ACCESS = 0, 1, 2, 3

_native = native()


class CallClassifier:
    """Classifies callees for :meth:`Execution.call`; results for Python functions are cached."""

    def __init__(self, is_instrumented_code: Callable[[Any], bool] = lambda code: False,
                 substitutions: dict[int, Any] | None = None,
                 shadow_factory: Callable[[Any], Any] | None = None,
                 adopt: Callable[[FunctionType, bool], bool] | None = None,
                 shadowed_types: frozenset[type] | None = None) -> None:
        self.is_instrumented_code = is_instrumented_code
        #: instruments a function of the code under test that was not (made before its module was
        #: instrumented and kept where no walk found it); False when it cannot be, which it reports
        self.adopt = adopt
        self.substitutions = substitutions or {}
        self.shadow_factory = shadow_factory
        #: the types of the objects ``shadow_factory`` substitutes (None: unknown, any object may be)
        self.shadowed_types = shadowed_types
        #: the native call and with hooks' memory of :meth:`verdict` and :meth:`manager_kept` (None
        #: without the accelerator): most calls are of a few callees, each classified once
        self.native = None if _native is None else _native.Callees(
            self.verdict, self.manager_kept, tuple(self.substitutions))
        self._code_cache: dict[int, tuple] = {}  # id(code) -> (code, classification)
        self._class_cache: dict[type, tuple] = {}
        self._indirect: dict[Any, Callable] = {
            getattr: _getattr, setattr: _setattr, delattr: _delattr, hasattr: _getattr, vars: _vars,
            len: _len,
            **{fn: partial(walk, fn) for fn, walk in WALKERS.items() if type(fn) is BuiltinFunctionType},
            operator.getitem: _getitem, operator.setitem: _setitem, operator.delitem: _delitem,
        }

    def classify(self, fn: Any, args: tuple, ex: Any) -> tuple[str | None, str, Any, Any]:
        """Return ``(kind, what, replacement, target)``.

        ``kind`` None means: not a scheduling point. ``target`` is ``(object, key, atomic)`` when the
        call is an access of a location: ``atomic`` for one method call of a builtin container.
        """
        sub = self.substitutions.get(id(fn))
        if sub is not None:
            return None, _name(fn), sub, None
        t = type(fn)
        if t is MethodType:
            t = type(fn.__func__)
            if t is FunctionType:
                entry = self._function(fn.__func__)
                return WALKERS[fn.__func__](fn, args, ex) if entry[3] else entry
        if t is FunctionType:
            entry = self._function(fn)
            return WALKERS[fn](fn, args, ex) if entry[3] else entry
        if t is BuiltinFunctionType or t is MethodWrapperType:  # d.get, d.__setitem__
            owner = fn.__self__
            table = CONTAINER_METHODS.get(container_base(type(owner)))
            if table is not None:
                kind = table.get(fn.__name__)
                if kind == WRITE and fn.__name__ == "sort" and type(owner) is list:
                    return SORT(fn, (owner,), ex)
                if kind is not None:
                    return kind, _container_what(owner, fn.__name__, args), None, (
                        owner, _container_key(owner, fn.__name__, args), True)
                return None, fn.__name__, None, None
            indirect = self._indirect.get(fn) if _hashable(fn) else None
            if indirect is not None:
                return indirect(args, ex)
            if self.shadow_factory is not None:
                shadow = self.shadow_factory(owner)
                if shadow is not None:
                    return None, fn.__name__, getattr(shadow, fn.__name__), None
            if _hashable(fn) and fn in _PURE_BUILTINS:
                return None, fn.__name__, None, None
            if getattr(fn, "__module__", None) in _PURE_MODULES:
                return None, fn.__name__, None, None
            return "call", _name(fn), None, None
        if t is type or isinstance(fn, type):
            if fn is map or fn is filter:
                return WALKERS[fn](fn, args, ex)
            return self._class(fn)
        if t is _ATTRGETTER and args:
            names = fn.__reduce__()[1]
            what = ", ".join(_describe_attr(args[0], n) for n in names)
            target = (args[0], names[0], False) if len(names) == 1 and "." not in names[0] else None
            return READ, what, None, target
        if t is _ITEMGETTER and args:
            keys = fn.__reduce__()[1]
            what = ", ".join(f"{type(args[0]).__name__}[{k!r}]" for k in keys)
            return READ, what, None, (args[0], keys[0], False) if len(keys) == 1 else None
        return "call", _name(fn), None, None

    def classify_callee(self, fn: Any) -> tuple[str | None, str, Any, bool]:
        """Like :meth:`classify` before the arguments are known: ``(kind, what, replacement,
        needs_args)``; ``needs_args`` when the call is an access whose location is in the arguments
        (``d.get(k)``, ``getattr(o, name)``, ``list.append``): then call :meth:`classify` with them."""
        sub = self.substitutions.get(id(fn))
        if sub is not None:
            return None, _name(fn), sub, False
        t = type(fn)
        if t is MethodType:
            if type(fn.__func__) is FunctionType:
                kind, what, replacement, walks = self._function(fn.__func__)
                return kind, what, replacement, walks is True
        elif t is FunctionType:
            kind, what, replacement, walks = self._function(fn)
            return kind, what, replacement, walks is True
        elif t is BuiltinFunctionType or t is MethodWrapperType:
            owner = fn.__self__
            table = CONTAINER_METHODS.get(container_base(type(owner)))
            if table is not None:
                return None, fn.__name__, None, fn.__name__ in table
            if _hashable(fn) and fn in self._indirect:
                return None, fn.__name__, None, True
        elif fn is map or fn is filter:
            return None, fn.__name__, None, True
        elif t is _ATTRGETTER or t is _ITEMGETTER:
            return None, "getter", None, True
        kind, what, replacement, _target = self.classify(fn, (), None)
        return kind, what, replacement, False

    def verdict(self, fn: Any) -> tuple[int, str]:
        """``(verdict, what)``: what a call of ``fn``, or of any callee of the same kind (a function
        with the same code, a builtin method of the same method and type of instance, the same class
        or builtin function), is in the free-threaded model: NO_POINT (nothing: instrumented code, a
        pure builtin, a builtin method that is no access), CALL_POINT (a ``call`` scheduling point of
        ``what``, nothing substituted), WHOLE_ACCESS (a method of a builtin container that is one atomic
        access of the whole container, whatever its arguments; ``what`` is its kind), or ASK (classify
        each call: an access named by its arguments, a substitution, anything else). The native
        ``_il_cp`` remembers it after a first call of the callee was classified the usual way
        (``Callees``)."""
        if id(fn) in self.substitutions:
            return ASK, ""
        if type(fn) is BuiltinFunctionType and self.shadowed_types is not None \
                and type(fn.__self__) in self.shadowed_types:
            return ASK, ""  # the method of a real lock made before the execution: substituted
        kind, what, replacement, needs_args = self.classify_callee(fn)
        if replacement is not None:
            return ASK, ""
        if needs_args:
            whole = _whole_container_access(fn)
            return (WHOLE_ACCESS, whole) if whole is not None else (ASK, "")
        if kind is None:
            return NO_POINT, what
        return (CALL_POINT, what) if kind == "call" else (ASK, "")

    def manager_kept(self, tp: type) -> bool:
        """No context manager of type ``tp`` is ever substituted (see :meth:`substitute_manager`)."""
        if self.shadow_factory is None:
            return True
        return self.shadowed_types is not None and tp not in self.shadowed_types

    def _function(self, fn: FunctionType) -> tuple[str | None, str, Any, Any]:
        """``(kind, what, replacement, walks)``: ``walks`` True for a library function that walks a
        container (runtime/iterating.py: classify it with its arguments), else None (no target)."""
        code = fn.__code__
        # keyed by id: hashing a code object hashes its bytecode (about 1.2 us since 3.12); the
        # entry keeps the code object alive so that its id names no other
        entry = self._code_cache.get(id(code))
        if entry is not None:
            return entry[1]
        module = _STAND_INS.get(code) or fn.__module__ or ""
        if self.is_instrumented_code(code) or module == "interlace" or module.startswith("interlace.") \
                or code in _MODELLED:
            cached = (None, fn.__qualname__, None, None)
        elif self.adopt is not None and self.adopt(fn, False):
            # instrumented now: ``fn.__code__`` is new, the call runs it; other functions that
            # still share the old code are adopted at their own first call (nothing cached)
            return (None, fn.__qualname__, None, None)
        elif fn in WALKERS:
            cached = ("call", f"{module}.{fn.__qualname__}", None, True)  # classify() with the arguments
        else:
            cached = ("call", f"{module}.{fn.__qualname__}", None, None)
        self._code_cache[id(code)] = (code, cached)
        return cached

    def _class(self, cls: type) -> tuple[str | None, str, Any]:
        cached = self._class_cache.get(cls)
        if cached is None:
            if cls in _PURE_TYPES or cls.__module__.startswith("interlace"):
                cached = (None, cls.__name__, None, None)
            elif any(isinstance(v, FunctionType) and self.is_instrumented_code(v.__code__)
                     for klass in cls.__mro__ for v in vars(klass).values()):
                cached = (None, cls.__qualname__, None, None)
            else:
                cached = ("call", f"{cls.__module__}.{cls.__qualname__}", None, None)
            self._class_cache[cls] = cached
        return cached

    def adopt_thread(self, thread: Any) -> None:
        """Before a managed thread starts: the Python functions it will enter first (its target,
        whatever made it: a closure, a ``functools.partial``, a bound method, a callable object; or
        its class's ``run``) are instrumented, or reported as not (see ``adopt``). Calls they make
        are adopted at the call (:meth:`_function`)."""
        if self.adopt is None:
            return
        for fn in _entry_functions(getattr(thread, "_target", None)):
            self.adopt(fn, True)
        run = getattr(type(thread), "run", None)
        if isinstance(run, FunctionType) and run.__module__ != "threading":
            self.adopt(run, True)

    def substitute_manager(self, manager: Any, ex: Any) -> Any:
        if self.shadow_factory is None:
            return None
        return self.shadow_factory(manager)


def _whole_container_access(fn: Any) -> str | None:
    """The kind of access every call of ``fn`` is when it is a builtin container's method that reads or
    changes the whole container (see :meth:`CallClassifier.classify`: key ``"*"``, atomic), else None:
    a keyed dict method names its key in its arguments, a list's ``sort`` walks it calling back."""
    if type(fn) is not BuiltinFunctionType:
        return None
    owner = fn.__self__
    table = CONTAINER_METHODS.get(container_base(type(owner)))
    name = fn.__name__
    if table is None or name == "sort" or name in _KEYED and isinstance(owner, dict):
        return None
    return table.get(name)


def _entry_functions(target: Any, depth: int = 0) -> list[FunctionType]:
    """The Python functions that calling ``target`` enters first."""
    if target is None or depth > 8:
        return []
    if isinstance(target, FunctionType):
        return [target]
    if isinstance(target, MethodType):
        return _entry_functions(target.__func__, depth + 1)
    if isinstance(target, functools.partial):
        return _entry_functions(target.func, depth + 1)
    if isinstance(target, type):
        return []  # a class called as a target: its __init__ is called from the target's frame
    call = next((vars(k)["__call__"] for k in type(target).__mro__ if "__call__" in vars(k)), None)
    return [call] if isinstance(call, FunctionType) else []


def _hashable(fn: Any) -> bool:
    return getattr(type(fn), "__hash__", None) is not None


def _name(fn: Any) -> str:
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if qual is None:
        return type(fn).__name__
    module = getattr(fn, "__module__", None)
    return f"{module}.{qual}" if module and module != "builtins" else qual


def _describe_attr(obj: Any, name: str) -> str:
    return f"{type(obj).__name__}.{name}"


def _container_what(owner: Any, method: str, args: tuple) -> str:
    name = type(owner).__name__
    if method in _KEYED and args and isinstance(args[0], (str, int)):
        return f"{name}.{method}({args[0]!r})"
    return f"{name}.{method}()"


def _container_key(owner: Any, method: str, args: tuple) -> Any:
    """The item a keyed dict method touches, or ``"*"`` for the whole container."""
    if method in _KEYED and args and isinstance(owner, dict):
        try:
            hash(args[0])
        except TypeError:
            return "*"
        return args[0]
    return "*"


#: builtin types whose instances have no attributes of their own: ``getattr(a_list, "x", None)`` reads
#: the class (a method, or nothing), never the object's contents
_NO_INSTANCE_ATTRIBUTES = frozenset({list, dict, set, frozenset, tuple, bytearray, collections.deque, str,
                                     bytes, int, float, complex, bool, type(None), range, slice})


def _attr_access(kind: str, name: str) -> Callable[[tuple, Any], tuple]:
    def classify(args: tuple, ex: Any) -> tuple:
        if len(args) >= 2 and isinstance(args[1], str):
            if kind == READ and type(args[0]) in _NO_INSTANCE_ATTRIBUTES:
                return None, _describe_attr(args[0], args[1]), None, None
            return kind, _describe_attr(args[0], args[1]), None, (args[0], args[1], False)
        return "call", name, None, None

    return classify


_getattr = _attr_access(READ, "getattr")
_setattr = _attr_access(WRITE, "setattr")
_delattr = _attr_access(DELETE, "delattr")


def _vars(args: tuple, ex: Any) -> tuple:
    if not args:
        return None, "vars", None, None
    return READ, _describe_attr(args[0], "__dict__"), None, (args[0], "__dict__", False)


def _item_access(kind: str, name: str) -> Callable[[tuple, Any], tuple]:
    def classify(args: tuple, ex: Any) -> tuple:
        if len(args) >= 2:
            return kind, ex.describe(args[0], args[1]), None, (args[0], args[1], False)
        return "call", name, None, None

    return classify


def _len(args: tuple, ex: Any) -> tuple:
    """``len(c)``: of a mutable builtin container, one atomic read of all of it (its size
    changes with every insertion); of anything else, nothing (``__len__`` written in Python is
    instrumented code, whose accesses show)."""
    if len(args) == 1 and container_base(type(args[0])) is not None:
        return READ, f"{type(args[0]).__name__}.__len__()", None, (args[0], "*", True)
    return None, "len", None, None


_getitem = _item_access(READ, "getitem")
_setitem = _item_access(WRITE, "setitem")
_delitem = _item_access(DELETE, "delitem")
