/*
 * interlace._races: the race detector's per-access and per-synchronisation work in C.
 *
 * detect/races.py is the reference: RaceDetector.access and RaceDetector.sync call access() and
 * sync() here first. Each does exactly what the Python method does, statement for statement, on the
 * same objects (the detector's dicts, its _Location, Access and VectorClock instances), when the
 * access or synchronisation is a common one; otherwise it changes nothing and returns False, and the
 * Python method does all of the work. "Common": no object died since the last event, the location
 * exists already, its key is a plain value, the thread's clock exists (see the FALLBACK() lines below
 * for each case). atomicity() is RaceDetector._atomicity, called by access() here and by the Python
 * method when this module is loaded. What is rare stays Python and is called from here: a race's report
 * (_race, after the test whether it is noted already), the words of a violation, _use, _same_loop,
 * _stale. A change to what access(), sync() or _atomicity do in races.py needs the same change here
 * (tests/test_races_native.py compares the reports of both paths field by field).
 * capture() is detect/stacks.py's capture in C, sharing its caches; access() uses it when the detector
 * keeps every access's stack (interlace run, detect-only mode).
 *
 * Optional, like _speedups: without it (not built, INTERLACE_PURE=1) races.py runs alone.
 *
 * Thread safety: the module's own data are the references setup() and setup_stacks() store once, at
 * the import of detect/races.py (under the import lock), two statistics counters, the detector bound
 * last with its attributes (bind(), see held(): each use asks which detector is bound and takes its
 * own references, so two detectors used by turns, in one thread or two, only rebind) and caches of
 * immutable keys (slot offsets, sites' hashes, stacks kept), all changed under the GIL. The detector's
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
static int g_str_plain, g_int_plain; /* str in _VALUE_KEYS, int in it (a frozenset: asked once) */
static PyObject *g_whole;      /* _WHOLE, "*" */
static PyObject *g_infos;      /* stacks._infos: id(code) -> (kind, filename, name, code) */
static PyObject *g_stacks;     /* stacks._stacks: every stack captured, once */
/* (id(code), instruction offset) -> (code, line number): PyFrame_GetLineNumber walks the code's line
 * table from its start, about 4,600 instructions for an instrumented coroutine (most of a capture's
 * cost); the value keeps its code object alive, so the id cannot name another one */
#if PY_VERSION_HEX >= 0x030B0000
static PyObject *g_frame_lines;
#endif
static PyObject *g_info;       /* stacks._info(code) */
/* how many calls of access() and sync() did the work here and how many left it to Python (counts(), for
 * tests and benchmarks: a change in races.py that makes every access fall back shows there) */
static unsigned long long n_taken, n_declined;

static PyObject *capture_stack(Py_ssize_t depth);

/* interned attribute names */
static PyObject *s_died, *s_dict_owners, *s_controlled, *s_threads, *s_locations, *s_objects, *s_tp,
    *s_write, *s_kind, *s_stale, *s_locate, *s_tid, *s_clocks, *s_c, *s_accesses, *s_current, *s_fast,
    *s_last, *s_last_at, *s_last_gil, *s_number, *s_line, *s_run, *s_gil_points, *s_reads, *s_clock,
    *s_atomic, *s_name, *s_what, *s_stacks, *s_task, *s_race, *s_atomicity, *s_back_edges,
    *s_os_threads, *s_obtained, *s_pub, *s_writes, *s_put, *s_read, *s_dunder_dict, *s_segs,
    *s_lock_clocks, *s_handoff_clocks, *s_watch, *s_add, *s_acquire, *s_try_acquire, *s_release,
    *s_signal, *s_wait, *s_delete, *s_access_number, *s_gil_clock, *s_back_edge_count, *s_noted, *s_groups,
    *s_stretch, *s_violated;

static int
str_eq(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (!PyUnicode_Check(a) || !PyUnicode_Check(b) || PyUnicode_GET_LENGTH(a) != PyUnicode_GET_LENGTH(b))
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
#define SLOT_CACHE 1024

static struct {
    PyTypeObject *type;
    PyObject *name;
    unsigned int version;
    Py_ssize_t offset; /* -1: not a writable object slot */
} slot_cache[SLOT_CACHE];

/* get_attr and what it calls: inline at each of its hundreds of call sites (about 20 calls an access,
 * where the call itself was a third of a slot's read) */
#if defined(__GNUC__) || defined(__clang__)
#define HOT_INLINE static inline __attribute__((always_inline))
#else
#define HOT_INLINE static inline
#endif

HOT_INLINE unsigned int
valid_version(PyTypeObject *tp)
{
    return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
}

/* type_slot_offset's look-up in the type, cached in ``slot_cache[i]`` */
static Py_ssize_t
type_slot_lookup(PyTypeObject *tp, PyObject *name, size_t i)
{
    Py_ssize_t offset = -1;
    if (tp->tp_getattro == PyObject_GenericGetAttr && tp->tp_setattro == PyObject_GenericSetAttr) {
        PyObject *descr = _PyType_Lookup(tp, name); /* borrowed */
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            if (member->type == SLOT_OBJECT_EX && !(member->flags & SLOT_READONLY))
                offset = member->offset;
        }
    }
    unsigned int version = valid_version(tp); /* (the lookup may have given the type its tag) */
    if (version != 0) {
        slot_cache[i].type = tp;
        slot_cache[i].name = name;
        slot_cache[i].version = version;
        slot_cache[i].offset = offset;
    }
    return offset;
}

/* the offset of the object slot ``name`` in instances of ``obj``'s type, or -1 */
HOT_INLINE Py_ssize_t
type_slot_offset(PyTypeObject *tp, PyObject *name)
{
    size_t i = (((uintptr_t)tp >> 4) * 31 + ((uintptr_t)name >> 4)) & (SLOT_CACHE - 1);
    unsigned int version = valid_version(tp);
    if (version != 0 && slot_cache[i].type == tp && slot_cache[i].name == name && slot_cache[i].version == version)
        return slot_cache[i].offset;
    return type_slot_lookup(tp, name, i);
}

HOT_INLINE Py_ssize_t
slot_offset(PyObject *obj, PyObject *name)
{
    return type_slot_offset(Py_TYPE(obj), name);
}

/* obj.name (a new reference, or NULL with an error set) */
HOT_INLINE PyObject *
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

/* det.name for the detector (a RaceDetector): read from its instance dict, where every attribute this
 * module reads of it lives (no descriptor of its class has these names), without the look-up in its
 * type's MRO that getattr makes first; a name not there is asked of getattr. */
static PyObject *
det_attr(PyObject *det, PyObject *name)
{
    PyObject **dictptr = _PyObject_GetDictPtr(det);
    if (dictptr != NULL && *dictptr != NULL) {
        PyObject *value = PyDict_GetItemWithError(*dictptr, name);
        if (value != NULL)
            return Py_NewRef(value);
        if (PyErr_Occurred())
            return NULL;
    }
    return get_attr(det, name);
}

/* -- the detector's attributes, held here between its executions ------------------------------------
 * RaceDetector binds these attributes in __init__ and begin only (its dicts and lists change in place
 * in between; stacks is set before begin: see drivers/session.py), and both end with bind(self): so
 * they are read from its instance dict once per execution, not at every access and synchronisation
 * (about 17 look-ups an access). A detector met that is not the one bound is bound then. */

enum { B_DIED, B_DICT_OWNERS, B_LOCATIONS, B_OBJECTS, B_CLOCKS, B_LAST, B_LAST_AT, B_LAST_GIL, B_SEGS,
       B_STRETCH, B_GROUPS, B_LOCK_CLOCKS, B_HANDOFF_CLOCKS, B_NOTED, B_VIOLATED, B_WATCH, B_CONTROLLED,
       B_STACKS, B_COUNT };
static PyObject **const bound_names[B_COUNT] = {
    &s_died, &s_dict_owners, &s_locations, &s_objects, &s_clocks, &s_last, &s_last_at, &s_last_gil, &s_segs,
    &s_stretch, &s_groups, &s_lock_clocks, &s_handoff_clocks, &s_noted, &s_violated, &s_watch, &s_controlled,
    &s_stacks,
};
static PyObject *bound_det;              /* the detector bound (a strong reference), or NULL */
static PyObject *bound_values[B_COUNT];  /* its attributes then (NULL: it had none of that name) */

/* bind(detector): hold its containers (see above); 0, or -1 with an error set */
static int
bind_to(PyObject *det)
{
    PyObject *values[B_COUNT];
    for (int i = 0; i < B_COUNT; i++) {
        values[i] = det_attr(det, *bound_names[i]);
        if (values[i] == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
                while (--i >= 0)
                    Py_XDECREF(values[i]);
                return -1;
            }
            PyErr_Clear();  /* (asked again at each use: its error then) */
        }
    }
    Py_XSETREF(bound_det, Py_NewRef(det));
    for (int i = 0; i < B_COUNT; i++)
        Py_XSETREF(bound_values[i], values[i]);
    return 0;
}

/* det.<bound_names[which]> (a new reference, or NULL with an error set) */
static PyObject *
held(PyObject *det, int which)
{
    if (det != bound_det && bind_to(det) < 0)
        return NULL;
    PyObject *value = bound_values[which];
    return value != NULL ? Py_NewRef(value) : det_attr(det, *bound_names[which]);
}

/* a dict the detector holds (held()), or NULL (no error set) when it is not a plain dict */
static PyObject *
held_dict(PyObject *det, int which)
{
    PyObject *d = held(det, which);
    if (d != NULL && !PyDict_CheckExact(d))
        Py_CLEAR(d);
    return d;
}

/* bool(v) of a new reference ``v``, released: 1, 0, or -1 with an error set (also when ``v`` is NULL) */
static int
truth(PyObject *v)
{
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

#define held_true(det, which) truth(held((det), (which)))

/* obj.name (1, *out a new reference), no such attribute (0), or -1 with an error set: from the instance
 * dict straight away when the type has nothing of that name (an Execution's current, fast, threads),
 * as the generic getattr finds it, else as getattr */
static int
plain_attr(PyObject *obj, PyObject *name, PyObject **out);

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

/* ``op(x.name, y.name)`` */
static int
attrs_pair(PyObject *x, PyObject *y, PyObject *name, int (*op)(PyObject *, PyObject *))
{
    PyObject *a = get_attr(x, name);
    if (a == NULL)
        return -1;
    PyObject *b = get_attr(y, name);
    if (b == NULL) {
        Py_DECREF(a);
        return -1;
    }
    int r = op(a, b);
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
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
    Py_ssize_t offsets[16]; /* of each field's slot, when ``direct`` */
} Maker;

static const char *const access_names[] = {"tid", "thread", "kind", "what", "site", "clock", "number", "atomic",
                                           "stack", "line", "key", "run", "task"};
static const char *const step_names[] = {"number", "line", "kind", "run"};

/* forward: the classes setup() stores */
static PyObject *g_access, *g_step;
static Maker make_access = {&g_access, access_names, 13, 0, {NULL}};
static Maker make_step = {&g_step, step_names, 4, 0, {NULL}};
static const char *const clock_names[] = {"c"};
static PyObject *g_clock;      /* the VectorClock class */
static Maker make_clock = {&g_clock, clock_names, 1, 0, {NULL}};  /* VectorClock(entries) */

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
        maker->offsets[i] = type_slot_offset(tp, maker->fields[i]);
        same = found && maker->offsets[i] >= 0;
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
    for (int i = 0; i < maker->count; i++)  /* (a new instance's slots are empty) */
        *(PyObject **)((char *)obj + maker->offsets[i]) = Py_NewRef(values[i]);
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

static int
plain_attr(PyObject *obj, PyObject *name, PyObject **out)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (tp->tp_getattro == PyObject_GenericGetAttr && _PyType_Lookup(tp, name) == NULL) {
        PyObject **dictptr = _PyObject_GetDictPtr(obj);
        if (dictptr != NULL && *dictptr != NULL) {
            PyObject *value = PyDict_GetItemWithError(*dictptr, name);
            if (value != NULL) {
                *out = Py_NewRef(value);
                return 1;
            }
            if (PyErr_Occurred())
                return -1;
        }
    }
    return optional_attr(obj, name, out);
}

/* bool(obj.name): 1, 0, or -1 with an error set */
static int
attr_true(PyObject *obj, PyObject *name)
{
    return truth(get_attr(obj, name));
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

/* What interlace._speedups's FastPath keeps of the counts below, read without its getters (each made an
 * int): its capsule "interlace._speedups._fast_counts", the same struct as _speedups.c's FastCounts
 * (change both). NULL: not built, or of another layout. */
typedef struct {
    Py_ssize_t size;
    PyTypeObject *type;
    Py_ssize_t accesses, gil_points, back_edges;
} FastCounts;

static const FastCounts *g_fast_counts;
static int g_fast_counts_tried;

static const FastCounts *
fast_counts(void)
{
    if (!g_fast_counts_tried) {
        g_fast_counts_tried = 1;
        const FastCounts *c = PyCapsule_Import("interlace._speedups._fast_counts", 0);
        if (c == NULL)
            PyErr_Clear();  /* (then the FastPath's getters are asked) */
        else if (c->size == (Py_ssize_t)sizeof(FastCounts))
            g_fast_counts = c;
    }
    return g_fast_counts;
}

/* What unit_count needs of the execution for unit ``ts``: its FastPath if ``ts`` holds the baton, None if
 * not, NULL (no error set) for another kind of execution (detect-only mode's, which has no
 * ``current``): that one is asked. NULL with an error set: failed. */
static PyObject *
fast_of(PyObject *ex, PyObject *ts)
{
    PyObject *current, *fast;
    if (plain_attr(ex, s_current, &current) <= 0)
        return NULL;
    int is_current = current == ts;
    Py_DECREF(current);
    if (!is_current)
        return Py_NewRef(Py_None);
    int found = plain_attr(ex, s_fast, &fast);
    if (found == 0)
        PyErr_SetObject(PyExc_AttributeError, s_fast);
    return found > 0 ? fast : NULL;
}

/* Execution.access_number(ts), gil_clock(ts), back_edge_count(ts) (``method``), inline for an Execution:
 * ts.<field> + (ex.fast.<field> if ts is ex.current else 0), ``fast`` from fast_of */
static PyObject *
unit_count(PyObject *ex, PyObject *ts, PyObject *fast, PyObject *field, PyObject *method)
{
    if (fast == NULL)
        return PyObject_CallMethodOneArg(ex, method, ts);
    long long own, more = 0;
    if (attr_ll(ts, field, &own) < 0)
        return NULL;
    if (fast != Py_None) {
        const FastCounts *c = fast_counts();
        if (c != NULL && Py_TYPE(fast) == c->type) {
            Py_ssize_t offset = field == s_accesses ? c->accesses : field == s_gil_points ? c->gil_points
                                                                                           : c->back_edges;
            more = *(long long *)((char *)fast + offset);
        }
        else if (attr_ll(fast, field, &more) < 0)
            return NULL;
    }
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

/* Whether _race would return at once for a note between ``access`` and ``other``: ``previous.line in
 * self.noted.get(current.line, ())`` (the race is reported already). 1, 0, -1. A race of a line with many
 * threads (a flag polled, the unlocked read of double-checked locking) is found again by each thread's
 * first read of each new location: asking it here saves a call of _race each time. */
static int
noted_already(PyObject *det, PyObject *access, PyObject *other)
{
    PyObject *noted = held(det, B_NOTED);
    if (noted == NULL)
        return -1;
    int r = 0;
    if (PyDict_Check(noted)) {
        PyObject *line = get_attr(access, s_line);
        PyObject *lines = line ? PyDict_GetItemWithError(noted, line) : NULL;
        Py_XDECREF(line);
        if (lines != NULL) {
            PyObject *other_line = get_attr(other, s_line);
            r = other_line == NULL ? -1 : PySequence_Contains(lines, other_line);
            Py_XDECREF(other_line);
        }
        else if (PyErr_Occurred())
            r = -1;
    }
    Py_DECREF(noted);
    return r;
}

static int
call_race(PyObject *det, PyObject *ex, PyObject *loc, PyObject *lk, PyObject *access, PyObject *other)
{
    int known = noted_already(det, access, other);
    if (known != 0)
        return known < 0 ? -1 : 0;
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
        if (a == b)
            continue;  /* (most entries: a clock's entries are shared by its copies) */
        int greater;
        if (PyLong_CheckExact(a) && PyLong_CheckExact(b)) {  /* (what the entries are: ints, compared as such) */
            int overflow_a, overflow_b;
            long long x = PyLong_AsLongLongAndOverflow(a, &overflow_a), y = PyLong_AsLongLongAndOverflow(b, &overflow_b);
            if ((x == -1 || y == -1) && PyErr_Occurred())
                return -1;
            greater = overflow_a || overflow_b ? PyObject_RichCompareBool(b, a, Py_GT) : y > x;
        }
        else
            greater = PyObject_RichCompareBool(b, a, Py_GT);
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

/* -- RaceDetector._atomicity ------------------------------------------------------------------------
 * The same statements as races.py's, on the same objects. What is rare stays Python and is called from
 * here: making a _Group, _use, _same_loop (asked only when everything else says violation) and the
 * words of each violation (_read_between, _write_between, _removal_between, _overwritten, _same_check). */

static PyObject *g_group_cls, *g_same_loop_fn;  /* setup_atomicity(): _Group, _same_loop */
static PyObject *g_check_cls;
static const char *const check_names[] = {"access", "pre", "use", "saw"};
static Maker make_check = {&g_check_cls, check_names, 4, 0, {NULL}};
static PyObject *s_checks, *s_entries, *s_by_line, *s_rmws, *s_uses, *s_serial,
    *s_access, *s_pre, *s_use, *s_saw, *s_key, *s_use_m, *s_read_between, *s_write_between,
    *s_removal_between, *s_overwritten, *s_same_check;

/* The detector's objects form no cycle and refer to none of the program's objects: an Access, a _Check,
 * a list of clock entries, a _Location, a _Known, a _Group, a _BySite and their dicts refer only to each
 * other downwards (a location to its accesses, a group to its checks), to ints, strings and tuples of
 * them. So the cyclic collector need not walk them: each is untracked when made here or first seen here
 * (and a dict again after each insertion, which tracks it again). Left tracked, they were most of the
 * detector's time on many objects read by many threads: every full collection walked all of them
 * (850,000 objects, a dict of 100 accesses per location, 1 s a collection, for 100 threads reading a
 * linked list of 30,000 items). */
static void
untrack(PyObject *obj)
{
    if (PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj))
        PyObject_GC_UnTrack(obj);
}

/* ``obj.name`` as a long long; 0 on success */
static int
ll_attr(PyObject *obj, PyObject *name, long long *out)
{
    return attr_ll(obj, name, out);
}

/* races.py's _conflict(a, b) */
static int
conflict(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    if (r != 0)
        return r;
    r = PyObject_RichCompareBool(a, g_whole, Py_EQ);
    if (r != 0)
        return r;
    return PyObject_RichCompareBool(b, g_whole, Py_EQ);
}

static int
equal(PyObject *a, PyObject *b)
{
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* _conflict(x.key, y.key) of two Accesses, ``x.line == y.line``: 1, 0, -1 */
#define keys_conflict(x, y) attrs_pair((x), (y), s_key, conflict)
#define same_line(x, y) attrs_pair((x), (y), s_line, equal)

/* ``a.clock > (clock[u] if u < len(clock) else 0)``, ``u`` the tid (an int object) */
static int
after(PyObject *a, PyObject *clock, PyObject *u)
{
    long long known, mine;
    if (ll_attr(a, s_clock, &mine) < 0 || entry_of(clock, u, &known) < 0)
        return -1;
    return mine > known;
}

/* not _same_loop(ex, t, u) */
static int
not_same_loop(PyObject *ex, PyObject *t, PyObject *u)
{
    PyObject *r = PyObject_CallFunctionObjArgs(g_same_loop_fn, ex, t, u, NULL);
    if (r == NULL)
        return -1;
    int same = PyObject_IsTrue(r);
    Py_DECREF(r);
    return same < 0 ? -1 : !same;
}

/* detector._unreported(current, line): ``line not in self.violated.get(current.line, ())`` */
static int
unreported(PyObject *det, PyObject *current_line, PyObject *line)
{
    PyObject *violated = held(det, B_VIOLATED);
    if (violated == NULL)
        return -1;
    if (!PyDict_Check(violated)) {
        Py_DECREF(violated);
        PyErr_SetString(PyExc_TypeError, "the detector's violated must be a dict");
        return -1;
    }
    PyObject *lines = PyDict_GetItemWithError(violated, current_line);
    int r;
    if (lines == NULL)
        r = PyErr_Occurred() ? -1 : 1;
    else {
        Py_INCREF(lines);
        r = PySequence_Contains(lines, line);
        Py_DECREF(lines);
        r = r < 0 ? -1 : !r;
    }
    Py_DECREF(violated);
    return r;
}

/* _kept(check, act, other): act.kind == "delete" and other.kind == "write" and all three keys are _WHOLE */
static int
kept(PyObject *check_access, PyObject *act, PyObject *other)
{
    PyObject *objs[] = {act, other};
    PyObject *kinds[] = {s_delete, s_write};
    for (int i = 0; i < 2; i++) {
        PyObject *k = get_attr(objs[i], s_kind);
        if (k == NULL)
            return -1;
        int same = str_eq(k, kinds[i]);
        Py_DECREF(k);
        if (!same)
            return 0;
    }
    PyObject *all[] = {act, check_access, other};
    for (int i = 0; i < 3; i++) {
        PyObject *key = get_attr(all[i], s_key);
        if (key == NULL)
            return -1;
        int whole = PyObject_RichCompareBool(key, g_whole, Py_EQ);
        Py_DECREF(key);
        if (whole <= 0)
            return whole;
    }
    return 1;
}

/* what a _BySite groups an entry under (its line_of): an Access's line, a _Check's access's, an act's */
enum { BY_ACCESS, BY_CHECK, BY_ACT };

static PyObject *
line_of(PyObject *entry, int by)
{
    if (by == BY_CHECK || by == BY_ACT) {
        PyObject *inner;
        if (by == BY_CHECK)
            inner = get_attr(entry, s_access);
        else {
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
                PyErr_SetString(PyExc_TypeError, "an act must be a (check, write) pair");
                return NULL;
            }
            inner = Py_NewRef(PyTuple_GET_ITEM(entry, 1));
        }
        if (inner == NULL)
            return NULL;
        PyObject *line = get_attr(inner, s_line);
        Py_DECREF(inner);
        return line;
    }
    return get_attr(entry, s_line);
}

/* the marker of by_site_put's ``old`` and whole_location's ``hint`` for "not looked up" (never read) */
static char old_unknown;
#define OLD_UNKNOWN ((PyObject *)&old_unknown)

/* _BySite.put(owner, value, line) on ``site`` (a _BySite), whose line_of is ``by``; ``old``: its entry of
 * ``owner`` (borrowed; NULL: none), when the caller has just looked it up, else OLD_UNKNOWN */
static int
by_site_put(PyObject *site, PyObject *owner, PyObject *value, PyObject *line, int by, PyObject *old)
{
    PyObject *entries = get_attr(site, s_entries);
    if (entries == NULL)
        return -1;
    PyObject *by_line = get_attr(site, s_by_line);
    if (by_line == NULL || !PyDict_Check(entries) || !PyDict_Check(by_line)) {
        if (by_line != NULL)
            PyErr_SetString(PyExc_TypeError, "a _BySite's entries and by_line must be dicts");
        Py_DECREF(entries);
        Py_XDECREF(by_line);
        return -1;
    }
    int r = -1;
    if (old == OLD_UNKNOWN) {
        old = PyDict_GetItemWithError(entries, owner);
        if (old == NULL && PyErr_Occurred())
            goto done;
    }
    if (old != NULL) {
        PyObject *old_line = line_of(old, by);
        if (old_line == NULL)
            goto done;
        int same = PyObject_RichCompareBool(old_line, line, Py_EQ);
        if (same < 0) {
            Py_DECREF(old_line);
            goto done;
        }
        if (!same) {
            PyObject *group = PyDict_GetItemWithError(by_line, old_line);
            if (group == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, old_line);
                Py_DECREF(old_line);
                goto done;
            }
            Py_INCREF(group);
            int bad = PyDict_DelItem(group, owner) < 0
                      || (PyDict_GET_SIZE(group) == 0 && PyDict_DelItem(by_line, old_line) < 0);
            Py_DECREF(group);
            if (bad) {
                Py_DECREF(old_line);
                goto done;
            }
        }
        Py_DECREF(old_line);
    }
    PyObject *group = PyDict_GetItemWithError(by_line, line);
    if (group == NULL) {
        if (PyErr_Occurred())
            goto done;
        PyObject *fresh = PyDict_New();
        if (fresh == NULL)
            goto done;
        int bad = PyDict_SetItem(by_line, line, fresh) < 0;
        Py_DECREF(fresh);
        if (bad)
            goto done;
        group = fresh;  /* (by_line holds it) */
    }
    if (PyDict_SetItem(group, owner, value) < 0 || PyDict_SetItem(entries, owner, value) < 0)
        goto done;
    /* (an insertion tracks a dict again) */
    untrack(site);
    untrack(group);
    untrack(entries);
    untrack(by_line);
    r = 0;
done:
    Py_DECREF(entries);
    Py_DECREF(by_line);
    return r;
}

/* det.<method>(ex, loc, lk, access, a, b): the words of one violation, and its report */
static int
report(PyObject *det, PyObject *method, PyObject *ex, PyObject *loc, PyObject *lk, PyObject *access,
       PyObject *a, PyObject *b)
{
    PyObject *args[] = {det, ex, loc, lk, access, a, b};
    PyObject *r = PyObject_VectorcallMethod(method, args, 7 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* _owner(t, location), location not None */
static PyObject *
owner_of(Py_ssize_t t, PyObject *t_obj, PyObject *location)
{
    PyObject *serial = get_attr(location, s_serial);
    if (serial == NULL)
        return NULL;
    PyObject *owner;
    if (t < 65536) {
        long long n = PyLong_AsLongLong(serial);
        if (n == -1 && PyErr_Occurred()) {
            Py_DECREF(serial);
            return NULL;
        }
        if (n >= 0 && n < ((long long)1 << 46))
            owner = PyLong_FromLongLong(n << 16 | (long long)t);
        else {
            PyObject *sixteen = PyLong_FromLong(16);
            PyObject *moved = sixteen ? PyNumber_Lshift(serial, sixteen) : NULL;
            owner = moved ? PyNumber_Or(moved, t_obj) : NULL;
            Py_XDECREF(sixteen);
            Py_XDECREF(moved);
        }
    }
    else
        owner = PyTuple_Pack(2, t_obj, serial);
    Py_DECREF(serial);
    return owner;
}

/* a _Check's access's number */
static int
check_number(PyObject *check, long long *out)
{
    PyObject *a = get_attr(check, s_access);
    if (a == NULL)
        return -1;
    int r = ll_attr(a, s_number, out);
    Py_DECREF(a);
    return r;
}

/* The scan of the group's read-then-writes (``group.rmws``) for ``access``. A read: another thread read
 * this at the same line and then wrote it; this read can come between the two (_read_between). A write:
 * another thread's read-then-write not ordered before it; this write can come between its check and its
 * act (_write_between). */
static int
scan_rmws(PyObject *det, PyObject *ex, PyObject *group, PyObject *location, PyObject *lk, PyObject *access,
          PyObject *t_obj, PyObject *k, PyObject *aline, PyObject *cc, int write)
{
    PyObject *rmws_site = get_attr(group, s_rmws);
    if (rmws_site == NULL)
        return -1;
    PyObject *by_line = get_attr(rmws_site, s_by_line);
    Py_DECREF(rmws_site);
    if (by_line == NULL)
        return -1;
    int r = -1;
    Py_ssize_t pos = 0;
    PyObject *line, *rmws;
    while (PyDict_Next(by_line, &pos, &line, &rmws)) {
        Py_INCREF(line);
        Py_INCREF(rmws);
        int go = unreported(det, aline, line);
        Py_ssize_t inner = 0;
        PyObject *u, *pair;
        while (go > 0 && PyDict_Next(rmws, &inner, &u, &pair)) {
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_TypeError, "an act must be a (check, write) pair");
                go = -1;
                break;
            }
            Py_INCREF(u);
            Py_INCREF(pair);
            PyObject *ucheck = PyTuple_GET_ITEM(pair, 0), *uwrite = PyTuple_GET_ITEM(pair, 1);
            PyObject *ucheck_access = get_attr(ucheck, s_access);
            int hit = ucheck_access == NULL ? -1 : PyObject_RichCompareBool(u, t_obj, Py_NE);
            if (hit > 0)  /* a read: at its line; a write: overlapping the other's check */
                hit = write ? keys_conflict(access, ucheck_access) : same_line(ucheck_access, access);
            if (hit > 0) {
                PyObject *wkey = get_attr(uwrite, s_key);
                hit = wkey == NULL ? -1 : conflict(k, wkey);
                Py_XDECREF(wkey);
            }
            if (hit > 0)
                hit = after(uwrite, cc, u);
            if (hit > 0)
                hit = not_same_loop(ex, t_obj, u);
            if (hit > 0 && write) {
                hit = kept(ucheck_access, uwrite, access);
                hit = hit < 0 ? -1 : !hit;
            }
            if (hit > 0)
                hit = unreported(det, aline, line);
            if (hit > 0)
                hit = report(det, write ? s_write_between : s_read_between, ex, location, lk, access, ucheck,
                             uwrite) < 0 ? -1 : 0;
            Py_XDECREF(ucheck_access);
            Py_DECREF(u);
            Py_DECREF(pair);
            if (hit < 0)
                go = -1;
        }
        Py_DECREF(line);
        Py_DECREF(rmws);
        if (go < 0)
            goto done;
    }
    r = 0;
done:
    Py_DECREF(by_line);
    return r;
}

/* ``self.locations.get((key[0], _WHOLE))`` (borrowed; NULL: none, or an error set): ``hint`` when it is
 * not OLD_UNKNOWN (access() looked it up already, in the same dict, which nothing changed since), else
 * looked up with the key made in ``*whole_key`` */
static PyObject *
whole_location(PyObject *locations, PyObject *key, PyObject *hint, PyObject **whole_key)
{
    if (hint != OLD_UNKNOWN)
        return hint;
    *whole_key = PyTuple_Pack(2, PyTuple_GET_ITEM(key, 0), g_whole);
    return *whole_key == NULL ? NULL : PyDict_GetItemWithError(locations, *whole_key);
}

/* the body of RaceDetector._atomicity, args as atomicity()'s; ``whole_hint``: see whole_location */
static PyObject *
atomicity(PyObject *const *args, PyObject *whole_hint)
{
    PyObject *det = args[0], *ex = args[1], *key = args[2], *location = args[3], *related = args[4],
             *lk = args[5], *access = args[6], *cc = args[7];
    int write = PyObject_IsTrue(args[8]);
    int apart = PyObject_IsTrue(args[10]);
    PyObject *back_edges = args[9];
    if (write < 0 || apart < 0)
        return NULL;
    if (!PyList_Check(related) || !PyList_Check(cc)) {
        PyErr_SetString(PyExc_TypeError, "atomicity(): related and cc must be lists");
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *t_obj = NULL, *groups = NULL, *group = NULL, *segs_d = NULL, *segs = NULL, *stretches = NULL,
             *stretch = NULL, *k = NULL, *checks = NULL, *entries = NULL, *owner = NULL, *aline = NULL,
             *check = NULL, *whole_key = NULL, *whole_owner = NULL, *pre = NULL, *act = NULL, *rmws_site = NULL,
             *locations = NULL;
    t_obj = get_attr(access, s_tid);
    if (t_obj == NULL)
        goto error;
    Py_ssize_t t = PyLong_AsSsize_t(t_obj);
    if (t == -1 && PyErr_Occurred())
        goto error;
    groups = held_dict(det, B_GROUPS);
    stretches = groups ? held_dict(det, B_STRETCH) : NULL;
    segs_d = stretches ? held_dict(det, B_SEGS) : NULL;
    locations = segs_d ? held_dict(det, B_LOCATIONS) : NULL;
    if (locations == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "the detector's groups, stretch, segs, locations must be dicts");
        goto error;
    }
    group = PyDict_GetItemWithError(groups, key);
    if (group != NULL) {
        Py_INCREF(group);
        untrack(group);
    }
    else {
        if (PyErr_Occurred())
            goto error;
        group = PyObject_CallNoArgs(g_group_cls);
        if (group == NULL || PyDict_SetItem(groups, key, group) < 0)
            goto error;
        if (PyTuple_CheckExact(key) && PyTuple_GET_SIZE(key) == 1) {
            PyObject *objects = held_dict(det, B_OBJECTS);
            if (objects == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "the detector's objects must be a dict");
                goto error;
            }
            PyObject *known = PyDict_GetItemWithError(objects, PyTuple_GET_ITEM(key, 0));
            Py_DECREF(objects);
            if (known == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(key, 0));
                goto error;
            }
            PyObject *known_locations = get_attr(known, s_locations);
            int bad = known_locations == NULL || PyList_Append(known_locations, key) < 0;
            if (!bad)
                untrack(known_locations);
            Py_XDECREF(known_locations);
            if (bad)
                goto error;
        }
    }
    segs = PyDict_GetItemWithError(segs_d, t_obj);
    if (segs == NULL) {
        if (PyErr_Occurred())
            goto error;
        segs = PyLong_FromLong(0);
        if (segs == NULL)
            goto error;
    }
    else
        Py_INCREF(segs);
    stretch = PyDict_GetItemWithError(stretches, t_obj);
    if (stretch == NULL && PyErr_Occurred())
        goto error;
    Py_XINCREF(stretch);
    int fresh = stretch == NULL;
    if (!fresh) {
        if (!PyTuple_Check(stretch) || PyTuple_GET_SIZE(stretch) != 4 || !PyList_Check(PyTuple_GET_ITEM(stretch, 3))) {
            PyErr_SetString(PyExc_TypeError, "a stretch must be (segs, back_edges, first, checks)");
            goto error;
        }
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(stretch, 0), segs, Py_EQ);
        if (same > 0)
            same = PyObject_RichCompareBool(PyTuple_GET_ITEM(stretch, 1), back_edges, Py_EQ);
        if (same < 0)
            goto error;
        fresh = !same;
        if (fresh) {
            PyObject *olds = PyTuple_GET_ITEM(stretch, 3);
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(olds); i++) {
                PyObject *old = PyList_GET_ITEM(olds, i);
                if (set_attr(old, s_pre, Py_None) < 0 || set_attr(old, s_saw, Py_None) < 0)
                    goto error;
            }
        }
    }
    if (fresh) {
        PyObject *number = get_attr(access, s_number);
        PyObject *list = number ? PyList_New(0) : NULL;
        Py_XSETREF(stretch, list ? PyTuple_Pack(4, segs, back_edges, number, list) : NULL);
        Py_XDECREF(number);
        Py_XDECREF(list);
        if (stretch == NULL || PyDict_SetItem(stretches, t_obj, stretch) < 0)
            goto error;
    }
    long long first = PyLong_AsLongLong(PyTuple_GET_ITEM(stretch, 2));
    if (first == -1 && PyErr_Occurred())
        goto error;
    PyObject *stretch_checks = PyTuple_GET_ITEM(stretch, 3);
    int container = PyTuple_Check(key) && PyTuple_GET_SIZE(key) == 1;
    k = get_attr(access, s_key);
    aline = k ? get_attr(access, s_line) : NULL;
    checks = aline ? get_attr(group, s_checks) : NULL;
    entries = checks ? get_attr(checks, s_entries) : NULL;
    if (entries == NULL)
        goto error;
    if (!PyDict_Check(entries)) {
        PyErr_SetString(PyExc_TypeError, "a _BySite's entries must be a dict");
        goto error;
    }
    owner = owner_of(t, t_obj, location);
    if (owner == NULL)
        goto error;
    int k_whole = PyObject_RichCompareBool(k, g_whole, Py_EQ);
    if (k_whole < 0)
        goto error;
    if (!write) {
        check = PyDict_GetItemWithError(entries, owner);
        if (check == NULL && PyErr_Occurred())
            goto error;
        Py_XINCREF(check);
        long long number = 0;
        if (check != NULL && check_number(check, &number) < 0)
            goto error;
        if (check == NULL || number < first) {
            PyObject *w = get_attr(location, s_write);
            if (w == NULL)
                goto error;
            PyObject *saw = Py_None;
            if (w != Py_None) {
                PyObject *wt = get_attr(w, s_tid);
                int other = wt == NULL ? -1 : PyObject_RichCompareBool(wt, t_obj, Py_NE);
                Py_XDECREF(wt);
                if (other < 0) {
                    Py_DECREF(w);
                    goto error;
                }
                if (other)
                    saw = w;
            }
            pre = PyList_GetSlice(cc, 0, PyList_GET_SIZE(cc));
            if (pre == NULL) {
                Py_DECREF(w);
                goto error;
            }
            untrack(pre);
            PyObject *check_args[] = {access, pre, Py_None, saw};
            PyObject *old = check;  /* (borrowed from here on: entries holds it until the put) */
            Py_XSETREF(check, make(&make_check, check_args));
            Py_DECREF(w);
            if (check == NULL)
                goto error;
            untrack(check);
            if (by_site_put(checks, owner, check, aline, BY_CHECK, old) < 0
                    || PyList_Append(stretch_checks, check) < 0)
                goto error;
            if (container && !k_whole) {
                PyObject *whole_loc = whole_location(locations, key, whole_hint, &whole_key);
                if (whole_loc == NULL && PyErr_Occurred())
                    goto error;
                PyObject *whole = NULL;
                if (whole_loc != NULL) {
                    whole_owner = owner_of(t, t_obj, whole_loc);
                    if (whole_owner == NULL)
                        goto error;
                    whole = PyDict_GetItemWithError(entries, whole_owner);
                    if (whole == NULL && PyErr_Occurred())
                        goto error;
                }
                if (whole != NULL) {
                    Py_INCREF(whole);
                    long long n;
                    int bad = check_number(whole, &n) < 0;
                    if (!bad && n >= first) {
                        PyObject *use_args[] = {det, ex, group, location, related, lk, access, whole, args[10]};
                        PyObject *r = PyObject_VectorcallMethod(s_use_m, use_args,
                                                                9 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
                        bad = r == NULL;
                        Py_XDECREF(r);
                    }
                    Py_DECREF(whole);
                    if (bad)
                        goto error;
                }
            }
        }
        else if (container) {
            PyObject *use_args[] = {det, ex, group, location, related, lk, access, check, args[10]};
            PyObject *r = PyObject_VectorcallMethod(s_use_m, use_args, 9 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            if (r == NULL)
                goto error;
            Py_DECREF(r);
        }
        if (apart && scan_rmws(det, ex, group, location, lk, access, t_obj, k, aline, cc, 0) < 0)
            goto error;
        result = Py_None;
        goto done;
    }
    /* a write */
    rmws_site = get_attr(group, s_rmws);
    if (rmws_site == NULL)
        goto error;
    if (apart && scan_rmws(det, ex, group, location, lk, access, t_obj, k, aline, cc, 1) < 0)
        goto error;
    if (apart && container) {
        PyObject *akind = get_attr(access, s_kind);
        if (akind == NULL)
            goto error;
        int removal = str_eq(akind, s_delete);
        Py_DECREF(akind);
        if (removal) {
            PyObject *uses = get_attr(group, s_uses);
            if (uses == NULL)
                goto error;
            Py_ssize_t pos = 0;
            PyObject *u, *ucheck;
            int hit = 0;
            while (hit >= 0 && PyDict_Next(uses, &pos, &u, &ucheck)) {
                Py_INCREF(u);
                Py_INCREF(ucheck);
                PyObject *use = get_attr(ucheck, s_use);
                PyObject *ucheck_access = NULL, *use_line = NULL;
                hit = use == NULL ? -1 : PyObject_RichCompareBool(u, t_obj, Py_NE);
                if (hit > 0)
                    hit = after(use, cc, u);
                if (hit > 0) {
                    ucheck_access = get_attr(ucheck, s_access);
                    hit = ucheck_access == NULL ? -1 : keys_conflict(access, ucheck_access);
                }
                if (hit > 0)
                    hit = keys_conflict(access, use);
                if (hit > 0)
                    hit = not_same_loop(ex, t_obj, u);
                if (hit > 0) {
                    use_line = get_attr(use, s_line);
                    hit = use_line == NULL ? -1 : unreported(det, aline, use_line);
                }
                if (hit > 0)
                    hit = report(det, s_removal_between, ex, location, lk, access, ucheck, use) < 0 ? -1 : 0;
                Py_XDECREF(use);
                Py_XDECREF(ucheck_access);
                Py_XDECREF(use_line);
                Py_DECREF(u);
                Py_DECREF(ucheck);
            }
            Py_DECREF(uses);
            if (hit < 0)
                goto error;
        }
    }
    /* this thread's check that this write may act on: its earliest read of the item or of the whole */
    {
        PyObject *candidates[2] = {NULL, NULL};
        PyObject *c0 = PyDict_GetItemWithError(entries, owner);
        if (c0 == NULL && PyErr_Occurred())
            goto error;
        candidates[0] = c0;
        if (container && !k_whole) {
            PyObject *whole_loc = whole_location(locations, key, whole_hint, &whole_key);
            if (whole_loc == NULL && PyErr_Occurred())
                goto error;
            if (whole_loc != NULL) {
                whole_owner = owner_of(t, t_obj, whole_loc);
                if (whole_owner == NULL)
                    goto error;
                candidates[1] = PyDict_GetItemWithError(entries, whole_owner);
                if (candidates[1] == NULL && PyErr_Occurred())
                    goto error;
            }
        }
        long long best = 0;
        for (int i = 0; i < 2; i++) {
            long long n;
            if (candidates[i] == NULL)
                continue;
            if (check_number(candidates[i], &n) < 0)
                goto error;
            if (n >= first && (check == NULL || n < best)) {
                Py_XSETREF(check, Py_NewRef(candidates[i]));
                best = n;
            }
        }
    }
    if (check == NULL) {
        result = Py_None;
        goto done;
    }
    pre = get_attr(check, s_pre);
    if (pre == NULL)
        goto error;
    act = PyTuple_Pack(2, check, access);
    if (act == NULL || by_site_put(rmws_site, t_obj, act, aline, BY_ACT, OLD_UNKNOWN) < 0)
        goto error;
    if (!apart) {
        result = Py_None;
        goto done;
    }
    if (!PyList_Check(pre)) {
        PyErr_SetString(PyExc_TypeError, "a check's pre must be a list");
        goto error;
    }
    PyObject *check_access = get_attr(check, s_access);
    if (check_access == NULL)
        goto error;
    {
        int failed = 0;
        for (Py_ssize_t i = -1; !failed && i < PyList_GET_SIZE(related); i++) {
            PyObject *loc = i < 0 ? location : PyList_GET_ITEM(related, i);
            Py_INCREF(loc);
            PyObject *writes = get_attr(loc, s_writes);
            PyObject *wl = writes ? get_attr(writes, s_by_line) : NULL;
            Py_XDECREF(writes);
            if (wl == NULL) {
                Py_DECREF(loc);
                failed = 1;
                break;
            }
            Py_ssize_t pos = 0;
            PyObject *line, *ws;
            while (!failed && PyDict_Next(wl, &pos, &line, &ws)) {
                Py_INCREF(line);
                Py_INCREF(ws);
                int go = unreported(det, aline, line);
                Py_ssize_t inner = 0;
                PyObject *u, *other;
                while (go > 0 && PyDict_Next(ws, &inner, &u, &other)) {
                    Py_INCREF(u);
                    Py_INCREF(other);
                    int hit = PyObject_RichCompareBool(u, t_obj, Py_NE);
                    if (hit > 0)
                        hit = after(other, pre, u);
                    if (hit > 0)
                        hit = keys_conflict(other, check_access);
                    if (hit > 0)
                        hit = keys_conflict(other, access);
                    if (hit > 0)
                        hit = not_same_loop(ex, t_obj, u);
                    if (hit > 0) {
                        hit = kept(check_access, access, other);
                        hit = hit < 0 ? -1 : !hit;
                    }
                    if (hit > 0)
                        hit = unreported(det, aline, line);
                    if (hit > 0)
                        hit = report(det, s_overwritten, ex, loc, lk, access, check, other) < 0 ? -1 : 0;
                    Py_DECREF(u);
                    Py_DECREF(other);
                    if (hit < 0)
                        go = -1;
                }
                Py_DECREF(line);
                Py_DECREF(ws);
                if (go < 0)
                    failed = 1;
            }
            Py_DECREF(wl);
            Py_DECREF(loc);
        }
        if (failed) {
            Py_DECREF(check_access);
            goto error;
        }
    }
    /* another thread's check at the same line, which this write may follow */
    {
        PyObject *cline = get_attr(check_access, s_line);
        Py_DECREF(check_access);
        if (cline == NULL)
            goto error;
        int go = unreported(det, aline, cline);
        PyObject *cl = go > 0 ? get_attr(checks, s_by_line) : NULL;
        PyObject *same_line = NULL;
        if (cl != NULL) {
            same_line = PyDict_GetItemWithError(cl, cline);
            if (same_line == NULL && PyErr_Occurred())
                go = -1;
            Py_XINCREF(same_line);
            Py_DECREF(cl);
        }
        else if (go > 0)
            go = -1;
        Py_ssize_t pos = 0;
        PyObject *o, *ucheck;
        while (go > 0 && same_line != NULL && PyDict_Next(same_line, &pos, &o, &ucheck)) {
            Py_INCREF(ucheck);
            PyObject *ua = get_attr(ucheck, s_access);
            PyObject *u = ua ? get_attr(ua, s_tid) : NULL;
            int hit = u == NULL ? -1 : PyObject_RichCompareBool(u, t_obj, Py_NE);
            if (hit > 0)
                hit = keys_conflict(ua, access);
            if (hit > 0)
                hit = after(ua, cc, u);
            if (hit > 0)
                hit = not_same_loop(ex, t_obj, u);
            if (hit > 0)
                hit = unreported(det, aline, cline);
            if (hit > 0)
                hit = report(det, s_same_check, ex, location, lk, access, check, ucheck) < 0 ? -1 : 0;
            Py_XDECREF(ua);
            Py_XDECREF(u);
            Py_DECREF(ucheck);
            if (hit < 0)
                go = -1;
        }
        Py_XDECREF(same_line);
        Py_DECREF(cline);
        if (go < 0)
            goto error;
    }
    result = Py_None;
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(t_obj); Py_XDECREF(groups); Py_XDECREF(group); Py_XDECREF(segs_d); Py_XDECREF(segs);
    Py_XDECREF(stretches); Py_XDECREF(stretch); Py_XDECREF(k); Py_XDECREF(checks); Py_XDECREF(entries);
    Py_XDECREF(owner); Py_XDECREF(aline); Py_XDECREF(check); Py_XDECREF(whole_key); Py_XDECREF(whole_owner);
    Py_XDECREF(pre); Py_XDECREF(act); Py_XDECREF(rmws_site); Py_XDECREF(locations);
    return Py_XNewRef(result);
}

/* atomicity(detector, ex, key, location, related, lk, access, cc, write, back_edges, apart): the body of
 * RaceDetector._atomicity */
static PyObject *
races_atomicity(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "atomicity() takes 11 arguments");
        return NULL;
    }
    if (g_group_cls == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "interlace._races.setup_atomicity() was not called");
        return NULL;
    }
    return atomicity(args, OLD_UNKNOWN);
}

/* setup_atomicity(_Group, _Check, _same_loop) of detect/races.py */
static PyObject *
races_setup_atomicity(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "setup_atomicity() takes 3 arguments");
        return NULL;
    }
    Py_XSETREF(g_group_cls, Py_NewRef(args[0]));
    Py_XSETREF(g_check_cls, Py_NewRef(args[1]));
    Py_XSETREF(g_same_loop_fn, Py_NewRef(args[2]));
    if (prepare_maker(&make_check) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* hash(site) of an access's site, ``(filename, line, column)``: the instrumented code's constant, met
 * again at each access made there; a tuple does not keep its hash (about 150 instructions to make it
 * again), so the hashes of the sites met last are kept here, with their sites (so that an address names
 * no other site; a site of anything but exact strings and ints is not kept) */
#define SITE_SLOTS 512
static struct {
    PyObject *site;
    Py_hash_t hash;
} site_hashes[SITE_SLOTS];

static Py_hash_t
site_hash(PyObject *site)
{
    size_t i = ((uintptr_t)site >> 4) & (SITE_SLOTS - 1);
    if (site_hashes[i].site == site)
        return site_hashes[i].hash;
    Py_hash_t hash = PyObject_Hash(site);
    if (hash == -1 || !PyTuple_CheckExact(site))
        return hash;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(site); k++) {
        PyObject *item = PyTuple_GET_ITEM(site, k);
        if (!PyUnicode_CheckExact(item) && !PyLong_CheckExact(item))
            return hash;
    }
    Py_XSETREF(site_hashes[i].site, Py_NewRef(site));
    site_hashes[i].hash = hash;
    return hash;
}

/* ``known.tp == id(tp)`` of a _Known ``known`` (its type's id: not a new object at a dead one's address):
 * 1, 0, -1 */
static int
known_as(PyObject *known, PyObject *tp)
{
    PyObject *known_tp = get_attr(known, s_tp);
    if (known_tp == NULL)
        return -1;
    int r;
    if (PyLong_CheckExact(known_tp)) {  /* (compared as an address, without making id(tp)) */
        unsigned long long v = PyLong_AsUnsignedLongLong(known_tp);
        r = v == (unsigned long long)(uintptr_t)tp;
        if (v == (unsigned long long)-1 && PyErr_Occurred()) {
            r = PyErr_ExceptionMatches(PyExc_OverflowError) ? 0 : -1;  /* (negative or too large: no id) */
            if (r == 0)
                PyErr_Clear();
        }
    }
    else {
        PyObject *tp_id = PyLong_FromVoidPtr(tp);
        r = tp_id == NULL ? -1 : PyObject_RichCompareBool(known_tp, tp_id, Py_EQ);
        Py_XDECREF(tp_id);
    }
    Py_DECREF(known_tp);
    return r;
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
    if (PyTuple_CheckExact(obj) && PyTuple_GET_SIZE(obj) == 5 && PyUnicode_CheckExact(key))
        Py_RETURN_TRUE;  /* a settled closure variable (rewriter.cell_key): no access to it races */
    PyObject *result = NULL;
    /* every reference below is owned (or NULL) and released at done */
    PyObject *oid = NULL, *tp = NULL, *dict_owners = NULL, *threads = NULL, *lk = NULL,
             *locations = NULL, *location = NULL, *objects = NULL, *known = NULL, *t_obj = NULL, *clocks = NULL, *c = NULL, *cc = NULL, *epoch = NULL,
             *ordinal = NULL, *line = NULL, *last = NULL, *before = NULL, *last_at = NULL, *run = NULL,
             *gil = NULL, *last_gil = NULL, *same = NULL, *access = NULL, *stack = NULL, *name_obj = NULL,
             *what = NULL, *task = NULL, *related = NULL, *group = NULL, *back_edges = NULL, *apart = NULL,
             *reads = NULL, *writes = NULL, *pub = NULL, *next = NULL, *zero = NULL, *whole_key = NULL,
             *fast = NULL;
    PyObject *whole_hint = OLD_UNKNOWN;  /* the whole's location, when looked up for the atomicity checks */
    int atomic = PyObject_IsTrue(atomic_obj);
    CHECK_INT(atomic);

    int any_died = held_true(det, B_DIED);
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
        if (PyUnicode_CheckExact(name)) {
            /* a property's: its getter's, setter's or deleter's own accesses race (_is_property) */
            PyObject *descr = _PyType_Lookup((PyTypeObject *)tp, name);  /* borrowed; sets no error */
            if (descr != NULL && PyObject_TypeCheck(descr, &PyProperty_Type)) {
                result = Py_True;
                goto done_key;
            }
        }
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
        dict_owners = held_dict(det, B_DICT_OWNERS);
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
    int is_controlled = held_true(det, B_CONTROLLED);
    if (is_controlled < 0)
        goto error_key;
    int has_threads = plain_attr(ex, s_threads, &threads);
    if (has_threads == 0)
        PyErr_SetObject(PyExc_AttributeError, s_threads);
    if (has_threads <= 0)
        goto error_key;
    Py_ssize_t units = PyObject_Length(threads);
    if (units < 0)
        goto error_key;
    if (is_controlled && units == 1) {
        /* the only unit so far: only the origin is kept, and it is kept already unless the object is new */
        objects = held_dict(det, B_OBJECTS);
        if (objects == NULL)
            FALLBACK();
        known = PyDict_GetItemWithError(objects, oid);
        if (known == NULL)
            FALLBACK();  /* _know */
        Py_INCREF(known);
        int same_type = known_as(known, tp);
        if (same_type < 0)
            goto error_key;
        if (!same_type)
            FALLBACK();  /* a new object at the address of one that died: _forget, _know */
        result = Py_True;
        goto done_key;
    }
    PyObject *key_type = (PyObject *)Py_TYPE(owned_key);
    int plain = key_type == g_attr || (key_type == (PyObject *)&PyUnicode_Type && g_str_plain)
                || (key_type == (PyObject *)&PyLong_Type && g_int_plain);
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
    locations = held_dict(det, B_LOCATIONS);
    objects = locations ? held_dict(det, B_OBJECTS) : NULL;
    if (objects == NULL)
        FALLBACK();
    location = PyDict_GetItemWithError(locations, lk);
    if (location == NULL) {
        if (PyErr_Occurred())
            FALLBACK();  /* unhashable: Python names the whole */
        /* a new location: made by det._locate (once per location and execution), of an object known
         * with this type or not known at all (else: a new object at the address of one that died) */
        PyObject *seen = PyDict_GetItemWithError(objects, oid);  /* borrowed */
        if (seen == NULL && PyErr_Occurred())
            goto error_key;
        if (seen != NULL) {
            int same_type = known_as(seen, tp);
            if (same_type < 0)
                goto error_key;
            if (!same_type)
                FALLBACK();
        }
        PyObject *locate_args[] = {det, ex, lk, oid, tp, obj, owned_key, name, site, seen ? seen : Py_None};
        location = PyObject_VectorcallMethod(s_locate, locate_args, 10 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        if (location == NULL)
            goto error_key;
    }
    else
        Py_INCREF(location);
    untrack(location);
    known = PyDict_GetItemWithError(objects, oid);
    if (known == NULL)
        FALLBACK();
    Py_INCREF(known);
    untrack(known);
    int same_type = known_as(known, tp);
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
    clocks = held(det, B_CLOCKS);
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
    Py_hash_t site_h = site_hash(site);
    line = site_h == -1 ? NULL : _PyDict_GetItem_KnownHash(g_lines, site, site_h);
    if (line != NULL)
        Py_INCREF(line);
    else {
        if (PyErr_Occurred())
            goto error_key;
        line = PyObject_CallOneArg(g_line, site);
        if (line == NULL)
            goto error_key;
    }
    last = held_dict(det, B_LAST);
    last_at = last ? held_dict(det, B_LAST_AT) : NULL;
    last_gil = last_at ? held_dict(det, B_LAST_GIL) : NULL;
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
                untrack(step);
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
    int with_stacks = held_true(det, B_STACKS);
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
    untrack(access);
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
            whole_hint = whole;  /* (related holds it) */
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
        int found = plain_attr(ex, s_os_threads, &os_threads);
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
        PyObject *r = g_group_cls == NULL ? races_atomicity(module, atomicity_args, 11)
                                          : atomicity(atomicity_args, whole_hint);
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
        if (writes == NULL || by_site_put(writes, t_obj, access, line, BY_ACCESS, OLD_UNKNOWN) < 0)
            goto error_key;
        pub = PyList_GetSlice(cc, 0, PyList_GET_SIZE(cc));
        if (pub == NULL)
            goto error_key;
        untrack(pub);
        if (set_attr(location, s_pub, pub) < 0)
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
        untrack(reads);  /* (an insertion tracks a dict again) */
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
    Py_XDECREF(t_obj); Py_XDECREF(clocks); Py_XDECREF(c);
    Py_XDECREF(cc); Py_XDECREF(epoch); Py_XDECREF(ordinal); Py_XDECREF(line); Py_XDECREF(last);
    Py_XDECREF(before); Py_XDECREF(last_at); Py_XDECREF(run); Py_XDECREF(gil); Py_XDECREF(last_gil);
    Py_XDECREF(same); Py_XDECREF(access); Py_XDECREF(stack); Py_XDECREF(name_obj); Py_XDECREF(what);
    Py_XDECREF(task); Py_XDECREF(related); Py_XDECREF(group); Py_XDECREF(back_edges); Py_XDECREF(apart);
    Py_XDECREF(reads); Py_XDECREF(writes); Py_XDECREF(pub); Py_XDECREF(next); Py_XDECREF(zero);
    Py_XDECREF(whole_key); Py_XDECREF(fast);
    return Py_XNewRef(result);
}

/* ``d[key] = value``, ``hash`` being hash(key) */
static int
set_known_hash(PyObject *d, PyObject *key, PyObject *value, Py_hash_t hash)
{
#if PY_VERSION_HEX < 0x030D0000
    return _PyDict_SetItem_KnownHash(d, key, value, hash);
#else
    (void)hash;
    return PyDict_SetItem(d, key, value);  /* (no public insertion with a known hash) */
#endif
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
    PyObject *clock = make(&make_clock, &copied);
    Py_DECREF(copied);
    if (clock != NULL)
        untrack(clock);  /* (a list of ints: no cycle) */
    return clock;
}

/* VectorClock.join: ``into`` becomes the pointwise maximum of itself and ``other`` */
static int
join_clock(PyObject *into, PyObject *other)
{
    return attrs_pair(into, other, s_c, obtain);
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
    int any_died = held_true(det, B_DIED);
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
    clocks = held(det, B_CLOCKS);
    segs = clocks ? held_dict(det, B_SEGS) : NULL;
    table = segs ? held_dict(det, acquire || release ? B_LOCK_CLOCKS : B_HANDOFF_CLOCKS) : NULL;
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
    Py_hash_t key_hash = PyObject_Hash(table_key);  /* (once: a hand-off's key is a tuple, met twice) */
    PyObject *entry = key_hash == -1 ? NULL : _PyDict_GetItem_KnownHash(table, table_key, key_hash);
    if (entry == NULL && PyErr_Occurred())
        goto error;
    if (acquire || wait) {
        if (entry != NULL && entry != Py_None && join_clock(c, entry) < 0)
            goto error;
    }
    else if (release) {
        watch = held(det, B_WATCH);
        if (watch == NULL)
            goto error;
        if (watch != Py_None && entry == NULL) {
            PyObject *r = PyObject_CallMethodObjArgs(watch, s_add, table_key, NULL);
            if (r == NULL)
                goto error;
            Py_DECREF(r);
        }
        copy = copy_clock(c);
        if (copy == NULL || set_known_hash(table, table_key, copy, key_hash) < 0 || tick_clock(c, t) < 0)
            goto error;
    }
    else {  /* signal */
        if (entry == NULL || entry == Py_None) {
            copy = copy_clock(c);
            if (copy == NULL || set_known_hash(table, table_key, copy, key_hash) < 0)
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

/* PyFrame_GetLineNumber(f) as a new reference, from g_frame_lines when no trace function runs (a
 * tracer may set a frame's line number itself: then, and before 3.11, the frame is asked) */
static PyObject *
frame_line(PyFrameObject *f)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (PyThreadState_Get()->c_tracefunc != NULL)
        return PyLong_FromLong(PyFrame_GetLineNumber(f));
    if (g_frame_lines == NULL && (g_frame_lines = PyDict_New()) == NULL)
        return NULL;
    PyCodeObject *code = PyFrame_GetCode(f);
    PyObject *key = Py_BuildValue("(Ni)", PyLong_FromVoidPtr(code), PyFrame_GetLasti(f));
    if (key == NULL) {
        Py_DECREF(code);
        return NULL;
    }
    PyObject *known = PyDict_GetItemWithError(g_frame_lines, key);  /* borrowed */
    if (known != NULL && PyTuple_GET_ITEM(known, 0) == (PyObject *)code) {
        Py_DECREF(key);
        Py_DECREF(code);
        return Py_NewRef(PyTuple_GET_ITEM(known, 1));
    }
    PyObject *lineno = PyErr_Occurred() ? NULL : PyLong_FromLong(PyFrame_GetLineNumber(f));
    PyObject *entry = lineno == NULL ? NULL : PyTuple_Pack(2, (PyObject *)code, lineno);
    Py_DECREF(code);
    if (entry != NULL && PyDict_GET_SIZE(g_frame_lines) > 200000)
        PyDict_Clear(g_frame_lines);  /* a bound for long-lived processes */
    int r = entry == NULL ? -1 : PyDict_SetItem(g_frame_lines, key, entry);
    Py_DECREF(key);
    Py_XDECREF(entry);
    if (r < 0)
        Py_CLEAR(lineno);
    return lineno;
#else
    return PyLong_FromLong(PyFrame_GetLineNumber(f));
#endif
}

/* the info of ``code`` (a new reference): the registry's, or what ``g_info`` says of code it has not
 * seen; NULL with an error */
static PyObject *
lookup_info(PyCodeObject *code)
{
    PyObject *code_id = PyLong_FromVoidPtr(code);
    if (code_id == NULL)
        return NULL;
    PyObject *info = PyDict_GetItemWithError(g_infos, code_id);
    Py_DECREF(code_id);
    if (info != NULL)
        Py_INCREF(info);
    else if (!PyErr_Occurred())
        info = PyObject_CallOneArg(g_info, (PyObject *)code);
    if (info == NULL)
        return NULL;
    if (!PyTuple_Check(info) || PyTuple_GET_SIZE(info) < 3 || !PyLong_Check(PyTuple_GET_ITEM(info, 0))) {
        Py_DECREF(info);
        PyErr_SetString(PyExc_TypeError, "a code's info must be (kind, filename, name, ...)");
        return NULL;
    }
    return info;
}

/* stacks.capture(depth), from the innermost Python frame (the caller of the C function that calls
 * this, as sys._getframe(1) is capture's caller there): the walk that makes the stack's tuple (see
 * capture_stack for the cache in front of it) */
static PyObject *
capture_walk(Py_ssize_t depth)
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
        PyObject *info = lookup_info(code);
        Py_DECREF(code);
        if (info == NULL)
            goto error;
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(info, 0));
        if (kind == -1 && PyErr_Occurred()) {
            Py_DECREF(info);
            goto error;
        }
        if (kind == F_USER) {
            PyObject *lineno = frame_line(f);
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

#if PY_VERSION_HEX >= 0x030B0000
/* A capture's result is a function of the code objects of the frames it keeps and their instruction
 * offsets (the filename and name are the code's, the line the offset's, when no tracer sets a frame's
 * line): the last stacks captured, by that signature, in a direct-mapped table, so that capturing the
 * stack of an access made where one was captured before walks the frames but neither computes line
 * numbers nor makes and interns a tuple (about 5,000 instructions of the detector's work per access on
 * an asyncio program's hot path). Each slot holds its code objects (so their addresses name no other
 * code) and its stack; a stack is returned only while stacks._stacks still holds it, as the walk would
 * have returned it. */
#define SIG_MAX 12
#define SIG_SLOTS 1024
typedef struct {
    Py_ssize_t n, depth;
    PyObject *code[SIG_MAX];
    int lasti[SIG_MAX];
    PyObject *stack;
    Py_hash_t stack_hash;  /* (a tuple's hash is not cached: this one's is made once, with the slot) */
} SigSlot;
static SigSlot sig_slots[SIG_SLOTS];

/* id(code) -> its info, the last one seen at each slot (a strong reference to both) */
#define INFO_SLOTS 2048
static struct { PyObject *code, *info; } info_slots[INFO_SLOTS];

static void
sig_clear(void)
{
    for (int i = 0; i < SIG_SLOTS; i++) {
        SigSlot *slot = &sig_slots[i];
        for (Py_ssize_t k = 0; k < slot->n; k++)
            Py_CLEAR(slot->code[k]);
        slot->n = 0;
        Py_CLEAR(slot->stack);
    }
    for (int i = 0; i < INFO_SLOTS; i++) {
        Py_CLEAR(info_slots[i].code);
        Py_CLEAR(info_slots[i].info);
    }
}

/* the info of ``code`` (borrowed, valid while the slot keeps it: until the next call), as capture_walk
 * finds it; NULL with an error */
static PyObject *
code_info(PyCodeObject *code)
{
    size_t h = ((uintptr_t)code >> 4) & (INFO_SLOTS - 1);
    if (info_slots[h].code == (PyObject *)code)
        return info_slots[h].info;
    PyObject *info = lookup_info(code);
    if (info == NULL)
        return NULL;
    Py_XSETREF(info_slots[h].code, Py_NewRef((PyObject *)code));
    Py_XSETREF(info_slots[h].info, info);
    return info;
}
#endif

/* capture_walk(depth), from the table of the last stacks captured when it has this one (see SigSlot) */
static PyObject *
capture_stack(Py_ssize_t depth)
{
#if PY_VERSION_HEX >= 0x030B0000
    if (g_infos == NULL || depth > SIG_MAX || depth < 1 || PyThreadState_Get()->c_tracefunc != NULL)
        return capture_walk(depth);
    PyObject *code[SIG_MAX];
    int lasti[SIG_MAX];
    Py_ssize_t n = 0;
    uint64_t hash = (uint64_t)depth * 0x9E3779B97F4A7C15ULL;
    int failed = 0;
    PyFrameObject *f = PyEval_GetFrame();
    Py_XINCREF(f);
    while (f != NULL) {
        PyCodeObject *c = PyFrame_GetCode(f);
        PyObject *info = code_info(c);
        if (info == NULL) {
            Py_DECREF(c);
            failed = 1;
            break;
        }
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(info, 0));
        if (kind == F_USER) {
            code[n] = (PyObject *)c;  /* the reference PyFrame_GetCode gave, released below */
            lasti[n] = PyFrame_GetLasti(f);
            hash = (hash ^ (uintptr_t)c ^ ((uint64_t)(unsigned)lasti[n] * 0x9E3779B97F4A7C15ULL)) * 0x100000001B3ULL;
            n++;
            if (n == depth)
                break;
        }
        else {
            Py_DECREF(c);
            if (kind == F_STOP_HERE || n)
                break;
        }
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    PyObject *result = NULL;
    if (!failed) {
        hash ^= hash >> 33;  /* (the high bits of the products into the slot's) */
        hash *= 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 33;
        SigSlot *slot = &sig_slots[hash & (SIG_SLOTS - 1)];
        int same = slot->stack != NULL && slot->n == n && slot->depth == depth;
        for (Py_ssize_t k = 0; same && k < n; k++)
            same = slot->code[k] == code[k] && slot->lasti[k] == lasti[k];
        if (same) {
            PyObject *kept = _PyDict_GetItem_KnownHash(g_stacks, slot->stack, slot->stack_hash);  /* borrowed */
            if (kept == slot->stack)
                result = Py_NewRef(kept);
            else if (PyErr_Occurred())
                failed = 1;
        }
        if (result == NULL && !failed) {
            result = capture_walk(depth);
            Py_hash_t stack_hash = result == NULL ? -1 : PyObject_Hash(result);
            if (stack_hash == -1)
                Py_CLEAR(result);
            if (result != NULL) {
                slot->stack_hash = stack_hash;
                for (Py_ssize_t k = 0; k < slot->n; k++)
                    Py_CLEAR(slot->code[k]);
                for (Py_ssize_t k = 0; k < n; k++) {
                    slot->code[k] = Py_NewRef(code[k]);
                    slot->lasti[k] = lasti[k];
                }
                slot->n = n;
                slot->depth = depth;
                Py_XSETREF(slot->stack, Py_NewRef(result));
            }
        }
    }
    for (Py_ssize_t k = 0; k < n; k++)
        Py_DECREF(code[k]);
    return result;
#else
    return capture_walk(depth);
#endif
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
#if PY_VERSION_HEX >= 0x030B0000
    sig_clear();  /* (what they hold was found in the tables set before) */
#endif
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
    if (prepare_maker(&make_access) < 0 || prepare_maker(&make_step) < 0 || prepare_maker(&make_clock) < 0)
        return NULL;
    g_str_plain = PyFrozenSet_CheckExact(g_value_keys) && PySet_Contains(g_value_keys, (PyObject *)&PyUnicode_Type) > 0;
    g_int_plain = PyFrozenSet_CheckExact(g_value_keys) && PySet_Contains(g_value_keys, (PyObject *)&PyLong_Type) > 0;
    Py_RETURN_NONE;
}

/* bind(detector): see held() */
static PyObject *
races_bind(PyObject *module, PyObject *det)
{
    if (bind_to(det) < 0)
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
    {"bind", races_bind, METH_O,
     "bind(detector): hold the attributes the detector's __init__ or begin just bound (read once, not at each "
     "access)"},
    {"access", (PyCFunction)(void (*)(void))races_access, METH_FASTCALL,
     "access(detector, ex, ts, kind, obj, key, site, atomic): RaceDetector.access's work; False: not done"},
    {"sync", (PyCFunction)(void (*)(void))races_sync, METH_FASTCALL,
     "sync(detector, ex, kind, ts, obj): RaceDetector.sync's work; False: not done"},
    {"capture", (PyCFunction)(void (*)(void))races_capture, METH_FASTCALL,
     "capture(depth=12): detect.stacks.capture in C (the caller's stack, without interlace's frames)"},
    {"setup_stacks", (PyCFunction)(void (*)(void))races_setup_stacks, METH_FASTCALL,
     "setup_stacks(_infos, _stacks, _info): detect/stacks.py's caches this module's capture() shares"},
    {"atomicity", (PyCFunction)(void (*)(void))races_atomicity, METH_FASTCALL,
     "atomicity(detector, ex, key, location, related, lk, access, cc, write, back_edges, apart): "
     "RaceDetector._atomicity's work"},
    {"setup_atomicity", (PyCFunction)(void (*)(void))races_setup_atomicity, METH_FASTCALL,
     "setup_atomicity(_Group, _Check, _same_loop): the classes and function of detect/races.py atomicity() uses"},
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
        {&s_write, "write"}, {&s_kind, "kind"}, {&s_stale, "_stale"}, {&s_locate, "_locate"}, {&s_tid, "tid"},
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
        {&s_noted, "noted"}, {&s_groups, "groups"}, {&s_stretch, "stretch"}, {&s_checks, "checks"}, {&s_entries, "entries"},
        {&s_by_line, "by_line"}, {&s_rmws, "rmws"}, {&s_uses, "uses"}, {&s_serial, "serial"},
        {&s_access, "access"}, {&s_pre, "pre"}, {&s_use, "use"}, {&s_saw, "saw"}, {&s_key, "key"},
        {&s_violated, "violated"}, {&s_use_m, "_use"}, {&s_read_between, "_read_between"},
        {&s_write_between, "_write_between"}, {&s_removal_between, "_removal_between"},
        {&s_overwritten, "_overwritten"}, {&s_same_check, "_same_check"},
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
    if (PyModule_AddIntConstant(m, "API", 3) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
