"""Real code through the rewriter gives the same results as plain Python.

Private copies of pure-Python stdlib modules (and of interlace's own modules) are compiled with
``compile_source`` into fresh module objects and compared call by call with the originals, with the
real hooks installed, both with an active (fake) execution and with none.
"""

from __future__ import annotations

import ast
import doctest
import fractions
import importlib.util
import json
import math
import os
import random
import statistics
import sys
import textwrap
import types
from decimal import Decimal

import pytest

import interlace.instrument as instrument
from interlace.instrument import compile_source, is_instrumented_function
from interlace.runtime import hooks

pytestmark = pytest.mark.timeout(300)

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "interlace")


# Compiled from a string so that in-place re-instrumentation of test modules never reaches it.
_FAKE_NS: dict = {"__name__": "il_fake_counter"}
exec(compile(textwrap.dedent("""
class CountingExecution:

    def __init__(self) -> None:
        self.accesses = self.calls = self.withs = self.loops = 0

    capture_values = False
    reads_first = False
    def observe(self, value):
        pass
    def access(self, kind, obj, name, site, *value):
        self.accesses += 1

    def callee(self, fn, site):
        return self.call(fn, site)

    def call(self, fn, site, *rest):
        self.calls += 1
        return fn

    def with_manager(self, manager, site):
        self.withs += 1
        return manager

    def loop(self, site):
        self.loops += 1

    def loop_entered(self):
        pass

    def loop_exited(self):
        pass
"""), "<fake>", "exec"), _FAKE_NS)
CountingExecution = _FAKE_NS["CountingExecution"]


def load_copy(modname: str, newname: str, block: tuple[str, ...] = (), package: str | None = None,
              path: str | None = None, plain: bool = False) -> types.ModuleType:
    if path is None:
        spec = importlib.util.find_spec(modname)
        assert spec is not None and spec.origin
        path = spec.origin
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True) if plain else compile_source(source, path)
    mod = types.ModuleType(newname)
    mod.__file__ = path
    mod.__package__ = package if package is not None else modname.rpartition(".")[0]
    saved = {name: sys.modules.get(name) for name in block}
    for name in block:
        sys.modules[name] = None  # type: ignore[assignment]  # force the pure-Python fallbacks
    sys.modules[newname] = mod
    try:
        exec(code, mod.__dict__)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return mod


@pytest.fixture(params=["active", "inactive"], scope="module")
def mode(request):
    ex = CountingExecution() if request.param == "active" else None
    hooks.set_active(ex)
    try:
        mods = types.SimpleNamespace(
            ex=ex,
            fractions=load_copy("fractions", "il_copy_fractions"),
            textwrap=load_copy("textwrap", "il_copy_textwrap"),
            statistics=load_copy("statistics", "il_copy_statistics"),
        )
        mods.scanner = load_copy("json.scanner", "il_copy_json_scanner", block=("_json",))
        mods.decoder = load_copy("json.decoder", "il_copy_json_decoder", block=("_json",))
        mods.decoder.scanner = mods.scanner
        mods.encoder = load_copy("json.encoder", "il_copy_json_encoder", block=("_json",))
        # references for json: the same pure-Python paths, not instrumented (the C accelerator's
        # error messages differ from the Python implementation's)
        mods.ref_scanner = load_copy("json.scanner", "il_copy_ref_scanner", block=("_json",), plain=True)
        mods.ref_decoder = load_copy("json.decoder", "il_copy_ref_decoder", block=("_json",), plain=True)
        mods.ref_decoder.scanner = mods.ref_scanner
        mods.ref_encoder = load_copy("json.encoder", "il_copy_ref_encoder", block=("_json",), plain=True)
        yield mods
    finally:
        hooks.set_active(None)
        for name in list(sys.modules):
            if name.startswith("il_copy_"):
                del sys.modules[name]


def outcome(fn, *args, **kwargs):
    """``('ok', repr(result))`` or ``('error', type name, message)`` — comparable across copies."""
    try:
        return ("ok", repr(fn(*args, **kwargs)))
    except Exception as e:  # noqa: BLE001 - we compare whatever happens
        return ("error", type(e).__name__, str(e))


def test_copies_are_instrumented(mode):
    assert is_instrumented_function(mode.fractions.Fraction.__add__)
    assert not is_instrumented_function(fractions.Fraction.__add__)
    assert mode.scanner.make_scanner is mode.scanner.py_make_scanner
    assert mode.decoder.scanstring is mode.decoder.py_scanstring
    assert mode.encoder.c_make_encoder is None


# -- fractions -------------------------------------------------------------------------------------------


def _fraction_cases():
    values = [(n, d) for n in (-7, -3, -1, 0, 1, 2, 5, 12) for d in (1, 2, 3, 7)]
    rng = random.Random(1)
    pairs = [(rng.choice(values), rng.choice(values)) for _ in range(150)]
    return values, pairs


def test_fractions_arithmetic(mode):
    F, G = mode.fractions.Fraction, fractions.Fraction
    values, pairs = _fraction_cases()
    ops = [
        lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
        lambda a, b: a // b, lambda a, b: a % b, lambda a, b: divmod(a, b), lambda a, b: a ** 2 - b,
        lambda a, b: (a < b, a <= b, a == b, a != b, a > b, a >= b), lambda a, b: a + 1.5 * b.numerator,
        lambda a, b: (round(a), round(a, 2), math.floor(a), math.ceil(a), math.trunc(b), abs(a), -b),
        lambda a, b: (str(a), float(b), a.as_integer_ratio(), hash(a) == hash(b), bool(a)),
    ]
    checked = 0
    for (n1, d1), (n2, d2) in pairs:
        for op in ops:
            mine = outcome(op, F(n1, d1), F(n2, d2))
            ref = outcome(op, G(n1, d1), G(n2, d2))
            assert mine == ref, (n1, d1, n2, d2)
            checked += 1
    assert checked >= 1500
    if mode.ex is not None:
        assert mode.ex.accesses > 1000 and mode.ex.calls > 1000


def test_fractions_parsing_and_limit_denominator(mode):
    F, G = mode.fractions.Fraction, fractions.Fraction
    texts = ["3/4", " -12/18 ", "1.5e-3", "0.125", "7", "-0", "2e5", "1_000/3", "bad", "1/0", ".5", "5."]
    for t in texts:
        assert outcome(lambda s, C: str(C(s)), t, F) == outcome(lambda s, C: str(C(s)), t, G)
    for x in (math.pi, math.e, 0.1, 1 / 3, -2.75, 1e-7, 123456.789):
        for limit in (1, 2, 10, 100, 1000, 10**6):
            assert str(F(x).limit_denominator(limit)) == str(G(x).limit_denominator(limit))
            assert str(F.from_float(x).limit_denominator(limit)) == \
                str(G.from_float(x).limit_denominator(limit))
        assert str(F.from_decimal(Decimal(str(x)))) == str(G.from_decimal(Decimal(str(x))))
    assert outcome(F, 1, 0) == outcome(G, 1, 0)
    assert outcome(F, "x/y") == outcome(G, "x/y")


# -- textwrap --------------------------------------------------------------------------------------------

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris.",
    "supercalifragilisticexpialidocious-antidisestablishmentarianism and a-very-long-hyphenated-word here",
    "tabs\there\tand\tthere,  double  spaces.  Sentence end! Another? Yes.",
    "",
    "   leading and trailing   ",
    "line one\nline two\n\nparagraph two with more words than fit",
]


def test_textwrap(mode):
    tw = mode.textwrap
    checked = 0
    for text in TEXTS:
        for width in (1, 5, 8, 12, 20, 33, 70):
            for kw in ({}, {"break_long_words": False}, {"break_on_hyphens": False},
                       {"initial_indent": "* ", "subsequent_indent": "  "}, {"fix_sentence_endings": True},
                       {"max_lines": 2, "placeholder": " [..]"}, {"expand_tabs": False, "tabsize": 4},
                       {"drop_whitespace": False}):
                if width < 5 and "initial_indent" in kw:
                    continue  # CPython's textwrap loops forever there (indent wider than the line)
                assert outcome(tw.wrap, text, width, **kw) == outcome(textwrap.wrap, text, width, **kw)
                assert outcome(tw.fill, text, width, **kw) == outcome(textwrap.fill, text, width, **kw)
                checked += 2
            assert outcome(tw.shorten, text, width + 10) == outcome(textwrap.shorten, text, width + 10)
    blocks = ["    a\n      b\n    c\n", "\tx\n\ty\n", "  a\n\n  b", "no indent\n  some"]
    for block in blocks:
        assert tw.dedent(block) == textwrap.dedent(block)
        assert tw.indent(block, "> ") == textwrap.indent(block, "> ")
        assert tw.indent(block, "+", lambda line: "a" in line) == \
            textwrap.indent(block, "+", lambda line: "a" in line)
    assert checked > 700


# -- statistics ------------------------------------------------------------------------------------------


def test_statistics(mode):
    st = mode.statistics
    rng = random.Random(7)
    datasets = [[1, 2, 3, 4, 4], [2.5, 3.25, 5.5, 11.25], [rng.gauss(10, 3) for _ in range(50)],
                [rng.randint(0, 9) for _ in range(31)], [fractions.Fraction(1, 3), fractions.Fraction(2, 7)],
                [Decimal("0.5"), Decimal("0.75"), Decimal("1.5")], [7], []]
    funcs = ["mean", "fmean", "geometric_mean", "harmonic_mean", "median", "median_low", "median_high",
             "median_grouped", "mode", "multimode", "pstdev", "stdev", "pvariance", "variance"]
    checked = 0
    for data in datasets:
        for name in funcs:
            mine, ref = outcome(getattr(st, name), data), outcome(getattr(statistics, name), data)
            assert mine == ref, (name, data)
            checked += 1
        for n in (2, 4, 10):
            for method in ("exclusive", "inclusive"):
                assert outcome(st.quantiles, data, n=n, method=method) == \
                    outcome(statistics.quantiles, data, n=n, method=method)
                checked += 1
    xs, ys = [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]
    assert outcome(st.correlation, xs, ys) == outcome(statistics.correlation, xs, ys)
    assert outcome(st.linear_regression, xs, ys) == outcome(statistics.linear_regression, xs, ys)
    assert outcome(st.covariance, xs, ys) == outcome(statistics.covariance, xs, ys)
    for mu, sigma in ((0, 1), (100, 15), (-3, 0.5)):
        a, b = st.NormalDist(mu, sigma), statistics.NormalDist(mu, sigma)
        for x in (-2, 0, 0.5, 1, 99, 130):
            assert (a.pdf(x), a.cdf(x), a.zscore(x)) == (b.pdf(x), b.cdf(x), b.zscore(x))
        for p in (0.01, 0.25, 0.5, 0.9):
            assert a.inv_cdf(p) == b.inv_cdf(p)
        assert a.quantiles() == b.quantiles()
        assert a.overlap(st.NormalDist(1, 2)) == b.overlap(statistics.NormalDist(1, 2))
        assert repr(a + 3) == repr(b + 3) and repr(a * 2) == repr(b * 2)
        assert repr(st.NormalDist.from_samples(datasets[2])) == \
            repr(statistics.NormalDist.from_samples(datasets[2]))
        checked += 1
    assert checked > 150


def test_doctests_of_instrumented_modules(mode):
    for copy, original in ((mode.statistics, statistics), (mode.fractions, fractions)):
        mine = doctest.testmod(copy, verbose=False, report=False)
        ref = doctest.testmod(original, verbose=False, report=False)
        assert (mine.failed, mine.attempted) == (ref.failed, ref.attempted)
        assert mine.attempted > 0 or copy is mode.fractions


# -- json ------------------------------------------------------------------------------------------------


def _json_values():
    rng = random.Random(3)

    def value(depth):
        kind = rng.randrange(9 if depth < 4 else 6)
        if kind == 0:
            return rng.randint(-10**6, 10**6)
        if kind == 1:
            return rng.random() * 1000 - 500
        if kind == 2:
            return "".join(rng.choice("ab\"\\\n\t é€😀/") for _ in range(rng.randrange(8)))
        if kind == 3:
            return rng.choice([True, False, None])
        if kind == 4:
            return float(rng.choice(["inf", "-inf"])) if rng.random() < 0.1 else 0.5
        if kind == 5:
            return ""
        if kind == 6:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{rng.randrange(20)}": value(depth + 1) for _ in range(rng.randrange(4))}

    return [value(0) for _ in range(120)] + [{"a": [1, {"b": None}], "c": "x"}, [], {}, [[[]]], "€"]


def test_json_round_trips(mode):
    enc, dec = mode.encoder, mode.decoder
    options = [{}, {"indent": 2}, {"sort_keys": True}, {"separators": (",", ":")}, {"ensure_ascii": False},
               {"indent": "\t", "sort_keys": True, "separators": (", ", ": ")}, {"allow_nan": False}]
    checked = 0
    for v in _json_values():
        for opts in options:
            mine = outcome(enc.JSONEncoder(**opts).encode, v)
            ref = outcome(mode.ref_encoder.JSONEncoder(**opts).encode, v)
            assert mine == ref, (v, opts)
            if mine[0] == "ok":
                text = json.JSONEncoder(**opts).encode(v)
                assert outcome(dec.JSONDecoder().decode, text) == \
                    outcome(mode.ref_decoder.JSONDecoder().decode, text)
                assert outcome(dec.JSONDecoder().decode, text) == outcome(json.loads, text)
            checked += 1
    assert checked > 800


def test_json_decode_errors_and_hooks(mode):
    dec, ref = mode.decoder, mode.ref_decoder
    bad = ['{"a": 1,}', "[1, 2", '"unterminated', '{"a" 1}', "tru", "[1] x", '"\\ud800"', '"\\x"', "",
           "NaN", "[-Infinity]", '{"dup": 1, "dup": 2}', '  {"nested": [1, 2, {"k": "\\u00e9"}]}  ']
    for text in bad:
        assert outcome(dec.JSONDecoder().decode, text) == outcome(ref.JSONDecoder().decode, text), text
        assert outcome(dec.JSONDecoder(strict=False).raw_decode, text) == \
            outcome(ref.JSONDecoder(strict=False).raw_decode, text)
    hook = lambda pairs: sorted(pairs)  # noqa: E731
    text = '{"b": 1, "a": [1.5, {"c": 2}]}'
    assert outcome(dec.JSONDecoder(object_pairs_hook=hook, parse_float=Decimal).decode, text) == \
        outcome(ref.JSONDecoder(object_pairs_hook=hook, parse_float=Decimal).decode, text)


# -- interlace's own code ----------------------------------------------------------------------------------


def _interlace_sources():
    out = []
    for root, _dirs, files in os.walk(SRC):
        out.extend(os.path.join(root, f) for f in files if f.endswith(".py"))
    return sorted(out)


def test_compile_all_interlace_modules():
    sources = _interlace_sources()
    assert len(sources) >= 10
    for path in sources:
        with open(path, "rb") as f:
            compile_source(f.read(), path)


def test_instrumented_rewriter_rewrites_like_the_original(mode):
    """Self-hosting: an instrumented copy of the rewriter produces the same trees as the real one."""
    inst_dir = os.path.dirname(instrument.__file__)
    scopes = load_copy("interlace.instrument.scopes", "il_copy_scopes", package="interlace.instrument",
                       path=os.path.join(inst_dir, "scopes.py"))
    rewriter = load_copy("interlace.instrument.rewriter", "il_copy_rewriter", package="interlace.instrument",
                         path=os.path.join(inst_dir, "rewriter.py"))
    rewriter.analyze = scopes.analyze  # use the instrumented analysis too
    selection = load_copy("interlace.instrument.selection", "il_copy_selection",
                          package="interlace.instrument", path=os.path.join(inst_dir, "selection.py"))
    assert is_instrumented_function(rewriter.rewrite) and is_instrumented_function(scopes.analyze)
    from interlace.instrument.rewriter import rewrite

    for path in [fractions.__file__, textwrap.__file__, statistics.__file__, json.decoder.__file__,
                 *_interlace_sources()[:6]]:
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
        assert ast.dump(rewriter.rewrite(tree, path), include_attributes=True) == \
            ast.dump(rewrite(tree, path), include_attributes=True)
    from interlace.instrument.selection import Selection

    for inc, exc, name, fn in [((), (), "pkg.mod", "/tmp/x/pkg/mod.py"),
                               (("json",), (), "json.decoder", json.decoder.__file__),
                               ((), ("pkg.*",), "pkg.mod", "/tmp/x/pkg/mod.py"),
                               ((), (), "interlace.cli", "/tmp/x.py")]:
        assert selection.Selection(inc, exc).is_under_test(name, fn) == \
            Selection(inc, exc).is_under_test(name, fn)
