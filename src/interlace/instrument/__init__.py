"""Instrumentation: rewrite the code under test so every shared access calls a runtime hook.

Importing this package installs the hooks into :mod:`builtins` and registers :func:`compile_source`
as the compiler for source strings passed to ``exec``/``eval``/``compile`` by instrumented code.
"""

from __future__ import annotations

from ..runtime import hooks as _hooks
from .importhook import compile_script, install, instrumenting, uninstall
from .inplace import adopt, reinstrument_loaded
from .registry import is_instrumented_code, is_instrumented_function
from .rewriter import compile_source, rewrite
from .selection import Selection

__all__ = [
    "rewrite", "compile_source", "compile_script", "Selection", "install", "uninstall", "instrumenting",
    "adopt", "reinstrument_loaded", "is_instrumented_code", "is_instrumented_function",
]

_hooks.install_builtins()
_hooks.set_source_compiler(compile_source)
