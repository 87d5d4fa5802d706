"""Static scope analysis: which names of a module are shared (global or closure cells).

The analysis follows Python's own resolution rules, independently of the interpreter version, so
that the rewriter instruments the same accesses on 3.10–3.13:

* module level: every name is global;
* a function (``def``/``async def``/``lambda``) owns the names it binds, unless declared ``global``
  or ``nonlocal``; names it only reads resolve to the nearest enclosing function that binds them
  (class bodies are skipped), else to the module globals / builtins;
* class bodies: names bound there are class-local;
* list/set/dict comprehensions are *transparent*: they run synchronously in their defining frame
  (and are inlined since 3.12, PEP 709), so a variable they capture is not shared with other threads
  because of them. Generator expressions are real closures (they may run anywhere later).

A local variable is *shared* (a cell worth instrumenting) only when a real closure (a nested
function, lambda or generator expression) refers to it. It is *settled* when its binding never
changes once a closure that reads it exists: a function's parameter it never binds again, or a name it
binds in exactly one plain statement of its own body (``queue = asyncio.Queue()``, ``def worker():``)
that comes before every statement making a closure that refers to it, with no ``nonlocal`` for it
anywhere. Every read of such a cell reads the one value written before any other unit could see the
cell (the closure is made after the binding, and a thread or task running it is started after that),
so no access to it can race: the rewriter marks its key (rewriter.cell_key) and the race detector
skips it: the most common access of threaded tests and asyncio services (their workers read the
queue, lock and dict the test made; 2,016 of the 3,326 accesses of bench/bench_asyncio.py's program).
Its accesses stay scheduling points,
as every closure read: which interleavings are explored does not depend on this analysis. What such a
cell holds is instrumented like any object. Only code outside the language's scoping can rebind such a
cell (assigning ``fn.__closure__[i].cell_contents``, a debugger writing ``frame.f_locals`` on 3.13+):
its reads then go unreported. Misclassifying a name never changes the program's behaviour, only which
accesses are reported: the rewritten code always performs the access natively.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any

MODULE = "module"
CLASS = "class"
FUNCTION = "function"
COMPREHENSION = "comprehension"
GENEXPR = "genexpr"
TYPEPARAMS = "typeparams"

REAL_CLOSURES = (FUNCTION, GENEXPR)

# classification results
LOCAL = "local"
GLOBAL = "global"
CELL = "cell"
SETTLED = "settled"  # a cell whose binding never changes once a closure can read it (see above)

PARAMETER = -1  # the "statement" that binds a function's parameters: before its body
#: the statements of a function body whose bindings happen once, in that function's own frame
_PLAIN_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.Expr, ast.Import, ast.ImportFrom, ast.FunctionDef,
                     ast.AsyncFunctionDef, ast.ClassDef)

_BUILTIN_NAMES = frozenset(dir(builtins))
_COMP_NAMES = {
    ast.ListComp: "<listcomp>",
    ast.SetComp: "<setcomp>",
    ast.DictComp: "<dictcomp>",
    ast.GeneratorExp: "<genexpr>",
}


def mangle(private: str | None, name: str) -> str:
    """Private name mangling exactly as the CPython compiler does it."""
    if private is None or not name.startswith("__") or name.endswith("__") or "." in name:
        return name
    stripped = private.lstrip("_")
    if not stripped:
        return name
    return "_" + stripped + name


class Scope:
    __slots__ = ("kind", "name", "lineno", "parent", "private", "bound", "globals", "nonlocals",
                 "uses", "shared", "_memo", "statement", "plain", "made_at", "binds", "rebound", "settled")

    def __init__(self, kind: str, name: str, lineno: int, parent: Scope | None, private: str | None):
        self.kind = kind
        self.name = name
        self.lineno = lineno
        self.parent = parent
        self.private = private
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.uses: set[str] = set()
        self.shared: set[str] = set()
        self._memo: dict[str, tuple[str, Scope | None]] = {}
        # where bindings and closures are in a function's body, to tell settled cells (see the module's
        # docstring): the index of the statement of this scope's body being analysed, whether it is a
        # plain one, the index of the parent's statement this scope is made in
        self.statement = 0
        self.plain = False
        self.made_at = parent.statement if parent is not None else 0
        self.binds: dict[str, set[int]] = {}  # name -> the statements that bind it
        self.rebound: set[str] = set()  # names bound elsewhere than by one plain statement of this frame
        self.settled: set[str] = set()

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Scope {self.kind} {self.name}@{self.lineno}>"


def _find_owner(scope: Scope | None, name: str) -> Scope | None:
    """The function-like scope that binds ``name`` as seen from a scope nested in ``scope``."""
    while scope is not None:
        kind = scope.kind
        if kind == CLASS:
            scope = scope.parent
            continue
        if kind == MODULE:
            return None
        if name in scope.globals:
            return None
        if name in scope.nonlocals:
            scope = scope.parent
            continue
        if name in scope.bound:
            return scope
        scope = scope.parent
    return None


def _resolve(scope: Scope, name: str) -> tuple[str, Scope | None, bool]:
    """``(kind, owner, via_real_closure)`` with kind one of 'global', 'local', 'classlocal', 'free'."""
    if name in scope.globals or scope.kind == MODULE:
        return GLOBAL, None, False
    if scope.kind == TYPEPARAMS:
        return LOCAL, scope, False
    if name in scope.nonlocals:
        owner = _find_owner(scope.parent, name)
    elif name in scope.bound:
        if scope.kind == CLASS:
            return "classlocal", None, False
        return LOCAL, scope, False
    else:
        owner = _find_owner(scope.parent, name)
    if owner is None:
        return GLOBAL, None, False
    real = False
    s: Scope | None = scope
    while s is not None and s is not owner:
        if s.kind in REAL_CLOSURES:
            real = True
            break
        s = s.parent
    return "free", owner, real


class ScopeInfo:
    """The result of :func:`analyze`: scope of every scope-creating node, classification of names."""

    def __init__(self, module: Scope, node_scopes: dict[ast.AST, Scope], all_scopes: list[Scope]):
        self.module = module
        self.node_scopes = node_scopes
        module_names = set(module.bound)
        for s in all_scopes:
            module_names |= s.globals
        self._module_names = module_names
        first_reader: dict[tuple[Scope, str], int] = {}  # the first statement of the owner making a reader
        for s in all_scopes:
            for name in s.nonlocals:
                owner = _find_owner(s.parent, name)
                if owner is not None:
                    owner.rebound.add(name)
            for name in s.uses:
                kind, owner, real = _resolve(s, name)
                if kind == "free" and real and owner is not None:
                    owner.shared.add(name)
                    child = s
                    while child.parent is not owner and child.parent is not None:
                        child = child.parent
                    at = first_reader.get((owner, name))
                    if at is None or child.made_at < at:
                        first_reader[(owner, name)] = child.made_at
        for (owner, name), at in first_reader.items():
            binds = owner.binds.get(name, ())
            if owner.kind == FUNCTION and name not in owner.rebound and len(binds) == 1 and min(binds) < at:
                owner.settled.add(name)

    def classify(self, scope: Scope, name: str) -> tuple[str, Scope | None]:
        """``(GLOBAL, None)``, ``(CELL, owner)``, ``(SETTLED, owner)`` (a cell no access to which races)
        or ``(LOCAL, None)`` (= not instrumented)."""
        memo = scope._memo
        hit = memo.get(name)
        if hit is not None:
            return hit
        result: tuple[str, Scope | None]
        if name.startswith("_il_") or name == "__class__":
            result = (LOCAL, None)
        else:
            kind, owner, _ = _resolve(scope, name)
            if kind == GLOBAL:
                if name in _BUILTIN_NAMES and name not in self._module_names:
                    result = (LOCAL, None)
                else:
                    result = (GLOBAL, None)
            elif kind in (LOCAL, "free") and owner is not None and owner.kind != TYPEPARAMS \
                    and name in owner.shared:
                result = (SETTLED if name in owner.settled else CELL, owner)
            else:
                result = (LOCAL, None)
        memo[name] = result
        return result


class _Builder:
    def __init__(self) -> None:
        self.node_scopes: dict[ast.AST, Scope] = {}
        self.all: list[Scope] = []

    def new(self, kind: str, name: str, lineno: int, parent: Scope | None, node: ast.AST | None,
            private: str | None) -> Scope:
        s = Scope(kind, name, lineno, parent, private)
        self.all.append(s)
        if node is not None:
            self.node_scopes[node] = s
        return s

    # -- helpers ------------------------------------------------------------------------------
    def bind(self, scope: Scope, name: str, statement: int | None = None) -> None:
        name = mangle(scope.private, name)
        scope.bound.add(name)
        scope.uses.add(name)
        scope.binds.setdefault(name, set()).add(scope.statement if statement is None else statement)
        if statement is None and not scope.plain:
            scope.rebound.add(name)

    def visit_body(self, body: list[ast.stmt], scope: Scope) -> None:
        """A function's body, each statement numbered (its bindings and closures are placed by it)."""
        for i, stmt in enumerate(body):
            scope.statement, scope.plain = i, isinstance(stmt, _PLAIN_STATEMENTS)
            self.visit(stmt, scope)

    def visit_list(self, nodes: Any, scope: Scope) -> None:
        for n in nodes:
            if n is not None:
                self.visit(n, scope)

    def visit_args(self, args: ast.arguments, scope: Scope) -> None:
        """Defaults belong to the enclosing scope; annotations are never instrumented."""
        self.visit_list(args.defaults, scope)
        self.visit_list(args.kw_defaults, scope)

    def bind_params(self, args: ast.arguments, scope: Scope) -> None:
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            self.bind(scope, a.arg, PARAMETER)
        if args.vararg is not None:
            self.bind(scope, args.vararg.arg, PARAMETER)
        if args.kwarg is not None:
            self.bind(scope, args.kwarg.arg, PARAMETER)

    def type_param_scope(self, node: Any, scope: Scope) -> Scope:
        params = getattr(node, "type_params", None)
        if not params:
            return scope
        tp = self.new(TYPEPARAMS, node.name, node.lineno, scope, None, scope.private)
        for p in params:
            tp.bound.add(p.name)
        return tp

    # -- dispatch -------------------------------------------------------------------------------
    def visit(self, node: ast.AST, scope: Scope) -> None:
        meth = getattr(self, "visit_" + node.__class__.__name__, None)
        if meth is not None:
            meth(node, scope)
            return
        for _field, value in ast.iter_fields(node):
            if isinstance(value, ast.AST):
                self.visit(value, scope)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item, scope)

    def visit_Name(self, node: ast.Name, scope: Scope) -> None:
        if isinstance(node.ctx, ast.Load):
            scope.uses.add(mangle(scope.private, node.id))
        else:
            self.bind(scope, node.id)

    def visit_Global(self, node: ast.Global, scope: Scope) -> None:
        for n in node.names:
            scope.globals.add(mangle(scope.private, n))

    def visit_Nonlocal(self, node: ast.Nonlocal, scope: Scope) -> None:
        for n in node.names:
            scope.nonlocals.add(mangle(scope.private, n))

    def visit_Import(self, node: ast.Import, scope: Scope) -> None:
        for alias in node.names:
            self.bind(scope, alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom, scope: Scope) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.bind(scope, alias.asname or alias.name)

    def visit_FunctionDef(self, node: Any, scope: Scope) -> None:
        self.bind(scope, node.name)
        self.visit_list(node.decorator_list, scope)
        self.visit_args(node.args, scope)
        outer = self.type_param_scope(node, scope)
        fs = self.new(FUNCTION, node.name, node.lineno, outer, node, scope.private)
        self.bind_params(node.args, fs)
        self.visit_body(node.body, fs)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda, scope: Scope) -> None:
        self.visit_args(node.args, scope)
        fs = self.new(FUNCTION, "<lambda>", node.lineno, scope, node, scope.private)
        self.bind_params(node.args, fs)
        self.visit(node.body, fs)

    def visit_ClassDef(self, node: ast.ClassDef, scope: Scope) -> None:
        self.bind(scope, node.name)
        self.visit_list(node.decorator_list, scope)
        self.visit_list(node.bases, scope)
        self.visit_list(node.keywords, scope)
        outer = self.type_param_scope(node, scope)
        cs = self.new(CLASS, node.name, node.lineno, outer, node, node.name)
        self.visit_list(node.body, cs)

    def visit_TypeAlias(self, node: Any, scope: Scope) -> None:  # 3.12+: left untouched
        self.bind(scope, node.name.id)

    def visit_AnnAssign(self, node: ast.AnnAssign, scope: Scope) -> None:
        self.visit(node.target, scope)
        if node.value is not None:
            self.visit(node.value, scope)

    def visit_arg(self, node: ast.arg, scope: Scope) -> None:  # annotations: never instrumented
        pass

    def visit_ExceptHandler(self, node: ast.ExceptHandler, scope: Scope) -> None:
        if node.type is not None:
            self.visit(node.type, scope)
        if node.name:
            self.bind(scope, node.name)
        self.visit_list(node.body, scope)

    def visit_NamedExpr(self, node: ast.NamedExpr, scope: Scope) -> None:
        self.visit(node.value, scope)
        name = mangle(scope.private, node.target.id)
        target = scope
        lazy = False  # bound from a generator expression's frame, whenever it runs
        while target.kind in (COMPREHENSION, GENEXPR) and target.parent is not None:
            lazy = lazy or target.kind == GENEXPR
            target.uses.add(name)
            target = target.parent
        self.bind(target, node.target.id)
        if lazy:
            target.rebound.add(name)

    def _comprehension(self, node: Any, scope: Scope) -> None:
        gens = node.generators
        self.visit(gens[0].iter, scope)
        kind = GENEXPR if isinstance(node, ast.GeneratorExp) else COMPREHENSION
        cs = self.new(kind, _COMP_NAMES[type(node)], node.lineno, scope, node, scope.private)
        for i, gen in enumerate(gens):
            self.visit(gen.target, cs)
            if i:
                self.visit(gen.iter, cs)
            self.visit_list(gen.ifs, cs)
        if isinstance(node, ast.DictComp):
            self.visit(node.key, cs)
            self.visit(node.value, cs)
        else:
            self.visit(node.elt, cs)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    # match patterns: only the capture names matter
    def visit_MatchAs(self, node: Any, scope: Scope) -> None:
        if node.pattern is not None:
            self.visit(node.pattern, scope)
        if node.name:
            self.bind(scope, node.name)

    def visit_MatchStar(self, node: Any, scope: Scope) -> None:
        if node.name:
            self.bind(scope, node.name)

    def visit_MatchMapping(self, node: Any, scope: Scope) -> None:
        self.visit_list(node.patterns, scope)
        if node.rest:
            self.bind(scope, node.rest)

    def visit_MatchValue(self, node: Any, scope: Scope) -> None:
        pass

    def visit_MatchClass(self, node: Any, scope: Scope) -> None:
        self.visit_list(node.patterns, scope)
        self.visit_list(node.kwd_patterns, scope)


def analyze(tree: ast.AST) -> ScopeInfo:
    b = _Builder()
    module = b.new(MODULE, "<module>", 0, None, tree, None)
    if isinstance(tree, ast.Expression):
        b.visit(tree.body, module)
    else:
        b.visit_list(tree.body, module)  # type: ignore[attr-defined]
    return ScopeInfo(module, b.node_scopes, b.all)
