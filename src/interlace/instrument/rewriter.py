"""The AST rewriter: every shared access of the code under test becomes a call of a runtime hook.

The hooks (``interlace.runtime.hooks``) perform the access themselves, or return so that the native
access happens right after, and report it to the active execution first. The rewriting keeps
Python's evaluation order and its exceptions: see the transformation table in the package docs and
the comments below. Rewritten nodes carry the location of the node they replace, so tracebacks and
``inspect`` point at the user's lines.
"""

from __future__ import annotations
import __future__

import ast
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import registry
from .scopes import CELL, CLASS, GLOBAL, MODULE, SETTLED, Scope, ScopeInfo, analyze, mangle

__all__ = ["rewrite", "compile_source"]

_AUG_OPS: dict[type, str] = {
    ast.Add: "_il_iadd", ast.Sub: "_il_isub", ast.Mult: "_il_imul", ast.MatMult: "_il_imatmul",
    ast.Div: "_il_itruediv", ast.FloorDiv: "_il_ifloordiv", ast.Mod: "_il_imod", ast.Pow: "_il_ipow",
    ast.LShift: "_il_ilshift", ast.RShift: "_il_irshift", ast.BitAnd: "_il_iand",
    ast.BitXor: "_il_ixor", ast.BitOr: "_il_ior",
}

# Calls that must not be routed through ``_il_cp`` (it would change what they see).
_NEVER_WRAP = frozenset({"super", "breakpoint"})
_NO_ARG_FRAME_BUILTINS = frozenset({"locals", "globals", "dir", "vars"})
_FRAME_GETTERS = frozenset({"_getframe", "currentframe"})
#: closure variables: instrumented alike (a settled one's key says it is one)
_CELLS = (CELL, SETTLED)
#: comparisons that read the contents of a container operand (``is`` and ``in`` do not, or differently)
_CONTENT_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)

_LOAD = ast.Load()
_STORE = ast.Store()
_DEL = ast.Del()


def _loc(orig: ast.AST) -> dict[str, Any]:
    lineno = getattr(orig, "lineno", 1)
    col = getattr(orig, "col_offset", 0)
    end_lineno = getattr(orig, "end_lineno", None)
    end_col = getattr(orig, "end_col_offset", None)
    # trees made by other tools (e.g. pytest's assertion rewriting) may carry inconsistent ends
    if end_lineno is None or end_col is None or end_lineno < lineno or \
            (end_lineno == lineno and end_col < col):
        end_lineno, end_col = lineno, col
    return {"lineno": lineno, "col_offset": col, "end_lineno": end_lineno, "end_col_offset": end_col}


def _copy(node: ast.AST, **changes: Any) -> Any:
    """A shallow copy of ``node`` (same class, location, fields) with some fields replaced."""
    fields = {f: getattr(node, f, None) for f in node._fields}
    fields.update(changes)
    new = type(node)(**fields)
    for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
        if hasattr(node, attr):
            setattr(new, attr, getattr(node, attr))
    return new


class _Rewriter:
    def __init__(self, info: ScopeInfo, filename: str):
        self.info = info
        self.filename = filename
        self.scope: Scope = info.module
        self.loop_site: ast.AST | None = None  # the innermost loop node (for ``continue``)
        self.temps: list[str] = []
        self.counter = 0

    # -- node factories ---------------------------------------------------------------------------
    def site(self, node: ast.AST) -> ast.Constant:
        return ast.Constant(
            value=(self.filename, getattr(node, "lineno", 0), getattr(node, "col_offset", 0)),
            **_loc(node),
        )

    @staticmethod
    def const(value: Any, orig: ast.AST) -> ast.Constant:
        return ast.Constant(value=value, **_loc(orig))

    @staticmethod
    def name(ident: str, orig: ast.AST, ctx: ast.expr_context = _LOAD) -> ast.Name:
        return ast.Name(id=ident, ctx=ctx, **_loc(orig))

    def call(self, hook: str, args: list[ast.expr], orig: ast.AST,
             keywords: list[ast.keyword] | None = None) -> ast.Call:
        return ast.Call(func=self.name(hook, orig), args=args, keywords=keywords or [], **_loc(orig))

    def cell_key(self, kind: str, owner: Scope, name: str, orig: ast.AST) -> ast.Constant:
        """``(filename, owner's line, owner's name, name)``, and a fifth item, ``SETTLED``, for a settled
        cell (see scopes.py): its accesses are scheduling points like any other (the interleavings
        explored stay those of every closure read), which no detector needs to see."""
        if kind == SETTLED:
            return self.const((self.filename, owner.lineno, owner.name, name, SETTLED), orig)
        return self.const((self.filename, owner.lineno, owner.name, name), orig)

    def new_temp(self, cleanup: bool = True) -> str:
        t = f"_il_t{self.counter}"
        self.counter += 1
        if cleanup:
            self.temps.append(t)
        return t

    def mangled(self, name: str) -> str:
        return mangle(self.scope.private, name)

    def classify(self, name: str) -> tuple[str, Scope | None]:
        return self.info.classify(self.scope, self.mangled(name))

    # -- expressions ------------------------------------------------------------------------------
    def expr(self, node: Any) -> Any:
        if node is None:
            return None
        meth = getattr(self, "x_" + node.__class__.__name__, None)
        if meth is not None:
            return meth(node)
        return self.generic(node)

    def generic(self, node: ast.AST) -> ast.AST:
        changes: dict[str, Any] = {}
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                changes[field] = self.expr(value)
            elif isinstance(value, list) and value and any(isinstance(v, ast.expr) for v in value):
                changes[field] = [self.expr(v) if isinstance(v, ast.expr) else v for v in value]
        if not changes:
            return node
        return _copy(node, **changes)

    def x_Name(self, node: ast.Name) -> ast.expr:
        if not isinstance(node.ctx, ast.Load):
            return node
        kind, owner = self.classify(node.id)
        if kind == GLOBAL:
            hook = self.call("_il_rg", [self.const(self.mangled(node.id), node), self.site(node)], node)
        elif kind in _CELLS and owner is not None:
            key = self.cell_key(kind, owner, self.mangled(node.id), node)
            hook = self.call("_il_rc", [key, self.site(node)], node)
        else:
            return node
        return ast.BoolOp(op=ast.Or(), values=[hook, node], **_loc(node))

    def x_Attribute(self, node: ast.Attribute) -> ast.expr:
        value = self.expr(node.value)
        if not isinstance(node.ctx, ast.Load):  # pragma: no cover - stores are handled by statements
            return _copy(node, value=value)
        return self.call("_il_ra", [value, self.const(self.mangled(node.attr), node), self.site(node)], node)

    def key(self, node: ast.expr) -> ast.expr:
        """A subscript key as a value: slices become ``_il_slice(lower, upper, step)``."""
        if isinstance(node, ast.Slice):
            parts = [self.expr(p) if p is not None else self.const(None, node)
                     for p in (node.lower, node.upper, node.step)]
            return self.call("_il_slice", parts, node)
        if isinstance(node, ast.Tuple) and any(isinstance(e, ast.Slice) for e in node.elts):
            return ast.Tuple(elts=[self.key(e) for e in node.elts], ctx=_LOAD, **_loc(node))
        return self.expr(node)

    def x_Subscript(self, node: ast.Subscript) -> ast.expr:
        value = self.expr(node.value)
        if not isinstance(node.ctx, ast.Load):  # pragma: no cover - stores are handled by statements
            return _copy(node, value=value, slice=self.expr(node.slice))
        return self.call("_il_rs", [value, self.key(node.slice), self.site(node)], node)

    def x_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        args = [self.expr(a) for a in node.args]
        keywords = [_copy(k, value=self.expr(k.value)) for k in node.keywords]
        wrap = True
        if isinstance(func, ast.Name):
            if func.id in _NEVER_WRAP or func.id.startswith("_il_") or func.id in _FRAME_GETTERS:
                wrap = False
            elif func.id in _NO_ARG_FRAME_BUILTINS and not node.args and not node.keywords:
                wrap = False
            new_func: ast.expr = func
        elif isinstance(func, ast.Attribute):
            if func.attr in _FRAME_GETTERS or (
                    func.attr in _NO_ARG_FRAME_BUILTINS and not node.args and not node.keywords):
                wrap = False  # e.g. ``builtins.locals()`` (pytest's rewritten asserts use it)
            new_func = _copy(func, value=self.expr(func.value))
        else:
            new_func = self.expr(func)
        if not wrap:
            return _copy(node, func=new_func, args=args, keywords=keywords)
        # ``_il_cp(S, f)(args)``: the hook sees the callee before the arguments are evaluated and
        # returns what to call; the call itself stays in the user's frame, so callees that look at
        # their caller (logging, warnings, namedtuple, inspect) see the user's code.
        callee = self.call("_il_cp", [self.site(node), new_func], node)
        return ast.Call(func=callee, args=args, keywords=keywords, **_loc(node))

    def x_Compare(self, node: ast.Compare) -> ast.expr:
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            # ``_il_in(x, c, S)``: a read of key ``x`` of a dict (of all of any other container)
            test = self.call("_il_in", [self.expr(node.left), self.expr(node.comparators[0]), self.site(node)],
                             node)
            return ast.UnaryOp(op=ast.Not(), operand=test, **_loc(node)) if isinstance(node.ops[0], ast.NotIn) \
                else test
        operands = [node.left, *node.comparators]
        if all(isinstance(op, _CONTENT_COMPARISONS) for op in node.ops) and not any(
                isinstance(o, ast.Constant) for o in operands):
            # ``flag == [1]``, ``a < b``: comparing containers reads their contents, in C; a comparison
            # with a plain constant (``n > 0``, ``x == None``) reads none. A function's own local is left
            # alone: ``i < n`` in a loop is the common case, a shared container under a local alias rare
            new = [self.expr(o) if isinstance(o, ast.Name) and self.classify(o.id)[0] not in (GLOBAL, *_CELLS)
                   else self.tested(o) for o in operands]
            return _copy(node, left=new[0], comparators=new[1:])
        return _copy(node, left=self.expr(node.left), comparators=[self.expr(c) for c in node.comparators])

    def x_NamedExpr(self, node: ast.NamedExpr) -> ast.expr:
        value = self.expr(node.value)
        value = self.name_write(node.target.id, value, node.target)
        return _copy(node, value=value)

    @contextmanager
    def inside(self, node: ast.AST) -> Iterator[None]:
        """Rewrite within the scope of a function, lambda or class body (no enclosing loop there)."""
        saved = self.scope, self.loop_site
        self.scope, self.loop_site = self.info.node_scopes[node], None
        try:
            yield
        finally:
            self.scope, self.loop_site = saved

    def x_Lambda(self, node: ast.Lambda) -> ast.expr:
        args = self.arguments(node.args)
        with self.inside(node):
            body = self.expr(node.body)
        return _copy(node, args=args, body=body)

    def comprehension(self, node: Any) -> ast.expr:
        gens = node.generators
        first_iter = self.expr(gens[0].iter) if gens[0].is_async else self.iterated(gens[0].iter)
        saved = self.scope
        self.scope = self.info.node_scopes[node]
        try:
            new_gens = []
            for i, gen in enumerate(gens):
                if i == 0:
                    it = first_iter
                else:
                    it = self.expr(gen.iter) if gen.is_async else self.iterated(gen.iter)
                checks: list[ast.expr] = []
                target = self.comp_target(gen.target, checks)
                ifs = checks + [self.expr(x) for x in gen.ifs]
                new_gens.append(_copy(gen, target=target, iter=it, ifs=ifs))
            if isinstance(node, ast.DictComp):
                return _copy(node, key=self.expr(node.key), value=self.expr(node.value), generators=new_gens)
            return _copy(node, elt=self.expr(node.elt), generators=new_gens)
        finally:
            self.scope = saved

    x_ListComp = x_SetComp = x_DictComp = x_GeneratorExp = comprehension

    def comp_target(self, target: ast.expr, checks: list[ast.expr]) -> ast.expr:
        """Comprehension targets: names stay (they are the comprehension's own), attribute and
        subscript targets are stored through temporaries by extra ``if`` clauses that are true."""
        if isinstance(target, ast.Name):
            return target
        if isinstance(target, ast.Starred):
            return _copy(target, value=self.comp_target(target.value, checks))
        if isinstance(target, (ast.Tuple, ast.List)):
            return _copy(target, elts=[self.comp_target(e, checks) for e in target.elts])
        temp = self.new_temp(cleanup=False)
        stmt = self.store(target, self.name(temp, target))[0]
        assert isinstance(stmt, ast.Expr)
        checks.append(ast.BoolOp(op=ast.Or(), values=[stmt.value, self.const(True, target)],
                                 **_loc(target)))
        return self.name(temp, target, _STORE)

    def arguments(self, args: ast.arguments) -> ast.arguments:
        """Default values are evaluated in the enclosing scope; annotations stay untouched."""
        if not args.defaults and not any(d is not None for d in args.kw_defaults):
            return args
        return _copy(args, defaults=[self.expr(d) for d in args.defaults],
                     kw_defaults=[self.expr(d) if d is not None else None for d in args.kw_defaults])

    # -- stores -----------------------------------------------------------------------------------
    def name_write(self, ident: str, value: ast.expr, target: ast.AST) -> ast.expr:
        kind, owner = self.classify(ident)
        if kind == GLOBAL:
            return self.call("_il_wg", [self.const(self.mangled(ident), target), value, self.site(target)],
                             target)
        if kind in _CELLS and owner is not None:
            key = self.cell_key(kind, owner, self.mangled(ident), target)
            return self.call("_il_wc", [key, value, self.site(target)], target)
        return value

    def is_local_target(self, target: ast.expr) -> bool:
        """True when storing to ``target`` touches only unshared local names (no hook needed)."""
        if isinstance(target, ast.Name):
            return self.classify(target.id)[0] not in (GLOBAL, *_CELLS)
        if isinstance(target, ast.Starred):
            return self.is_local_target(target.value)
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(self.is_local_target(e) for e in target.elts)
        return False

    def store(self, target: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Statements storing the already evaluated ``value`` into ``target``, in Python's order."""
        loc = _loc(target)
        if isinstance(target, ast.Name):
            return [ast.Assign(targets=[self.name(target.id, target, _STORE)],
                               value=self.name_write(target.id, value, target), **loc)]
        if isinstance(target, ast.Attribute):
            call = self.call("_il_wa", [value, self.expr(target.value),
                                        self.const(self.mangled(target.attr), target), self.site(target)],
                             target)
            return [ast.Expr(value=call, **loc)]
        if isinstance(target, ast.Subscript):
            call = self.call("_il_ws", [value, self.expr(target.value), self.key(target.slice),
                                        self.site(target)], target)
            return [ast.Expr(value=call, **loc)]
        if isinstance(target, (ast.Tuple, ast.List)):
            if self.is_local_target(target):
                return [ast.Assign(targets=[target], value=value, **loc)]
            # Unpack one level into temporaries (same shape, so the same unpacking errors), then
            # store each element left to right; nested patterns unpack when their turn comes.
            elts: list[ast.expr] = []
            later: list[tuple[str, ast.expr]] = []
            direct = True
            for e in target.elts:
                inner = e.value if isinstance(e, ast.Starred) else e
                if direct and self.is_local_target(inner):
                    elts.append(e)
                    continue
                direct = False
                temp = self.new_temp()
                tname: ast.expr = self.name(temp, e, _STORE)
                if isinstance(e, ast.Starred):
                    tname = _copy(e, value=tname)
                elts.append(tname)
                later.append((temp, inner))
            out: list[ast.stmt] = [ast.Assign(targets=[ast.Tuple(elts=elts, ctx=_STORE, **loc)],
                                              value=value, **loc)]
            for temp, inner in later:
                out.extend(self.store(inner, self.name(temp, inner)))
            return out
        raise SyntaxError(f"cannot rewrite assignment target {ast.dump(target)}")  # pragma: no cover

    def target_via_temp(self, target: ast.expr) -> tuple[ast.expr, list[ast.stmt]]:
        """For ``for``/``with`` targets: ``(native_target, stores_to_run_first_in_the_body)``."""
        if self.is_local_target(target):
            return target, []
        temp = self.new_temp()
        return self.name(temp, target, _STORE), self.store(target, self.name(temp, target))

    # -- statements -------------------------------------------------------------------------------
    def stmts(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        cleanup = self.scope.kind in (MODULE, CLASS)
        for node in body:
            saved = self.temps
            self.temps = []
            try:
                out.extend(self.stmt(node))
                if self.temps and cleanup:
                    # at module and class level the temporaries must not leak into the namespace
                    loc = _loc(node)
                    out.append(ast.Assign(targets=[self.name(t, node, _STORE) for t in self.temps],
                                          value=self.const(None, node), **loc))
                    out.append(ast.Delete(targets=[self.name(t, node, _DEL) for t in self.temps], **loc))
            finally:
                self.temps = saved
        return out

    def stmt(self, node: ast.stmt) -> list[ast.stmt]:
        meth = getattr(self, "s_" + node.__class__.__name__, None)
        if meth is not None:
            return meth(node)
        return [self.generic_stmt(node)]

    def generic_stmt(self, node: ast.stmt) -> ast.stmt:
        changes: dict[str, Any] = {}
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                changes[field] = self.expr(value)
            elif isinstance(value, list) and value:
                if isinstance(value[0], ast.stmt):
                    changes[field] = self.stmts(value)
                elif any(isinstance(v, ast.expr) for v in value):
                    changes[field] = [self.expr(v) if isinstance(v, ast.expr) else v for v in value]
        return _copy(node, **changes) if changes else node

    def loop_hook(self, loop: ast.AST) -> ast.stmt:
        return ast.Expr(value=self.call("_il_loop", [self.site(loop)], loop), **_loc(loop))

    def loop_body(self, loop: ast.AST, pre: list[ast.stmt], body: list[ast.stmt]) -> list[ast.stmt]:
        saved = self.loop_site
        self.loop_site = loop
        try:
            new = pre + self.stmts(body)
        finally:
            self.loop_site = saved
        new.append(self.loop_hook(loop))
        return new

    def s_Continue(self, node: ast.Continue) -> list[ast.stmt]:
        if self.loop_site is None:  # pragma: no cover - a SyntaxError anyway
            return [node]
        return [self.loop_hook(self.loop_site), node]

    def iterated(self, node: ast.expr) -> ast.expr:
        """``_il_iter(c, S)``: iterating (or ``in``-testing, or matching) a container reads all of it."""
        return self.call("_il_iter", [self.expr(node), self.site(node)], node)

    def tested(self, node: ast.expr) -> ast.expr:
        """A truth test (``if q:``, ``while q:``, ``not q``, ``q and r``): of a container, a read of its
        length, so one of the whole container (``_il_iter``). Only plain names, attributes and
        subscripts are wrapped: other expressions (comparisons, calls) are not containers."""
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            return self.iterated(node)
        return self.expr(node)

    def s_If(self, node: ast.If) -> list[ast.stmt]:
        return [_copy(node, test=self.tested(node.test), body=self.stmts(node.body),
                      orelse=self.stmts(node.orelse))]

    def s_Assert(self, node: ast.Assert) -> list[ast.stmt]:
        return [_copy(node, test=self.tested(node.test), msg=self.expr(node.msg))]

    def x_IfExp(self, node: ast.IfExp) -> ast.expr:
        return _copy(node, test=self.tested(node.test), body=self.expr(node.body), orelse=self.expr(node.orelse))

    def x_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        return _copy(node, values=[self.tested(v) for v in node.values])

    def x_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        if isinstance(node.op, ast.Not):
            return _copy(node, operand=self.tested(node.operand))
        return _copy(node, operand=self.expr(node.operand))

    def s_For(self, node: Any) -> list[ast.stmt]:
        it = self.iterated(node.iter) if isinstance(node, ast.For) else self.expr(node.iter)
        target, pre = self.target_via_temp(node.target)
        body = self.loop_body(node, pre, node.body)
        orelse = self.stmts(node.orelse)
        return [_copy(node, target=target, iter=it, body=body, orelse=orelse)]

    s_AsyncFor = s_For

    def s_While(self, node: ast.While) -> list[ast.stmt]:
        """A loop whose test may read shared state (``while not box.ready:``, ``while not
        r.locked():``) is a poll: ``_il_wenter()`` before it and ``_il_wexit()`` where its test ends it
        (the ``else`` branch) tell the race detector which reads ended it (see
        ``RaceDetector.loop_exit``)."""
        test = self.tested(node.test)
        body = self.loop_body(node, [], node.body)
        orelse = self.stmts(node.orelse)
        if not any(isinstance(n, ast.Call) for n in ast.walk(test)):  # locals only: ``while i < n``
            return [_copy(node, test=test, body=body, orelse=orelse)]
        enter = ast.Expr(value=self.call("_il_wenter", [], node), **_loc(node))
        leave = ast.Expr(value=self.call("_il_wexit", [], node), **_loc(node))
        return [enter, _copy(node, test=test, body=body, orelse=[leave, *orelse])]

    def s_With(self, node: Any) -> list[ast.stmt]:
        items: list[ast.withitem] = []
        for i, item in enumerate(node.items):
            ctx = self.call("_il_with", [self.site(item.context_expr), self.expr(item.context_expr)],
                            item.context_expr)
            if item.optional_vars is None:
                items.append(_copy(item, context_expr=ctx))
                continue
            target, pre = self.target_via_temp(item.optional_vars)
            items.append(_copy(item, context_expr=ctx, optional_vars=target))
            if pre:
                # the store must happen before the next manager is evaluated: nest the rest
                rest = node.items[i + 1:]
                if rest:
                    inner = _copy(node, items=rest)
                    body = pre + self.stmt(inner)
                else:
                    body = pre + self.stmts(node.body)
                return [_copy(node, items=items, body=body)]
        return [_copy(node, items=items, body=self.stmts(node.body))]

    s_AsyncWith = s_With

    def s_FunctionDef(self, node: Any) -> list[ast.stmt]:
        decorators = [self.expr(d) for d in node.decorator_list]
        args = self.arguments(node.args)
        with self.inside(node):
            body = self.stmts(node.body)
        return [_copy(node, decorator_list=decorators, args=args, body=body)]

    s_AsyncFunctionDef = s_FunctionDef

    def s_ClassDef(self, node: ast.ClassDef) -> list[ast.stmt]:
        decorators = [self.expr(d) for d in node.decorator_list]
        bases = [self.expr(b) for b in node.bases]
        keywords = [_copy(k, value=self.expr(k.value)) for k in node.keywords]
        with self.inside(node):
            body = self.stmts(node.body)
        return [_copy(node, decorator_list=decorators, bases=bases, keywords=keywords, body=body)]

    def s_Assign(self, node: ast.Assign) -> list[ast.stmt]:
        value = self.expr(node.value)
        targets = node.targets
        if all(self.is_local_target(t) for t in targets):
            return [_copy(node, value=value)]
        if len(targets) == 1:
            return self.store(targets[0], value)
        temp = self.new_temp()
        out: list[ast.stmt] = [ast.Assign(targets=[self.name(temp, node, _STORE)], value=value,
                                          **_loc(node))]
        for t in targets:
            out.extend(self.store(t, self.name(temp, t)))
        return out

    def s_AugAssign(self, node: ast.AugAssign) -> list[ast.stmt]:
        target = node.target
        value = self.expr(node.value)
        op = _AUG_OPS[type(node.op)]
        loc = _loc(node)
        if isinstance(target, ast.Name):
            current = self.x_Name(self.name(target.id, target))
            if current.__class__ is ast.Name and isinstance(node.value, ast.Constant):
                return [_copy(node, value=value)]  # a local number or string: native
            # ``_il_inplace`` tells a write of the container when ``x`` is one (``l += [1]`` mutates it)
            result = self.call("_il_inplace", [current, value, self.name(op, node), self.site(target)], node)
            return [ast.Assign(targets=[self.name(target.id, target, _STORE)],
                               value=self.name_write(target.id, result, target), **loc)]
        if isinstance(target, ast.Attribute):
            attr = self.const(self.mangled(target.attr), target)
            pair = self.call("_il_ra2", [self.expr(target.value), attr, self.site(target)], target)
            call = self.call("_il_aug_wa", [pair, value, self.name(op, node), attr, self.site(target)], node)
            return [ast.Expr(value=call, **loc)]
        if isinstance(target, ast.Subscript):
            triple = self.call("_il_rs2", [self.expr(target.value), self.key(target.slice),
                                           self.site(target)], target)
            call = self.call("_il_aug_ws", [triple, value, self.name(op, node), self.site(target)], node)
            return [ast.Expr(value=call, **loc)]
        raise SyntaxError("illegal augmented assignment target")  # pragma: no cover

    def s_AnnAssign(self, node: ast.AnnAssign) -> list[ast.stmt]:
        target = node.target
        if node.value is None:
            if isinstance(target, ast.Name):
                return [node]
            if isinstance(target, ast.Attribute):
                return [_copy(node, target=_copy(target, value=self.expr(target.value)))]
            if isinstance(target, ast.Subscript):
                return [_copy(node, target=_copy(target, value=self.expr(target.value),
                                                 slice=self.expr(target.slice)))]
            return [node]  # pragma: no cover
        value = self.expr(node.value)
        if isinstance(target, ast.Name):
            return [_copy(node, value=self.name_write(target.id, value, target))]
        # attribute/subscript targets: the store is instrumented; the annotation is dropped
        return self.store(target, value)

    def s_Delete(self, node: ast.Delete) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        loc = _loc(node)

        def one(t: ast.expr) -> None:
            if isinstance(t, (ast.Tuple, ast.List)):
                for e in t.elts:
                    one(e)
            elif isinstance(t, ast.Name):
                kind, owner = self.classify(t.id)
                if kind == GLOBAL:
                    hook = self.call("_il_dg", [self.const(self.mangled(t.id), t), self.site(t)], t)
                    out.append(ast.Expr(value=hook, **_loc(t)))
                elif kind in _CELLS and owner is not None:
                    key = self.cell_key(kind, owner, self.mangled(t.id), t)
                    out.append(ast.Expr(value=self.call("_il_dc", [key, self.site(t)], t), **_loc(t)))
                out.append(ast.Delete(targets=[t], **loc))
            elif isinstance(t, ast.Attribute):
                hook = self.call("_il_da", [self.expr(t.value), self.const(self.mangled(t.attr), t),
                                            self.site(t)], t)
                out.append(ast.Expr(value=hook, **_loc(t)))
            elif isinstance(t, ast.Subscript):
                hook = self.call("_il_ds", [self.expr(t.value), self.key(t.slice), self.site(t)], t)
                out.append(ast.Expr(value=hook, **_loc(t)))
            else:  # pragma: no cover
                out.append(ast.Delete(targets=[t], **loc))

        for t in node.targets:
            one(t)
        return out

    def s_Try(self, node: Any) -> list[ast.stmt]:
        handlers = [_copy(h, type=self.expr(h.type), body=self.stmts(h.body)) for h in node.handlers]
        return [_copy(node, body=self.stmts(node.body), handlers=handlers,
                      orelse=self.stmts(node.orelse), finalbody=self.stmts(node.finalbody))]

    s_TryStar = s_Try

    def s_Match(self, node: Any) -> list[ast.stmt]:
        # mapping and sequence patterns read the subject's contents (keys, length, items) in C
        subject = self.iterated(node.subject)
        cases = [_copy(c, guard=self.expr(c.guard), body=self.stmts(c.body)) for c in node.cases]
        return [_copy(node, subject=subject, cases=cases)]

    def _unchanged(self, node: ast.stmt) -> list[ast.stmt]:
        return [node]

    s_Import = s_ImportFrom = s_Global = s_Nonlocal = s_Pass = s_Break = s_TypeAlias = _unchanged

    # -- entry --------------------------------------------------------------------------------------
    def module(self, tree: Any) -> Any:
        if isinstance(tree, ast.Expression):
            return _copy(tree, body=self.expr(tree.body))
        return _copy(tree, body=self.stmts(tree.body))


def rewrite(tree: Any, filename: str) -> Any:
    """Rewrite a parsed ``Module``/``Expression``/``Interactive``; the input tree is not modified."""
    if not isinstance(tree, (ast.Module, ast.Expression, ast.Interactive)):
        raise TypeError(f"expected Module, Expression or Interactive node, got {type(tree).__name__}")
    return _Rewriter(analyze(tree), filename).module(tree)


_FUTURE_MASK = 0
for _feature in __future__.all_feature_names:
    _FUTURE_MASK |= getattr(__future__, _feature).compiler_flag


def _inherited_future_flags() -> int:
    """The ``__future__`` flags of the first calling frame outside interlace (what ``compile``
    would inherit when ``dont_inherit`` is false)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (isinstance(name, str) and (name == "interlace" or name.startswith("interlace."))):
            return frame.f_code.co_flags & _FUTURE_MASK
        frame = frame.f_back  # type: ignore[assignment]
    return 0


def _repair_ranges(tree: ast.AST) -> None:
    """``fix_missing_locations`` gives nodes that had a start but no end (as pytest's assertion
    rewriter makes them) their parent's end, which may precede the start: clamp those."""
    for node in ast.walk(tree):
        end = getattr(node, "end_lineno", None)
        if end is not None and end < node.lineno:  # type: ignore[attr-defined]
            node.end_lineno = node.lineno  # type: ignore[attr-defined]
            node.end_col_offset = node.col_offset  # type: ignore[attr-defined]


def compile_source(source: str | bytes | ast.AST, filename: str, mode: str = "exec", flags: int = 0,
                   dont_inherit: bool = False, optimize: int = -1) -> types.CodeType:
    """Like :func:`compile`, but the code is rewritten first (and registered as instrumented)."""
    if not dont_inherit:
        flags |= _inherited_future_flags()
    flags &= ~ast.PyCF_ONLY_AST
    if isinstance(source, ast.AST):
        tree = source
        if mode == "exec" and not isinstance(tree, ast.Module) or \
                mode == "eval" and not isinstance(tree, ast.Expression) or \
                mode == "single" and not isinstance(tree, ast.Interactive):
            return compile(source, filename, mode, flags, True, optimize)  # raises like Python
    else:
        tree = compile(source, filename, mode, flags | ast.PyCF_ONLY_AST, True, optimize)
    new = rewrite(tree, filename)
    ast.fix_missing_locations(new)
    if tree is source:  # parsed source has complete positions; trees from elsewhere may not
        _repair_ranges(new)
    code = compile(new, filename, mode, flags, True, optimize)
    registry.register(code)
    return code
