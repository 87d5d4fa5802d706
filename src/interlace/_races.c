/*
 * interlace._races: the race detector's per-access and per-synchronisation work in C.
 *
 * detect/races.py is the reference: RaceDetector.access and RaceDetector.sync call access() and
 * sync() here first. Each does exactly what the Python method does, statement for statement, on the
 * same objects (the detector's dicts, its _Location, Access and VectorClock instances), when the
 * access or synchronisation is a common one; otherwise it changes nothing and returns False, and the
 * Python method does all of the work. "Common": no object died since the last event, the location
 * exists already, its key is a plain value, the thread's clock exists (see the FALLBACK() lines below
 * for each case). What is not per-access bookkeeping stays Python and is called from here: the
 * atomicity checks (RaceDetector._atomicity), a race's report (_race), _stale and _BySite.put. So a
 * change to those needs no change here; a change to what access() or sync() do in races.py needs the
 * same change here (tests/test_races_native.py compares the reports of both paths field by field).
 * capture() is detect/stacks.py's capture in C, sharing its caches; access() uses it when the detector
 * keeps every access's stack (interlace run, detect-only mode).
 *
 * Optional, like _speedups: without it (not built, INTERLACE_PURE=1) races.py runs alone.
 *
 * Thread safety: the module's own data are the references setup() and setup_stacks() store once, at
 * the import of detect/races.py (under the import lock), and two statistics counters. The detector's
 * objects it reads and changes (and whose items it borrows) are only ever used by one caller at a
 * time, GIL or not: under the scheduler, the unit that holds the baton (one managed thread or task runs
 * at a time, and only it tells the detector); in detect-only mode, where real threads run at once, the
 * caller that holds the mutex serialising the detectors' calls (drivers/detect_only.py). Like
 * _speedups and _lifetimes it is not built for free-threaded interpreters yet (setup.py): that also
 * needs the Py_mod_gil slot (multi-phase init, or importing it turns the GIL back on) and the suite
 * run on a free-threaded build, which this machine does not have.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x030A0000
#error "interlace._races needs Python 3.10 or later"
#endif
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h> /* PyFrame_GetBack, PyFrame_GetLineNumber: in Python.h from 3.11 on */
#endif
#if PY_VERSION_HEX < 0x030C0000
#include <structmember.h> /* PyMemberDef: in Python.h from 3.12 on */
#endif

/* the categories of races.py (_OTHER, _SKIP, _MODULE, _WHOLE_ONLY, _INDEXED, _DICT, _SUBCLASS) */
enum { C_OTHER, C_SKIP, C_MODULE, C_WHOLE_ONLY, C_INDEXED, C_DICT, C_SUBCLASS };

/* set once by setup(): races.py's module-level objects (see its _setup_native) */
static PyObject *g_types;      /* _TYPES: type -> (category, keyed) */
static PyObject *g_lines;      /* _LINES: site -> line */
static PyObject *g_line;       /* _line(site) */
static PyObject *g_attr;       /* the _Attr class */
static PyObject *g_value_keys; /* _VALUE_KEYS */
static PyObject *g_clock;      /* the VectorClock class */
static PyObject *g_whole;      /* _WHOLE, "*" */
static PyObject *g_infos;      /* stacks._infos: id(code) -> (kind, filename, name, code) */
static PyObject *g_stacks;     /* stacks._stacks: every stack captured, once */
static PyObject *g_info;       /* stacks._info(code) */
/* how many calls of access() and sync() did the work here and how many left it to Python (counts(), for
 * tests and benchmarks: a change in races.py that makes every access fall back shows there) */
static unsigned long long n_taken, n_declined;

static PyObject *capture_stack(Py_ssize_t depth);

/* interned attribute names */
static PyObject *s_died, *s_dict_owners, *s_controlled, *s_threads, *s_locations, *s_objects, *s_tp,
    *s_write, *s_kind, *s_stale, *s_tid, *s_clocks, *s_c, *s_accesses, *s_current, *s_fast,
    *s_last, *s_last_at, *s_last_gil, *s_number, *s_line, *s_run, *s_gil_points, *s_reads, *s_clock,
    *s_atomic, *s_name, *s_what, *s_stacks, *s_task, *s_race, *s_atomicity, *s_back_edges,
    *s_os_threads, *s_obtained, *s_pub, *s_writes, *s_put, *s_read, *s_dunder_dict, *s_segs,
    *s_lock_clocks, *s_handoff_clocks, *s_watch, *s_add, *s_acquire, *s_try_acquire, *s_release,
    *s_signal, *s_wait, *s_delete, *s_access_number, *s_gil_clock, *s_back_edge_count;

static int
str_eq(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (!PyUnicode_Check(a) || !PyUnicode_Check(b))
        return 0;
    return PyUnicode_Compare(a, b) == 0;
}

/* -- attributes of the detector's objects ---------------------------------------------------------
 * Most attributes read here are __slots__ of races.py's classes (_Location, Access, _Known, _Step,
 * ThreadState): a member descriptor at a fixed offset in the instance. get_attr/set_attr read and
 * write those at their offset, as the descriptor does, and everything else through PyObject_GetAttr /
 * SetAttr. The offsets are cached by (type, name), valid while the type's version tag is (a change to
 * the class invalidates it; a type without a valid tag is not cached). */

#define SLOT_OBJECT_EX 16 /* T_OBJECT_EX / Py_T_OBJECT_EX */
#define SLOT_READONLY 1   /* READONLY / Py_READONLY */
#define SLOT_CACHE 128

static struct {
    PyTypeObject *type;
    PyObject *name;
    unsigned int version;
    Py_ssize_t offset; /* -1: not a writable object slot */
} slot_cache[SLOT_CACHE];

static unsigned int
valid_version(PyTypeObject *tp)
{
    return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
}

/* the offset of the object slot ``name`` in instances of ``obj``'s type, or -1 */
static Py_ssize_t
type_slot_offset(PyTypeObject *tp, PyObject *name)
{
    size_t i = (((uintptr_t)tp >> 4) * 31 + ((uintptr_t)name >> 4)) & (SLOT_CACHE - 1);
    unsigned int version = valid_version(tp);
    if (version != 0 && slot_cache[i].type == tp && slot_cache[i].name == name && slot_cache[i].version == version)
        return slot_cache[i].offset;
    Py_ssize_t offset = -1;
    if (tp->tp_getattro == PyObject_GenericGetAttr && tp->tp_setattro == PyObject_GenericSetAttr) {
        PyObject *descr = _PyType_Lookup(tp, name); /* borrowed */
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == SLOT_OBJECT_EX && !(member->flags & SLOT_READONLY))
                offset = member->offset;
        }
    }
    version = valid_version(tp); /* (the lookup may have given the type its tag) */
    if (version != 0) {
        slot_cache[i].type = tp;
        slot_cache[i].name = name;
        slot_cache[i].version = version;
        slot_cache[i].offset = offset;
    }
    return offset;
}

static Py_ssize_t
slot_offset(PyObject *obj, PyObject *name)
{
    return type_slot_offset(Py_TYPE(obj), name);
}

/* obj.name (a new reference, or NULL with an error set) */
static PyObject *
get_attr(PyObject *obj, PyObject *name)
{
    Py_ssize_t offset = slot_offset(obj, name);
    if (offset >= 0) {
        PyObject *value = *(PyObject **)((char *)obj + offset);
        if (value != NULL)
            return Py_NewRef(value);
    }
    return PyObject_GetAttr(obj, name); /* (an unset slot: its AttributeError) */
}

/* obj.name = value */
static int
set_attr(PyObject *obj, PyObject *name, PyObject *value)
{
    Py_ssize_t offset = slot_offset(obj, name);
    if (offset < 0)
        return PyObject_SetAttr(obj, name, value);
    PyObject **slot = (PyObject **)((char *)obj + offset);
    PyObject *old = *slot;
    *slot = Py_NewRef(value);
    Py_XDECREF(old);
    return 0;
}

/* A class whose instances this module makes by filling their slots, as its __init__ would: a plain
 * class of races.py (Access, _Step) whose __slots__ are exactly ``fields`` and whose __init__ only
 * stores its arguments in them (a dataclass without __post_init__; setup() checks what it can).
 * ``direct`` 0: it did not pass the checks, and is called. */
typedef struct {
    PyObject **cls;
    const char *const *names;
    int count;
    int direct;
    PyObject *fields[16];
} Maker;

static const char *const access_names[] = {"tid", "thread", "kind", "what", "site", "clock", "number", "atomic",
                                           "stack", "line", "key", "run", "task"};
static const char *const step_names[] = {"number", "line", "kind", "run"};

/* forward: the classes setup() stores */
static PyObject *g_access, *g_step;
static Maker make_access = {&g_access, access_names, 13, 0, {NULL}};
static Maker make_step = {&g_step, step_names, 4, 0, {NULL}};

static int
prepare_maker(Maker *maker)
{
    PyTypeObject *tp = (PyTypeObject *)*maker->cls;
    maker->direct = 0;
    for (int i = 0; i < maker->count; i++) {
        if (maker->fields[i] == NULL && (maker->fields[i] = PyUnicode_InternFromString(maker->names[i])) == NULL)
            return -1;
    }
    if (!PyType_Check(tp) || tp->tp_base != &PyBaseObject_Type || tp->tp_new != PyBaseObject_Type.tp_new
            || tp->tp_dictoffset != 0)
        return 0;
    PyObject *slots = PyObject_GetAttrString((PyObject *)tp, "__slots__");
    if (slots == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *names = PySequence_Tuple(slots);
    Py_DECREF(slots);
    if (names == NULL) {
        PyErr_Clear();
        return 0;
    }
    int same = PyTuple_GET_SIZE(names) == maker->count;
    for (int i = 0; same && i < maker->count; i++) {
        int found = PySequence_Contains(names, maker->fields[i]);
        if (found < 0) {
            Py_DECREF(names);
            return -1;
        }
        same = found && type_slot_offset(tp, maker->fields[i]) >= 0;
    }
    Py_DECREF(names);
    int post_init = PyObject_HasAttrString((PyObject *)tp, "__post_init__");
    maker->direct = same && !post_init;
    return 0;
}

/* cls(*values) */
static PyObject *
make(Maker *maker, PyObject *const *values)
{
    PyTypeObject *tp = (PyTypeObject *)*maker->cls;
    if (!maker->direct)
        return PyObject_Vectorcall((PyObject *)tp, values, maker->count, NULL);
    PyObject *obj = tp->tp_alloc(tp, 0);
    if (obj == NULL)
        return NULL;
    for (int i = 0; i < maker->count; i++) {
        if (set_attr(obj, maker->fields[i], values[i]) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
}

/* getattr(obj, name, None) without making an AttributeError: 1 (found, *result set), 0 (not found),
 * -1 (an error) */
static int
optional_attr(PyObject *obj, PyObject *name, PyObject **result)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, result);
#else
    return _PyObject_LookupAttr(obj, name, result);
#endif
}

/* bool(obj.name): 1, 0, or -1 with an error set */
static int
attr_true(PyObject *obj, PyObject *name)
{
    PyObject *v = get_attr(obj, name);
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

/* obj.name as a C long long (-1 with an error set on failure) */
static int
attr_ll(PyObject *obj, PyObject *name, long long *out)
{
    PyObject *v = get_attr(obj, name);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* What unit_count needs of the execution for unit ``ts``: its FastPath if ``ts`` holds the baton, None if
 * not, NULL (no error set) for another kind of execution (detect-only mode's, which has no
 * ``current``): that one is asked. NULL with an error set: failed. */
static PyObject *
fast_of(PyObject *ex, PyObject *ts)
{
    PyObject *current;
    if (optional_attr(ex, s_current, &current) <= 0)
        return NULL;
    int is_current = current == ts;
    Py_DECREF(current);
    return is_current ? get_attr(ex, s_fast) : Py_NewRef(Py_None);
}

/* Execution.access_number(ts), gil_clock(ts), back_edge_count(ts) (``method``), inline for an Execution:
 * ts.<field> + (ex.fast.<field> if ts is ex.current else 0), ``fast`` from fast_of */
static PyObject *
unit_count(PyObject *ex, PyObject *ts, PyObject *fast, PyObject *field, PyObject *method)
{
    if (fast == NULL)
        return PyObject_CallMethodOneArg(ex, method, ts);
    long long own, more = 0;
    if (attr_ll(ts, field, &own) < 0 || (fast != Py_None && attr_ll(fast, field, &more) < 0))
        return NULL;
    return PyLong_FromLongLong(own + more);
}

/* clock entries ``cc`` at ``tid`` (0 past the end), as races.py's ``cc[u] if u < len(cc) else 0`` */
static int
entry_of(PyObject *cc, PyObject *tid_obj, long long *out)
{
    Py_ssize_t u = PyLong_AsSsize_t(tid_obj);
    if (u == -1 && PyErr_Occurred())
        return -1;
    if (u < PyList_GET_SIZE(cc)) {
        *out = PyLong_AsLongLong(PyList_GET_ITEM(cc, u));
        return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
    }
    *out = 0;
    return 0;
}

/* whether access ``a`` (an Access) races with one of thread ``t`` whose clock entries are ``cc`` and
 * whose atomicity is ``atomic``: ``a.tid != t and a.clock > cc[a.tid] and not (a.atomic and atomic)`` */
static int
unordered(PyObject *a, PyObject *t, PyObject *cc, int atomic)
{
    PyObject *tid = get_attr(a, s_tid);
    if (tid == NULL)
        return -1;
    int same = PyObject_RichCompareBool(tid, t, Py_EQ);
    if (same != 0) {
        Py_DECREF(tid);
        return same < 0 ? -1 : 0;
    }
    long long known, clock;
    if (entry_of(cc, tid, &known) < 0 || attr_ll(a, s_clock, &clock) < 0) {
        Py_DECREF(tid);
        return -1;
    }
    Py_DECREF(tid);
    if (clock <= known)
        return 0;
    if (!atomic)
        return 1;
    int both = attr_true(a, s_atomic);
    return both < 0 ? -1 : !both;
}

static int
call_race(PyObject *det, PyObject *ex, PyObject *loc, PyObject *lk, PyObject *access, PyObject *other)
{
    PyObject *r = PyObject_CallMethodObjArgs(det, s_race, ex, loc, lk, access, other, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* report ``access`` and ``other`` (an Access of ``loc``) as a race if they are one */
static int
race_if_unordered(PyObject *det, PyObject *ex, PyObject *loc, PyObject *lk, PyObject *access, PyObject *other,
                  PyObject *t, PyObject *cc, int atomic)
{
    int r = unordered(other, t, cc, atomic);
    return r > 0 ? call_race(det, ex, loc, lk, access, other) : r;
}

/* RaceDetector._check, and the first two checks of access(): races of ``access`` with ``loc``'s last
 * write and, for a write, its reads */
static int
check(PyObject *det, PyObject *ex, PyObject *loc, PyObject *lk, PyObject *access, PyObject *t,
      PyObject *cc, int atomic, int write)
{
    PyObject *w = get_attr(loc, s_write);
    if (w == NULL)
        return -1;
    int r = w == Py_None ? 0 : race_if_unordered(det, ex, loc, lk, access, w, t, cc, atomic);
    Py_DECREF(w);
    if (r < 0)
        return -1;
    if (!write)
        return 0;
    PyObject *reads = get_attr(loc, s_reads);
    if (reads == NULL)
        return -1;
    PyObject *values = PyDict_Check(reads) ? PyDict_Values(reads) : NULL;
    Py_DECREF(reads);
    if (values == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "a location's reads must be a dict");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        if (race_if_unordered(det, ex, loc, lk, access, PyList_GET_ITEM(values, i), t, cc, atomic) < 0) {
            Py_DECREF(values);
            return -1;
        }
    }
    Py_DECREF(values);
    return 0;
}

/* races.py's _obtain(into, pub): ``into`` becomes the pointwise maximum of itself and ``pub`` */
static int
obtain(PyObject *into, PyObject *pub)
{
    if (!PyList_Check(into) || !PyList_Check(pub)) {
        PyErr_SetString(PyExc_TypeError, "clock entries must be lists");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(pub);
    while (PyList_GET_SIZE(into) < n) {
        PyObject *zero = PyLong_FromLong(0);
        if (zero == NULL || PyList_Append(into, zero) < 0) {
            Py_XDECREF(zero);
            return -1;
        }
        Py_DECREF(zero);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *a = PyList_GET_ITEM(into, i), *b = PyList_GET_ITEM(pub, i);
        int greater = PyObject_RichCompareBool(b, a, Py_GT);
        if (greater < 0)
            return -1;
        if (greater) {
            Py_INCREF(b);
            PyList_SetItem(into, i, b);
        }
    }
    return 0;
}

/* ``not loc.obtained >> t & 1`` (1), else 0 */
static int
not_obtained(PyObject *obtained, Py_ssize_t t)
{
    int overflow;
    long long bits = PyLong_AsLongLongAndOverflow(obtained, &overflow);
    if (bits == -1 && PyErr_Occurred())
        return -1;
    if (!overflow && t < 62)
        return !((bits >> t) & 1);
    PyObject *shift = PyLong_FromSsize_t(t);
    if (shift == NULL)
        return -1;
    PyObject *moved = PyNumber_Rshift(obtained, shift);
    Py_DECREF(shift);
    if (moved == NULL)
        return -1;
    PyObject *one = PyLong_FromLong(1);
    PyObject *bit = one ? PyNumber_And(moved, one) : NULL;
    Py_DECREF(moved);
    Py_XDECREF(one);
    if (bit == NULL)
        return -1;
    int set = PyObject_IsTrue(bit);
    Py_DECREF(bit);
    return set < 0 ? -1 : !set;
}

/* ``w = loc.write; if w is not None and w.tid != t and not loc.obtained >> t & 1: _obtain(cc, loc.pub);
 * loc.obtained |= 1 << t`` */
static int
obtain_from(PyObject *loc, PyObject *t_obj, Py_ssize_t t, PyObject *cc)
{
    PyObject *w = get_attr(loc, s_write);
    if (w == NULL)
        return -1;
    if (w == Py_None) {
        Py_DECREF(w);
        return 0;
    }
    PyObject *wt = get_attr(w, s_tid);
    Py_DECREF(w);
    if (wt == NULL)
        return -1;
    int same = PyObject_RichCompareBool(wt, t_obj, Py_EQ);
    Py_DECREF(wt);
    if (same != 0)
        return same < 0 ? -1 : 0;
    PyObject *obtained = get_attr(loc, s_obtained);
    if (obtained == NULL)
        return -1;
    int todo = not_obtained(obtained, t);
    if (todo <= 0) {
        Py_DECREF(obtained);
        return todo;
    }
    PyObject *pub = get_attr(loc, s_pub);
    if (pub == NULL || obtain(cc, pub) < 0) {
        Py_XDECREF(pub);
        Py_DECREF(obtained);
        return -1;
    }
    Py_DECREF(pub);
    PyObject *one = PyLong_FromLong(1), *shift = PyLong_FromSsize_t(t);
    PyObject *bit = (one && shift) ? PyNumber_Lshift(one, shift) : NULL;
    Py_XDECREF(one);
    Py_XDECREF(shift);
    PyObject *now = bit ? PyNumber_Or(obtained, bit) : NULL;
    Py_XDECREF(bit);
    Py_DECREF(obtained);
    if (now == NULL)
        return -1;
    int r = set_attr(loc, s_obtained, now);
    Py_DECREF(now);
    return r;
}

/* a dict attribute of the detector, or NULL (no error set) when it is not a plain dict */
static PyObject *
dict_attr(PyObject *det, PyObject *name)
{
    PyObject *d = get_attr(det, name);
    if (d == NULL)
        return NULL;
    if (!PyDict_CheckExact(d)) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

#define FALLBACK(...) do { __VA_ARGS__; if (PyErr_Occurred()) goto error; result = Py_False; goto done; } while (0)
#define CHECK(x) do { if ((x) == NULL) goto error; } while (0)
#define CHECK_INT(x) do { if ((x) < 0) goto error; } while (0)

/* access(detector, ex, ts, kind, obj, key, site, atomic) -> True (done) or False (nothing changed:
 * run RaceDetector.access's Python body) */
static PyObject *
races_access(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "access() takes 8 arguments");
        return NULL;
    }
    if (g_types == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "interlace._races.setup() was not called");
        return NULL;
    }
    PyObject *det = args[0], *ex = args[1], *ts = args[2], *kind = args[3], *obj = args[4],
             *key = args[5], *site = args[6], *atomic_obj = args[7];
    PyObject *result = NULL;
    /* every reference below is owned (or NULL) and released at done */
    PyObject *oid = NULL, *tp = NULL, *dict_owners = NULL, *threads = NULL, *lk = NULL,
             *locations = NULL, *location = NULL, *objects = NULL, *known = NULL, *known_tp = NULL,
             *tp_id = NULL, *t_obj = NULL, *clocks = NULL, *c = NULL, *cc = NULL, *epoch = NULL,
             *ordinal = NULL, *line = NULL, *last = NULL, *before = NULL, *last_at = NULL, *run = NULL,
             *gil = NULL, *last_gil = NULL, *same = NULL, *access = NULL, *stack = NULL, *name_obj = NULL,
             *what = NULL, *task = NULL, *related = NULL, *group = NULL, *back_edges = NULL, *apart = NULL,
             *reads = NULL, *writes = NULL, *pub = NULL, *next = NULL, *zero = NULL, *whole_key = NULL,
             *fast = NULL;
    int atomic = PyObject_IsTrue(atomic_obj);
    CHECK_INT(atomic);

    int any_died = attr_true(det, s_died);
    CHECK_INT(any_died);
    if (any_died)
        FALLBACK();  /* _bury first */
    PyObject *info = PyDict_GetItemWithError(g_types, (PyObject *)Py_TYPE(obj));
    if (info == NULL || !PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 2)
        FALLBACK();  /* a type seen for the first time: _type_info */
    long category = PyLong_AsLong(PyTuple_GET_ITEM(info, 0));
    if (category == -1 && PyErr_Occurred())
        goto error;
    int keyed = PyObject_IsTrue(PyTuple_GET_ITEM(info, 1));
    CHECK_INT(keyed);
    oid = PyLong_FromVoidPtr(obj);
    CHECK(oid);
    tp = (PyObject *)Py_TYPE(obj);
    Py_INCREF(tp);
    PyObject *name = key;
    Py_INCREF(key);  /* key is owned from here on: it may be replaced */
    PyObject *owned_key = key;
#undef FALLBACK
#define FALLBACK(...) do { __VA_ARGS__; if (PyErr_Occurred()) goto error_key; result = Py_False; goto done_key; } while (0)
    if (category == C_SUBCLASS || category == C_SKIP || category == C_MODULE)
        FALLBACK();
    if (category == C_OTHER) {
        if (str_eq(name, s_dunder_dict) && str_eq(kind, s_read))
            FALLBACK();  /* _note_dict */
    }
    else if (category == C_WHOLE_ONLY) {
        Py_SETREF(owned_key, Py_NewRef(g_whole));
    }
    else if (category == C_INDEXED) {
        int index = 0;
        if (PyLong_CheckExact(owned_key)) {
            int overflow;
            long long v = PyLong_AsLongLongAndOverflow(owned_key, &overflow);
            if (v == -1 && PyErr_Occurred())
                goto error_key;
            index = overflow > 0 || (!overflow && v >= 0);
        }
        if (!index)
            Py_SETREF(owned_key, Py_NewRef(g_whole));
    }
    else if (category == C_DICT) {
        dict_owners = dict_attr(det, s_dict_owners);
        if (dict_owners == NULL)
            FALLBACK();
        if (PyDict_GET_SIZE(dict_owners)) {
            PyObject *owner = PyDict_GetItemWithError(dict_owners, oid);
            if (owner == NULL && PyErr_Occurred())
                goto error_key;
            if (owner != NULL) {
                if (!PyTuple_Check(owner) || PyTuple_GET_SIZE(owner) != 2)
                    FALLBACK();
                PyObject *owner_info = PyDict_GetItemWithError(g_types, PyTuple_GET_ITEM(owner, 1));
                if (owner_info == NULL || !PyTuple_Check(owner_info) || PyTuple_GET_SIZE(owner_info) != 2)
                    FALLBACK();
                keyed = PyObject_IsTrue(PyTuple_GET_ITEM(owner_info, 1));
                if (keyed < 0)
                    goto error_key;
                Py_SETREF(oid, Py_NewRef(PyTuple_GET_ITEM(owner, 0)));
                Py_SETREF(tp, Py_NewRef(PyTuple_GET_ITEM(owner, 1)));
            }
        }
    }
    else
        FALLBACK();
    int is_controlled = attr_true(det, s_controlled);
    if (is_controlled < 0)
        goto error_key;
    threads = get_attr(ex, s_threads);
    if (threads == NULL)
        goto error_key;
    Py_ssize_t units = PyObject_Length(threads);
    if (units < 0)
        goto error_key;
    if (is_controlled && units == 1)
        FALLBACK();  /* the only unit so far: only the origin is kept */
    PyObject *key_type = (PyObject *)Py_TYPE(owned_key);
    int plain = key_type == g_attr;
    if (!plain) {
        plain = PySet_Contains(g_value_keys, key_type);
        if (plain < 0)
            goto error_key;
    }
    if (!plain)
        FALLBACK();  /* a key named by identity: _key_of */
    lk = PyTuple_Pack(2, oid, owned_key);
    if (lk == NULL)
        goto error_key;
    locations = dict_attr(det, s_locations);
    objects = locations ? dict_attr(det, s_objects) : NULL;
    if (objects == NULL)
        FALLBACK();
    location = PyDict_GetItemWithError(locations, lk);
    if (location == NULL)
        FALLBACK();  /* PyErr_Occurred: unhashable (Python names the whole); else a new location */
    Py_INCREF(location);
    known = PyDict_GetItemWithError(objects, oid);
    if (known == NULL)
        FALLBACK();
    Py_INCREF(known);
    known_tp = get_attr(known, s_tp);
    if (known_tp == NULL)
        goto error_key;
    tp_id = PyLong_FromVoidPtr(tp);
    if (tp_id == NULL)
        goto error_key;
    int same_type = PyObject_RichCompareBool(known_tp, tp_id, Py_EQ);
    if (same_type < 0)
        goto error_key;
    if (!same_type)
        FALLBACK();  /* a new object at the address of one that died */
    if (category == C_OTHER && str_eq(kind, s_write)) {
        /* _stale(location, obj, name), asked only when it can be true (its first test, inline) */
        PyObject *w = get_attr(location, s_write);
        if (w == NULL)
            goto error_key;
        int maybe = 0;
        if (w != Py_None && PyUnicode_CheckExact(name)) {
            PyObject *wk = get_attr(w, s_kind);
            if (wk == NULL) {
                Py_DECREF(w);
                goto error_key;
            }
            maybe = str_eq(wk, s_write);
            Py_DECREF(wk);
        }
        Py_DECREF(w);
        if (maybe) {
            PyObject *stale = PyObject_CallMethodObjArgs(det, s_stale, location, obj, name, NULL);
            if (stale == NULL)
                goto error_key;
            int is_stale = PyObject_IsTrue(stale);
            Py_DECREF(stale);
            if (is_stale < 0)
                goto error_key;
            if (is_stale)
                FALLBACK();
        }
    }
    t_obj = get_attr(ts, s_tid);
    if (t_obj == NULL)
        goto error_key;
    Py_ssize_t t = PyLong_AsSsize_t(t_obj);
    if (t == -1 && PyErr_Occurred())
        goto error_key;
    clocks = get_attr(det, s_clocks);
    if (clocks == NULL)
        goto error_key;
    if (!PyList_CheckExact(clocks) || t < 0 || t >= PyList_GET_SIZE(clocks))
        FALLBACK();  /* self.clock(t) makes it */
    c = Py_NewRef(PyList_GET_ITEM(clocks, t));
    cc = get_attr(c, s_c);
    if (cc == NULL)
        goto error_key;
    if (!PyList_CheckExact(cc))
        FALLBACK();
    /* -- from here on the detector changes: no more fallback ------------------------------------ */
#undef FALLBACK
    epoch = t < PyList_GET_SIZE(cc) ? Py_NewRef(PyList_GET_ITEM(cc, t)) : PyLong_FromLong(0);
    if (epoch == NULL)
        goto error_key;
    fast = fast_of(ex, ts);
    if (fast == NULL && PyErr_Occurred())
        goto error_key;
    ordinal = unit_count(ex, ts, fast, s_accesses, s_access_number);
    if (ordinal == NULL)
        goto error_key;
    line = PyDict_GetItemWithError(g_lines, site);
    if (line != NULL)
        Py_INCREF(line);
    else {
        if (PyErr_Occurred())
            goto error_key;
        line = PyObject_CallOneArg(g_line, site);
        if (line == NULL)
            goto error_key;
    }
    last = dict_attr(det, s_last);
    last_at = last ? dict_attr(det, s_last_at) : NULL;
    last_gil = last_at ? dict_attr(det, s_last_gil) : NULL;
    if (last_gil == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "the detector's last, last_at and last_gil must be dicts");
        goto error_key;
    }
    before = PyDict_GetItemWithError(last, t_obj);
    if (before == NULL && PyErr_Occurred())
        goto error_key;
    Py_XINCREF(before);
    int continues = 0;
    if (before != NULL) {
        long long number, n_ordinal = PyLong_AsLongLong(ordinal);
        if (n_ordinal == -1 && PyErr_Occurred())
            goto error_key;
        if (attr_ll(before, s_number, &number) < 0)
            goto error_key;
        if (number == n_ordinal - 1) {
            PyObject *at = PyDict_GetItemWithError(last_at, t_obj);
            if (at == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, t_obj);
                goto error_key;
            }
            if (at == location) {
                PyObject *before_line = get_attr(before, s_line);
                if (before_line == NULL)
                    goto error_key;
                int same_line = PyObject_RichCompareBool(before_line, line, Py_EQ);
                Py_DECREF(before_line);
                if (same_line < 0)
                    goto error_key;
                if (same_line) {
                    PyObject *before_kind = get_attr(before, s_kind);
                    if (before_kind == NULL)
                        goto error_key;
                    continues = !(!str_eq(before_kind, s_read) && str_eq(kind, s_read));
                    Py_DECREF(before_kind);
                }
            }
        }
    }
    gil = unit_count(ex, ts, fast, s_gil_points, s_gil_clock);
    if (gil == NULL)
        goto error_key;
    if (continues) {
        run = get_attr(before, s_run);
        if (run == NULL)
            goto error_key;
        if (run == Py_None) {
            Py_DECREF(run);
            PyObject *began = PyDict_GetItemWithError(last_gil, t_obj);
            if (began == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, t_obj);
                goto error_key;
            }
            PyObject *two = PyLong_FromLong(2);
            if (two == NULL)
                goto error_key;
            run = PyList_New(3);
            if (run == NULL) {
                Py_DECREF(two);
                goto error_key;
            }
            PyList_SET_ITEM(run, 0, Py_NewRef(began));
            PyList_SET_ITEM(run, 1, Py_NewRef(gil));
            PyList_SET_ITEM(run, 2, two);
            if (set_attr(before, s_run, run) < 0)
                goto error_key;
        }
        else {
            if (!PyList_Check(run) || PyList_GET_SIZE(run) < 3) {
                PyErr_SetString(PyExc_TypeError, "a run must be a list of 3");
                goto error_key;
            }
            if (PyList_SetItem(run, 1, Py_NewRef(gil)) < 0)
                goto error_key;
            PyObject *one = PyLong_FromLong(1);
            PyObject *more = one ? PyNumber_Add(PyList_GET_ITEM(run, 2), one) : NULL;
            Py_XDECREF(one);
            if (more == NULL || PyList_SetItem(run, 2, more) < 0)
                goto error_key;
        }
    }
    else {
        run = Py_NewRef(Py_None);
        if (PyDict_SetItem(last_gil, t_obj, gil) < 0)
            goto error_key;
    }
    if (PyDict_SetItem(last_at, t_obj, location) < 0)
        goto error_key;
    int write = !str_eq(kind, s_read);
    reads = get_attr(location, s_reads);
    if (reads == NULL)
        goto error_key;
    if (!PyDict_Check(reads)) {
        PyErr_SetString(PyExc_TypeError, "a location's reads must be a dict");
        goto error_key;
    }
    if (!write) {
        /* FastTrack's same-epoch rule (see races.py) */
        same = PyDict_GetItemWithError(reads, t_obj);
        if (same == NULL && PyErr_Occurred())
            goto error_key;
        Py_XINCREF(same);
        if (same != NULL) {
            int skip = 1;
            PyObject *v;
            PyObject *fields[] = {s_tid, s_clock, s_line, s_kind, s_atomic};
            PyObject *wanted[] = {t_obj, epoch, line, kind, atomic_obj};
            for (int i = 0; i < 5 && skip; i++) {
                v = get_attr(same, fields[i]);
                if (v == NULL)
                    goto error_key;
                skip = PyObject_RichCompareBool(v, wanted[i], Py_EQ);
                Py_DECREF(v);
                if (skip < 0)
                    goto error_key;
            }
            if (skip) {
                PyObject *step_args[] = {ordinal, line, kind, run};
                PyObject *step = make(&make_step, step_args);
                if (step == NULL)
                    goto error_key;
                int r = PyDict_SetItem(last, t_obj, step);
                Py_DECREF(step);
                if (r < 0)
                    goto error_key;
                result = Py_True;
                goto done_key;
            }
        }
    }
    name_obj = get_attr(ts, s_name);
    what = name_obj ? get_attr(location, s_what) : NULL;
    if (what == NULL)
        goto error_key;
    int with_stacks = attr_true(det, s_stacks);
    if (with_stacks < 0)
        goto error_key;
    stack = with_stacks ? capture_stack(12) : PyTuple_New(0);
    if (stack == NULL)
        goto error_key;
    task = get_attr(ts, s_task);
    if (task == NULL)
        goto error_key;
    {
        PyObject *access_args[] = {t_obj, name_obj, kind, what, site, epoch, ordinal, atomic_obj, stack, line,
                                   owned_key, run, task != Py_None ? Py_True : Py_False};
        access = make(&make_access, access_args);
    }
    if (access == NULL)
        goto error_key;
    if (PyDict_SetItem(last, t_obj, access) < 0)
        goto error_key;
    if (check(det, ex, location, lk, access, t_obj, cc, atomic, write) < 0)
        goto error_key;
    related = PyList_New(0);
    if (related == NULL)
        goto error_key;
    if (keyed) {
        int is_whole = PyObject_RichCompareBool(owned_key, g_whole, Py_EQ);
        if (is_whole < 0)
            goto error_key;
        if (is_whole) {
            PyObject *known_locations = get_attr(known, s_locations);
            if (known_locations == NULL)
                goto error_key;
            PyObject *snapshot = PySequence_List(known_locations);
            Py_DECREF(known_locations);
            if (snapshot == NULL)
                goto error_key;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(snapshot); i++) {
                PyObject *k = PyList_GET_ITEM(snapshot, i);
                int differs = PyObject_RichCompareBool(k, lk, Py_NE);
                if (differs < 0) {
                    Py_DECREF(snapshot);
                    goto error_key;
                }
                if (!differs)
                    continue;
                PyObject *other = PyDict_GetItemWithError(locations, k);
                if (other == NULL) {
                    if (PyErr_Occurred()) {
                        Py_DECREF(snapshot);
                        goto error_key;
                    }
                    continue;
                }
                if (!PyTuple_Check(k) || PyTuple_GET_SIZE(k) < 2) {
                    PyErr_SetString(PyExc_TypeError, "a location key must be a pair");
                    Py_DECREF(snapshot);
                    goto error_key;
                }
                if ((PyObject *)Py_TYPE(PyTuple_GET_ITEM(k, 1)) == g_attr)
                    continue;
                Py_INCREF(other);
                if (PyList_Append(related, other) < 0
                        || check(det, ex, other, lk, access, t_obj, cc, atomic, write) < 0) {
                    Py_DECREF(other);
                    Py_DECREF(snapshot);
                    goto error_key;
                }
                Py_DECREF(other);
            }
            Py_DECREF(snapshot);
        }
        else {
            whole_key = PyTuple_Pack(2, oid, g_whole);
            if (whole_key == NULL)
                goto error_key;
            PyObject *whole = PyDict_GetItemWithError(locations, whole_key);
            if (whole == NULL && PyErr_Occurred())
                goto error_key;
            if (whole != NULL) {
                Py_INCREF(whole);
                if (PyList_Append(related, whole) < 0
                        || check(det, ex, whole, lk, access, t_obj, cc, atomic, write) < 0) {
                    Py_DECREF(whole);
                    goto error_key;
                }
                Py_DECREF(whole);
            }
        }
    }
    group = category != C_OTHER && category != C_MODULE ? PyTuple_Pack(1, oid) : Py_NewRef(lk);
    if (group == NULL)
        goto error_key;
    back_edges = unit_count(ex, ts, fast, s_back_edges, s_back_edge_count);
    if (back_edges == NULL)
        goto error_key;
    {
        /* _apart(ex): getattr(ex, "os_threads", len(ex.threads)) > 1 */
        PyObject *os_threads;
        long long n;
        int found = optional_attr(ex, s_os_threads, &os_threads);
        if (found < 0)
            goto error_key;
        if (!found)
            n = units;
        else {
            n = PyLong_AsLongLong(os_threads);
            Py_DECREF(os_threads);
            if (n == -1 && PyErr_Occurred())
                goto error_key;
        }
        apart = Py_NewRef(n > 1 ? Py_True : Py_False);
    }
    {
        PyObject *atomicity_args[] = {det, ex, group, location, related, lk, access, cc,
                                      write ? Py_True : Py_False, back_edges, apart};
        PyObject *r = PyObject_VectorcallMethod(s_atomicity, atomicity_args,
                                                11 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (r == NULL)
            goto error_key;
        Py_DECREF(r);
    }
    /* what this access obtains: the clocks the last writers left */
    if (obtain_from(location, t_obj, t, cc) < 0)
        goto error_key;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(related); i++) {
        if (obtain_from(PyList_GET_ITEM(related, i), t_obj, t, cc) < 0)
            goto error_key;
    }
    if (write) {
        if (set_attr(location, s_write, access) < 0)
            goto error_key;
        PyObject *fresh = PyDict_New();
        if (fresh == NULL)
            goto error_key;
        int r = set_attr(location, s_reads, fresh);
        Py_DECREF(fresh);
        if (r < 0)
            goto error_key;
        writes = get_attr(location, s_writes);
        if (writes == NULL)
            goto error_key;
        PyObject *put = PyObject_CallMethodObjArgs(writes, s_put, t_obj, access, line, NULL);
        if (put == NULL)
            goto error_key;
        Py_DECREF(put);
        pub = PyList_GetSlice(cc, 0, PyList_GET_SIZE(cc));
        if (pub == NULL || set_attr(location, s_pub, pub) < 0)
            goto error_key;
        zero = PyLong_FromLong(0);
        if (zero == NULL || set_attr(location, s_obtained, zero) < 0)
            goto error_key;
        PyObject *one = PyLong_FromLong(1);
        next = one ? PyNumber_Add(epoch, one) : NULL;
        Py_XDECREF(one);
        if (next == NULL)
            goto error_key;
        if (PyList_SetItem(cc, t, Py_NewRef(next)) < 0)
            goto error_key;
    }
    else {
        if (PyDict_SetItem(reads, t_obj, access) < 0)
            goto error_key;
    }
    result = Py_True;
done_key:
    Py_DECREF(owned_key);
    goto done;
error_key:
    Py_DECREF(owned_key);
error:
    result = NULL;
done:
    if (result == Py_True)
        n_taken++;
    else if (result == Py_False)
        n_declined++;
    Py_XDECREF(oid); Py_XDECREF(tp); Py_XDECREF(dict_owners); Py_XDECREF(threads);
    Py_XDECREF(lk); Py_XDECREF(locations); Py_XDECREF(location); Py_XDECREF(objects); Py_XDECREF(known);
    Py_XDECREF(known_tp); Py_XDECREF(tp_id); Py_XDECREF(t_obj); Py_XDECREF(clocks); Py_XDECREF(c);
    Py_XDECREF(cc); Py_XDECREF(epoch); Py_XDECREF(ordinal); Py_XDECREF(line); Py_XDECREF(last);
    Py_XDECREF(before); Py_XDECREF(last_at); Py_XDECREF(run); Py_XDECREF(gil); Py_XDECREF(last_gil);
    Py_XDECREF(same); Py_XDECREF(access); Py_XDECREF(stack); Py_XDECREF(name_obj); Py_XDECREF(what);
    Py_XDECREF(task); Py_XDECREF(related); Py_XDECREF(group); Py_XDECREF(back_edges); Py_XDECREF(apart);
    Py_XDECREF(reads); Py_XDECREF(writes); Py_XDECREF(pub); Py_XDECREF(next); Py_XDECREF(zero);
    Py_XDECREF(whole_key); Py_XDECREF(fast);
    return Py_XNewRef(result);
}

/* VectorClock.copy() of clock ``c`` */
static PyObject *
copy_clock(PyObject *c)
{
    PyObject *entries = get_attr(c, s_c);
    if (entries == NULL)
        return NULL;
    PyObject *copied = PySequence_List(entries);
    Py_DECREF(entries);
    if (copied == NULL)
        return NULL;
    PyObject *clock = PyObject_CallOneArg(g_clock, copied);
    Py_DECREF(copied);
    return clock;
}

/* VectorClock.join: ``into`` becomes the pointwise maximum of itself and ``other`` */
static int
join_clock(PyObject *into, PyObject *other)
{
    PyObject *a = get_attr(into, s_c);
    if (a == NULL)
        return -1;
    PyObject *b = get_attr(other, s_c);
    if (b == NULL) {
        Py_DECREF(a);
        return -1;
    }
    int r = obtain(a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
}

/* VectorClock.tick(t) */
static int
tick_clock(PyObject *c, Py_ssize_t t)
{
    PyObject *entries = get_attr(c, s_c);
    if (entries == NULL)
        return -1;
    if (!PyList_Check(entries)) {
        Py_DECREF(entries);
        PyErr_SetString(PyExc_TypeError, "clock entries must be a list");
        return -1;
    }
    int r = 0;
    while (r == 0 && PyList_GET_SIZE(entries) <= t) {
        PyObject *zero = PyLong_FromLong(0);
        r = zero == NULL ? -1 : PyList_Append(entries, zero);
        Py_XDECREF(zero);
    }
    if (r == 0) {
        PyObject *one = PyLong_FromLong(1);
        PyObject *more = one ? PyNumber_Add(PyList_GET_ITEM(entries, t), one) : NULL;
        Py_XDECREF(one);
        r = more == NULL ? -1 : PyList_SetItem(entries, t, more);
    }
    Py_DECREF(entries);
    return r;
}

/* sync(detector, ex, kind, ts, obj) -> True (done) or False (nothing changed: run RaceDetector.sync's
 * Python body). Lock acquires and releases and hand-off signals and waits: start and join are rare. */
static PyObject *
races_sync(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "sync() takes 5 arguments");
        return NULL;
    }
    PyObject *det = args[0], *kind = args[2], *ts = args[3], *obj = args[4];
    int acquire = str_eq(kind, s_acquire) || str_eq(kind, s_try_acquire);
    int release = !acquire && str_eq(kind, s_release);
    int signal = !acquire && !release && str_eq(kind, s_signal);
    int wait = !acquire && !release && !signal && str_eq(kind, s_wait);
    if (!(acquire || release || signal || wait)) {
        n_declined++;
        Py_RETURN_FALSE;
    }
    PyObject *result = NULL, *t_obj = NULL, *clocks = NULL, *segs = NULL, *count = NULL,
             *table = NULL, *table_key = NULL, *copy = NULL, *watch = NULL;
    int any_died = attr_true(det, s_died);
    if (any_died < 0)
        goto error;
    if (any_died) {
        result = Py_False;  /* _bury first */
        goto done;
    }
    t_obj = get_attr(ts, s_tid);
    if (t_obj == NULL)
        goto error;
    Py_ssize_t t = PyLong_AsSsize_t(t_obj);
    if (t == -1 && PyErr_Occurred())
        goto error;
    clocks = get_attr(det, s_clocks);
    segs = clocks ? dict_attr(det, s_segs) : NULL;
    table = segs ? dict_attr(det, acquire || release ? s_lock_clocks : s_handoff_clocks) : NULL;
    if (table == NULL || !PyList_CheckExact(clocks) || t < 0 || t >= PyList_GET_SIZE(clocks)) {
        if (PyErr_Occurred())
            goto error;
        result = Py_False;  /* self.clock(t) makes it */
        goto done;
    }
    PyObject *c = PyList_GET_ITEM(clocks, t);  /* borrowed: clocks holds it */
    /* -- from here on the detector changes -- */
    PyObject *before = PyDict_GetItemWithError(segs, t_obj);
    if (before == NULL && PyErr_Occurred())
        goto error;
    PyObject *one = PyLong_FromLong(1);
    count = one == NULL ? NULL : before == NULL ? Py_NewRef(one) : PyNumber_Add(before, one);
    Py_XDECREF(one);
    if (count == NULL || PyDict_SetItem(segs, t_obj, count) < 0)
        goto error;
    table_key = acquire || release ? PyLong_FromVoidPtr(obj) : Py_NewRef(obj);
    if (table_key == NULL)
        goto error;
    PyObject *entry = PyDict_GetItemWithError(table, table_key);
    if (entry == NULL && PyErr_Occurred())
        goto error;
    if (acquire || wait) {
        if (entry != NULL && entry != Py_None && join_clock(c, entry) < 0)
            goto error;
    }
    else if (release) {
        watch = get_attr(det, s_watch);
        if (watch == NULL)
            goto error;
        if (watch != Py_None && entry == NULL) {
            PyObject *r = PyObject_CallMethodObjArgs(watch, s_add, table_key, NULL);
            if (r == NULL)
                goto error;
            Py_DECREF(r);
        }
        copy = copy_clock(c);
        if (copy == NULL || PyDict_SetItem(table, table_key, copy) < 0 || tick_clock(c, t) < 0)
            goto error;
    }
    else {  /* signal */
        if (entry == NULL || entry == Py_None) {
            copy = copy_clock(c);
            if (copy == NULL || PyDict_SetItem(table, table_key, copy) < 0)
                goto error;
        }
        else if (join_clock(entry, c) < 0)
            goto error;
        if (tick_clock(c, t) < 0)
            goto error;
    }
    result = Py_True;
    goto done;
error:
    result = NULL;
done:
    if (result == Py_True)
        n_taken++;
    else if (result == Py_False)
        n_declined++;
    Py_XDECREF(t_obj); Py_XDECREF(clocks); Py_XDECREF(segs); Py_XDECREF(count);
    Py_XDECREF(table); Py_XDECREF(table_key); Py_XDECREF(copy); Py_XDECREF(watch);
    return Py_XNewRef(result);
}

/* the frame kinds of detect/stacks.py (_USER, _SKIP, _STOP_HERE) */
enum { F_USER, F_SKIP, F_STOP_HERE };

/* stacks.capture(depth), from the innermost Python frame (the caller of the C function that calls
 * this, as sys._getframe(1) is capture's caller there) */
static PyObject *
capture_stack(Py_ssize_t depth)
{
    if (g_infos == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "interlace._races.setup_stacks() was not called");
        return NULL;
    }
    PyObject *frames = PyList_New(0);
    if (frames == NULL)
        return NULL;
    PyFrameObject *f = PyEval_GetFrame();
    Py_XINCREF(f);
    while (f != NULL) {
        PyCodeObject *code = PyFrame_GetCode(f);
        PyObject *code_id = PyLong_FromVoidPtr(code);
        if (code_id == NULL) {
            Py_DECREF(code);
            goto error;
        }
        PyObject *info = PyDict_GetItemWithError(g_infos, code_id);
        Py_DECREF(code_id);
        if (info != NULL)
            Py_INCREF(info);
        else if (!PyErr_Occurred())
            info = PyObject_CallOneArg(g_info, (PyObject *)code);
        Py_DECREF(code);
        if (info == NULL)
            goto error;
        if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) < 3) {
            Py_DECREF(info);
            PyErr_SetString(PyExc_TypeError, "a code's info must be (kind, filename, name, ...)");
            goto error;
        }
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(info, 0));
        if (kind == -1 && PyErr_Occurred()) {
            Py_DECREF(info);
            goto error;
        }
        if (kind == F_USER) {
            PyObject *lineno = PyLong_FromLong(PyFrame_GetLineNumber(f));
            PyObject *frame = lineno ? PyTuple_Pack(3, PyTuple_GET_ITEM(info, 1), lineno, PyTuple_GET_ITEM(info, 2))
                                     : NULL;
            Py_XDECREF(lineno);
            int r = frame == NULL ? -1 : PyList_Append(frames, frame);
            Py_XDECREF(frame);
            if (r < 0) {
                Py_DECREF(info);
                goto error;
            }
            if (PyList_GET_SIZE(frames) == depth) {
                Py_DECREF(info);
                break;
            }
        }
        else if (kind == F_STOP_HERE || PyList_GET_SIZE(frames)) {
            Py_DECREF(info);
            break;
        }
        Py_DECREF(info);
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    f = NULL;
    if (PyList_Reverse(frames) < 0)
        goto error;
    PyObject *stack = PyList_AsTuple(frames);
    Py_DECREF(frames);
    if (stack == NULL)
        return NULL;
    if (PyDict_GET_SIZE(g_stacks) > 100000)
        PyDict_Clear(g_stacks);  /* a bound for long-lived processes (see stacks.py) */
    PyObject *kept = PyDict_SetDefault(g_stacks, stack, stack);
    Py_XINCREF(kept);
    Py_DECREF(stack);
    return kept;
error:
    Py_XDECREF(f);
    Py_DECREF(frames);
    return NULL;
}

static PyObject *
races_capture(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t depth = 12;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "capture() takes at most 1 argument");
        return NULL;
    }
    if (nargs == 1) {
        depth = PyLong_AsSsize_t(args[0]);
        if (depth == -1 && PyErr_Occurred())
            return NULL;
    }
    return capture_stack(depth);
}

/* setup_stacks(_infos, _stacks, _info) of detect/stacks.py */
static PyObject *
races_setup_stacks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "setup_stacks(infos: dict, stacks: dict, info)");
        return NULL;
    }
    Py_XSETREF(g_infos, Py_NewRef(args[0]));
    Py_XSETREF(g_stacks, Py_NewRef(args[1]));
    Py_XSETREF(g_info, Py_NewRef(args[2]));
    Py_RETURN_NONE;
}

/* setup(types, lines, line, Access, _Step, _Attr, value_keys, VectorClock, whole) */
static PyObject *
races_setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "setup() takes 9 arguments");
        return NULL;
    }
    if (!PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1]) || !PyAnySet_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "setup(): _TYPES and _LINES must be dicts, _VALUE_KEYS a set");
        return NULL;
    }
    PyObject **slots[] = {&g_types, &g_lines, &g_line, &g_access, &g_step, &g_attr, &g_value_keys, &g_clock,
                          &g_whole};
    for (int i = 0; i < 9; i++)
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    if (prepare_maker(&make_access) < 0 || prepare_maker(&make_step) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
races_counts(PyObject *module, PyObject *unused)
{
    return Py_BuildValue("(KKii)", n_taken, n_declined, make_access.direct, make_step.direct);
}

static PyMethodDef races_methods[] = {
    {"counts", races_counts, METH_NOARGS,
     "counts() -> (taken, declined, direct Access, direct _Step): calls of access() and sync() that did the work "
     "here, that left it to Python; whether Access and _Step objects are made by filling their slots"},
    {"access", (PyCFunction)(void (*)(void))races_access, METH_FASTCALL,
     "access(detector, ex, ts, kind, obj, key, site, atomic): RaceDetector.access's work; False: not done"},
    {"sync", (PyCFunction)(void (*)(void))races_sync, METH_FASTCALL,
     "sync(detector, ex, kind, ts, obj): RaceDetector.sync's work; False: not done"},
    {"capture", (PyCFunction)(void (*)(void))races_capture, METH_FASTCALL,
     "capture(depth=12): detect.stacks.capture in C (the caller's stack, without interlace's frames)"},
    {"setup_stacks", (PyCFunction)(void (*)(void))races_setup_stacks, METH_FASTCALL,
     "setup_stacks(_infos, _stacks, _info): detect/stacks.py's caches this module's capture() shares"},
    {"setup", (PyCFunction)(void (*)(void))races_setup, METH_FASTCALL,
     "setup(...): the module-level objects of detect/races.py this module works with"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef races_module = {
    PyModuleDef_HEAD_INIT, "interlace._races",
    "The race detector's per-access and per-synchronisation work in C (see detect/races.py).", -1,
    races_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__races(void)
{
    struct { PyObject **slot; const char *text; } names[] = {
        {&s_died, "died"}, {&s_dict_owners, "dict_owners"}, {&s_controlled, "controlled"},
        {&s_threads, "threads"}, {&s_locations, "locations"}, {&s_objects, "objects"}, {&s_tp, "tp"},
        {&s_write, "write"}, {&s_kind, "kind"}, {&s_stale, "_stale"}, {&s_tid, "tid"},
        {&s_clocks, "clocks"}, {&s_c, "c"}, {&s_accesses, "accesses"}, {&s_current, "current"},
        {&s_fast, "fast"}, {&s_last, "last"}, {&s_last_at, "last_at"}, {&s_last_gil, "last_gil"},
        {&s_number, "number"}, {&s_line, "line"}, {&s_run, "run"}, {&s_gil_points, "gil_points"},
        {&s_reads, "reads"}, {&s_clock, "clock"}, {&s_atomic, "atomic"}, {&s_name, "name"},
        {&s_what, "what"}, {&s_stacks, "stacks"}, {&s_task, "task"}, {&s_race, "_race"},
        {&s_atomicity, "_atomicity"}, {&s_back_edges, "back_edges"}, {&s_os_threads, "os_threads"},
        {&s_obtained, "obtained"}, {&s_pub, "pub"}, {&s_writes, "writes"}, {&s_put, "put"},
        {&s_read, "read"}, {&s_dunder_dict, "__dict__"}, {&s_segs, "segs"},
        {&s_lock_clocks, "lock_clocks"}, {&s_handoff_clocks, "handoff_clocks"}, {&s_watch, "watch"},
        {&s_add, "add"}, {&s_acquire, "acquire"}, {&s_try_acquire, "try-acquire"},
        {&s_release, "release"}, {&s_signal, "signal"}, {&s_wait, "wait"}, {&s_delete, "delete"},
        {&s_access_number, "access_number"}, {&s_gil_clock, "gil_clock"}, {&s_back_edge_count, "back_edge_count"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL)
            return NULL;
    }
    PyObject *m = PyModule_Create(&races_module);
    if (m == NULL)
        return NULL;
    /* the interface version detect/races.py expects (its NATIVE_API) */
    if (PyModule_AddIntConstant(m, "API", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
