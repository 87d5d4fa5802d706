"""The functions that instrumented code calls: the contract between the rewriter and the runtime.

The rewriter (``interlace.instrument``) turns every shared access of the code under test into a call
of one of the ``_il_*`` functions below. They are installed into :mod:`builtins` so that rewritten
code finds them from any namespace (modules, ``exec`` strings, functions re-instrumented in place)
without touching the user's globals.

Each hook performs the access itself (or returns so that native code performs it right after), so
that Python's semantics are preserved exactly, and tells the active execution about it first: that is
where a scheduling decision may switch to another thread. (An execution whose ``reads_first`` is true,
detector-only mode's, is told of a read that a hook performs itself once it is done.) Outside an
execution, or in a thread that the execution does not manage, the hooks are plain pass-throughs.

``site`` is a constant tuple ``(filename, lineno, col)`` built by the rewriter; cell keys are constant
tuples ``(filename, owner_lineno, owner_name, varname)`` naming the variable statically.
"""

from __future__ import annotations

import builtins
import operator
import sys
import types
from typing import Any

from .containers import container_base
from .fastpath import native
from .state import Event, short_repr

READ = "read"
WRITE = "write"
DELETE = "delete"

_active: Any = None
"""The running :class:`~interlace.runtime.execution.Execution`, or ``None``."""

_source_compiler: Any = None
"""``(source, filename, mode) -> code``: set by the instrument package so exec/eval/compile of
strings inside code under test is rewritten too."""

_getframe = sys._getframe
_MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<unbound>"})()
_CODE_TYPES = frozenset({types.FunctionType, type, types.ModuleType, types.BuiltinFunctionType})


def set_active(execution: Any) -> None:
    global _active
    _active = execution
    if _native is not None:
        # the C hooks take the fast path on an execution's native FastPath (see runtime/fastpath.py),
        # or skip the accesses detector-only mode already told (see drivers/detect_only.py)
        # (and the call and with hooks answer from its classifier's Callees)
        fast = getattr(execution, "fast", None)
        told = getattr(execution, "told", None)
        callees = getattr(getattr(execution, "classifier", None), "native", None)
        _native.activate(execution, fast if type(fast) is _native.FastPath else None,
                         told if type(told) is _native.Told else None,
                         callees if type(callees) is _native.Callees else None, _loop_point_every())


def set_source_compiler(compiler: Any) -> None:
    global _source_compiler
    _source_compiler = compiler


# -- globals ---------------------------------------------------------------------------------------
# Usage: ``(_il_rg('x', S) or x)``, ``x = _il_wg('x', v, S)``, ``_il_dg('x', S); del x``.
# Writes hand the value to the execution; reads report the value read only when the execution asks
# for it (``capture_values``, used to show values in reports), since reading costs.


def _il_rg(name: str, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ns = _getframe(1).f_globals
        value = ns.get(name, _MISSING)
        # Reading a global that names a function, class or module is reading code, not data.
        if type(value) not in _CODE_TYPES:
            ex.access(READ, ns, name, site)
            if ex.capture_values:
                ex.observe(ns.get(name, _MISSING))


def _il_wg(name: str, value: Any, site: tuple) -> Any:
    ex = _active
    if ex is not None:
        ex.access(WRITE, _getframe(1).f_globals, name, site, value)
    return value


def _il_dg(name: str, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(DELETE, _getframe(1).f_globals, name, site)


# -- closure cells (nonlocal variables and the owner's accesses to them) ---------------------------


def _il_rc(key: tuple, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(READ, key, key[3], site)


def _il_wc(key: tuple, value: Any, site: tuple) -> Any:
    ex = _active
    if ex is not None:
        ex.access(WRITE, key, key[3], site, value)
    return value


def _il_dc(key: tuple, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(DELETE, key, key[3], site)


# -- attributes -------------------------------------------------------------------------------------


def _il_ra(obj: Any, name: str, site: tuple) -> Any:
    ex = _active
    if ex is not None:
        if ex.reads_first:  # detector-only mode: see NativeExecution.reads_first
            try:
                return getattr(obj, name)
            finally:
                ex.access(READ, obj, name, site)
        ex.access(READ, obj, name, site)
        value = getattr(obj, name)
        if ex.capture_values:
            ex.observe(value)
        return value
    return getattr(obj, name)


def _il_wa(value: Any, obj: Any, name: str, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(WRITE, obj, name, site, value)
    setattr(obj, name, value)


def _il_da(obj: Any, name: str, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(DELETE, obj, name, site)
    delattr(obj, name)


def _il_ra2(obj: Any, name: str, site: tuple) -> tuple:
    """First half of ``obj.name op= rhs``: read, returning ``(obj, value)`` for :func:`_il_aug_wa`."""
    return (obj, _il_ra(obj, name, site))


def _il_aug_wa(pair: tuple, rhs: Any, op: Any, name: str, site: tuple) -> None:
    obj, value = pair
    ex = _active
    if ex is not None and container_base(type(value)) is not None:
        ex.access(WRITE, value, "*", site)  # ``o.items += [x]`` extends the list in place
    result = op(value, rhs)
    if ex is not None:
        ex.access(WRITE, obj, name, site, result)
    setattr(obj, name, result)


# -- subscripts --------------------------------------------------------------------------------------


def _exposed(obj: Any, key: Any) -> tuple:
    """An item of a ``memoryview`` is memory of the object it exposes (a ``bytearray``, an
    ``array``): named as the whole of that object, since a view may be a slice or a cast of it."""
    try:
        return obj.obj, "*"
    except ValueError:  # released
        return obj, key


def _il_rs(obj: Any, key: Any, site: tuple) -> Any:
    ex = _active
    if ex is not None:
        if ex.reads_first:  # detector-only mode: see NativeExecution.reads_first
            try:
                return obj[key]
            finally:
                ex.access(READ, *(_exposed(obj, key) if type(obj) is memoryview else (obj, key)), site)
        if type(obj) is memoryview:
            ex.access(READ, *_exposed(obj, key), site)
        else:
            ex.access(READ, obj, key, site)
        value = obj[key]
        if ex.capture_values:
            ex.observe(value)
        return value
    return obj[key]


def _il_ws(value: Any, obj: Any, key: Any, site: tuple) -> None:
    ex = _active
    if ex is not None:
        if type(obj) is memoryview:
            ex.access(WRITE, *_exposed(obj, key), site, value)
        else:
            ex.access(WRITE, obj, key, site, value)
    obj[key] = value


def _il_ds(obj: Any, key: Any, site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.access(DELETE, obj, key, site)
    del obj[key]


def _il_rs2(obj: Any, key: Any, site: tuple) -> tuple:
    """First half of ``obj[key] op= rhs``: read, returning ``(obj, key, value)`` for :func:`_il_aug_ws`."""
    return (obj, key, _il_rs(obj, key, site))


def _il_aug_ws(triple: tuple, rhs: Any, op: Any, site: tuple) -> None:
    obj, key, value = triple
    ex = _active
    if ex is not None and container_base(type(value)) is not None and type(key) is not slice:
        ex.access(WRITE, value, "*", site)  # ``d[k] += [x]`` extends the list in place (a slice is a copy)
    result = op(value, rhs)
    if ex is not None:
        if type(obj) is memoryview:
            ex.access(WRITE, *_exposed(obj, key), site, result)
        else:
            ex.access(WRITE, obj, key, site, result)
    obj[key] = result


def _il_inplace(value: Any, rhs: Any, op: Any, site: tuple) -> Any:
    """``x op= rhs`` for a name ``x`` (local, global or cell; the store is the rewriter's): when ``x`` is
    a mutable builtin container, the operation changes it in place (``l += [1]``, ``s |= {2}``), a
    write of the whole container that the name's own accesses do not show."""
    ex = _active
    if ex is not None and container_base(type(value)) is not None:
        ex.access(WRITE, value, "*", site)
    return op(value, rhs)


# -- calls, with-statements, loops -----------------------------------------------------------------


def _il_cp(site: tuple, fn: Any, /) -> Any:
    """What to call for ``fn(...)`` at ``site``: ``fn`` itself, a controlled stand-in, or a wrapper
    that sees the arguments (for accesses like ``d.get(k)`` or ``getattr(o, name)``).

    Used as ``_il_cp(S, f)(args)``: the call itself runs in the caller's frame.
    """
    if fn is _exec or fn is _eval or fn is _compile:
        return _EXEC_WRAPPERS[fn]
    ex = _active
    if ex is not None:
        return ex.callee(fn, site)
    return fn


def _il_iter(container: Any, site: tuple) -> Any:
    """``for x in c``, ``x in c`` and comprehensions over ``c``: one read of the whole container
    (when it is a mutable builtin one), then ``c`` itself, iterated natively."""
    ex = _active
    if ex is not None and container_base(type(container)) is not None:
        ex.access(READ, container, "*", site)
    return container


def _il_in(item: Any, container: Any, site: tuple) -> bool:
    """``item in container``: of a dict, a read of that key only (another key's store does not change
    the answer); of another mutable builtin container, a read of all of it."""
    ex = _active
    if ex is not None and container_base(type(container)) is not None:
        if isinstance(container, dict):
            try:
                hash(item)
            except TypeError:
                pass  # ``in`` raises it below
            else:
                ex.access(READ, container, item, site)
        else:
            ex.access(READ, container, "*", site)
    return item in container


def _il_with(site: tuple, manager: Any) -> Any:
    ex = _active
    if ex is not None:
        return ex.with_manager(manager, site)
    return manager


def _il_loop(site: tuple) -> None:
    ex = _active
    if ex is not None:
        ex.loop(site)


def _il_wenter() -> None:
    ex = _active
    if ex is not None:
        ex.loop_entered()


def _il_wexit() -> None:
    ex = _active
    if ex is not None:
        ex.loop_exited()


# -- exec / eval / compile of source strings ---------------------------------------------------------

_exec, _eval, _compile = builtins.exec, builtins.eval, builtins.compile


def _call_exec_like(fn: Any, args: tuple, kwargs: dict, frame: Any) -> Any:
    """Run exec/eval/compile as the caller would, rewriting source strings first."""
    if fn is builtins.compile:
        return _compile_like(args, kwargs)
    source = args[0] if args else kwargs.get("source")
    rest = list(args[1:])
    globals_ = rest[0] if rest else kwargs.get("globals")
    locals_ = rest[1] if len(rest) > 1 else kwargs.get("locals")
    if globals_ is None:
        globals_ = frame.f_globals
        if locals_ is None:
            locals_ = frame.f_locals
    mode = "eval" if fn is builtins.eval else "exec"
    if isinstance(source, (str, bytes)) and _source_compiler is not None:
        if isinstance(source, bytes):
            source = source.decode()
        if mode == "eval":
            source = source.lstrip(" \t")
        source = _source_compiler(source, "<string>", mode)
    extra = {k: v for k, v in kwargs.items() if k not in ("source", "globals", "locals")}
    return fn(source, globals_, locals_, **extra)


def _exec_wrapper(fn: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        return _call_exec_like(fn, args, kwargs, _getframe(1))

    run.__name__ = run.__qualname__ = fn.__name__
    return run


_EXEC_WRAPPERS = {_exec: _exec_wrapper(_exec), _eval: _exec_wrapper(_eval), _compile: _exec_wrapper(_compile)}


def _compile_like(args: tuple, kwargs: dict) -> Any:
    import ast

    names = ("source", "filename", "mode", "flags", "dont_inherit", "optimize")
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    source = bound.get("source")
    flags = bound.get("flags", 0)
    if (
        _source_compiler is None
        or flags & ast.PyCF_ONLY_AST
        or not isinstance(source, (str, bytes, ast.AST))
        or bound.get("mode") not in ("exec", "eval", "single")
    ):
        return builtins.compile(*args, **kwargs)
    return _source_compiler(
        source,
        bound.get("filename", "<string>"),
        bound["mode"],
        flags=flags,
        dont_inherit=bound.get("dont_inherit", False),
        optimize=bound.get("optimize", -1),
    )


HOOKS: dict[str, Any] = {
    name: value for name, value in list(globals().items()) if name.startswith("_il_") and callable(value)
}
HOOKS["_il_slice"] = slice
for _name in ("iadd", "isub", "imul", "imatmul", "itruediv", "ifloordiv", "imod", "ipow",
              "ilshift", "irshift", "iand", "ixor", "ior"):
    HOOKS["_il_" + _name] = getattr(operator, _name)


def _loop_point_every() -> int:
    from .execution import LOOP_POINT_EVERY

    return LOOP_POINT_EVERY


_native = native()
"""The native accelerator (None: not built, or ``INTERLACE_PURE=1``): its C hooks replace the hot ones
of :data:`HOOKS`, falling back to the Python ones above whenever the fast path does not apply."""
if _native is not None:
    _native.bind(HOOKS, READ, WRITE)
    _native.bind_trace(Event, short_repr)  # the fast path notes accesses in a kept trace (DPOR's) too
    HOOKS.update({name: getattr(_native, name) for name in ("_il_rg", "_il_wg", "_il_rc", "_il_wc", "_il_ra",
                                                             "_il_wa", "_il_rs", "_il_ws", "_il_loop", "_il_cp",
                                                             "_il_with", "_il_iter", "_il_in", "_il_inplace",
                                                             "_il_ra2", "_il_aug_wa", "_il_rs2", "_il_aug_ws")})


def install_builtins() -> None:
    """Make the hooks visible to every namespace (idempotent)."""
    for name, value in HOOKS.items():
        setattr(builtins, name, value)
