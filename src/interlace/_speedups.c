/* interlace._speedups: the native accelerator of the scheduler's hot path.
 *
 * Optional: interlace works without it (runtime/fastpath.py holds the pure-Python reference, and
 * INTERLACE_PURE=1 forces it). Two things live here:
 *
 * - FastPath, a C type with exactly the fields of runtime.fastpath.FastPath (same names, same
 *   meaning), which an Execution uses when this module is available;
 * - C versions of the hottest access hooks of runtime/hooks.py (_il_rg, _il_wg, _il_rc, _il_wc,
 *   _il_ra, _il_wa, _il_rs, _il_ws, _il_loop, and the halves of augmented assignments _il_ra2,
 *   _il_aug_wa, _il_rs2, _il_aug_ws). Each takes the scheduler's fast path entirely in C
 *   when its conditions hold (an active execution with a native FastPath, the calling OS thread holds
 *   the baton, budget left, free-threaded model; no trace, or a kept trace without captured values,
 *   whose event it notes as Execution._traced does), doing exactly the counter updates of
 *   Execution.access / Execution.loop and the same `told` check (the same key tuple in the same
 *   dict), and calls the access observers only for an access not told yet. Otherwise it calls
 *   the pure-Python hook unchanged, so every decision is made by the same Python code;
 * - edge() and handoff(): Execution.synced and handoffs._emit, the detectors' happens-before edges of
 *   an event loop's callbacks and of the hand-offs;
 * - C versions of the call and with-statement hooks (_il_cp, _il_with) that answer from Callees, a
 *   cache of what the classifier (runtime/calls.py) said of a callee or a context manager's type,
 *   and of the hooks that only look at a value's type (_il_iter, _il_in, _il_inplace): a value that is
 *   no mutable builtin container is no access.
 *
 * The module keeps process-wide state (the active execution), like hooks._active, and relies on the
 * GIL: setup.py does not build it for free-threaded interpreters.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>
#include <stddef.h>

#if PY_VERSION_HEX < 0x030A0000
#error "interlace._speedups needs Python 3.10 or later"
#endif

/* ---------------------------------------------------------------------------------------------- */
/* FastPath                                                                                        */

typedef struct {
    PyObject_HEAD
    unsigned long ident;
    int has_ident;
    long long budget;
    long long granted;
    long long step;
    long long progress_at;
    long long loops;
    long long gil_points;
    long long accesses;
    long long back_edges;
    long long handed;  /* see fastpath.FastPath and first_point() */
    PyObject *limit;  /* as given (int or float) */
    double limit_d;   /* the same, for comparisons */
    char decides;
    char free_threaded;
    char trace;
    char observe;
    PyObject *told;
} FastPathObject;

static PyTypeObject FastPathType;

/* What interlace._races reads of a FastPath without calling its getters (Execution.access_number,
 * gil_clock and back_edge_count add a count of the unit holding the baton): the type and the offsets
 * of the counts, in the capsule "interlace._speedups._fast_counts". _races.c declares the same struct:
 * change both (``size`` tells a build of another layout). */
typedef struct {
    Py_ssize_t size;
    PyTypeObject *type;
    Py_ssize_t accesses, gil_points, back_edges;
} FastCounts;

static PyObject *ex_attr(PyObject *ex, PyObject *name);

static FastCounts fast_counts = {
    sizeof(FastCounts), &FastPathType, offsetof(FastPathObject, accesses), offsetof(FastPathObject, gil_points),
    offsetof(FastPathObject, back_edges),
};

static int
set_limit(FastPathObject *self, PyObject *value)
{
    double d = PyFloat_AsDouble(value);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    Py_INCREF(value);
    Py_XSETREF(self->limit, value);
    self->limit_d = d;
    return 0;
}

static int
FastPath_init(FastPathObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"free_threaded", "trace", "observe", "limit", NULL};
    PyObject *ft, *tr, *ob, *limit;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO:FastPath", kwlist, &ft, &tr, &ob, &limit))
        return -1;
    int a = PyObject_IsTrue(ft), b = PyObject_IsTrue(tr), c = PyObject_IsTrue(ob);
    if (a < 0 || b < 0 || c < 0)
        return -1;
    if (set_limit(self, limit) < 0)
        return -1;
    self->has_ident = 0;
    self->ident = 0;
    self->budget = self->granted = self->step = self->progress_at = self->loops = self->gil_points = self->accesses = self->back_edges = 0;
    self->handed = 0;
    self->decides = 0;
    self->free_threaded = (char)a;
    self->trace = (char)b;
    self->observe = (char)c;
    PyObject *told = PyDict_New();
    if (told == NULL)
        return -1;
    Py_XSETREF(self->told, told);
    return 0;
}

static int
FastPath_traverse(FastPathObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->limit);
    Py_VISIT(self->told);
    return 0;
}

static int
FastPath_clear(FastPathObject *self)
{
    Py_CLEAR(self->limit);
    Py_CLEAR(self->told);
    return 0;
}

static void
FastPath_dealloc(FastPathObject *self)
{
    PyObject_GC_UnTrack(self);
    FastPath_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
FastPath_taken(FastPathObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(self->granted - self->budget);
}

static PyObject *
get_ident_field(FastPathObject *self, void *closure)
{
    if (!self->has_ident)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->ident);
}

static int
set_ident_field(FastPathObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "ident cannot be deleted");
        return -1;
    }
    if (value == Py_None) {
        self->has_ident = 0;
        self->ident = 0;
        return 0;
    }
    unsigned long v = PyLong_AsUnsignedLong(value);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    self->ident = v;
    self->has_ident = 1;
    return 0;
}

static PyObject *
get_limit(FastPathObject *self, void *closure)
{
    return Py_NewRef(self->limit);
}

static int
set_limit_field(FastPathObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "limit cannot be deleted");
        return -1;
    }
    return set_limit(self, value);
}

static PyObject *
get_told(FastPathObject *self, void *closure)
{
    return Py_NewRef(self->told);
}

static int
set_told(FastPathObject *self, PyObject *value, void *closure)
{
    if (value == NULL || !PyDict_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "told must be a dict");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->told, value);
    return 0;
}

#define LL_FIELD(name)                                                              \
    static PyObject *get_##name(FastPathObject *self, void *c)                      \
    {                                                                               \
        return PyLong_FromLongLong(self->name);                                     \
    }                                                                               \
    static int set_##name(FastPathObject *self, PyObject *value, void *c)           \
    {                                                                               \
        if (value == NULL) {                                                        \
            PyErr_SetString(PyExc_AttributeError, #name " cannot be deleted");      \
            return -1;                                                              \
        }                                                                           \
        long long v = PyLong_AsLongLong(value);                                     \
        if (v == -1 && PyErr_Occurred())                                            \
            return -1;                                                              \
        self->name = v;                                                             \
        return 0;                                                                   \
    }

#define BOOL_FIELD(name)                                                            \
    static PyObject *get_##name(FastPathObject *self, void *c)                      \
    {                                                                               \
        return PyBool_FromLong(self->name);                                         \
    }                                                                               \
    static int set_##name(FastPathObject *self, PyObject *value, void *c)           \
    {                                                                               \
        if (value == NULL) {                                                        \
            PyErr_SetString(PyExc_AttributeError, #name " cannot be deleted");      \
            return -1;                                                              \
        }                                                                           \
        int v = PyObject_IsTrue(value);                                             \
        if (v < 0)                                                                  \
            return -1;                                                              \
        self->name = (char)v;                                                       \
        return 0;                                                                   \
    }

LL_FIELD(budget)
LL_FIELD(granted)
LL_FIELD(step)
LL_FIELD(progress_at)
LL_FIELD(loops)
LL_FIELD(gil_points)
LL_FIELD(accesses)
LL_FIELD(back_edges)
LL_FIELD(handed)
BOOL_FIELD(decides)
BOOL_FIELD(free_threaded)
BOOL_FIELD(trace)
BOOL_FIELD(observe)

#define GETSET(name) {#name, (getter)get_##name, (setter)set_##name, NULL, NULL}

static PyGetSetDef FastPath_getset[] = {
    {"ident", (getter)get_ident_field, (setter)set_ident_field, "OS thread ident of the baton holder, or None", NULL},
    GETSET(budget),
    GETSET(granted),
    GETSET(decides),
    GETSET(step),
    GETSET(progress_at),
    GETSET(loops),
    GETSET(gil_points),
    GETSET(accesses),
    GETSET(back_edges),
    GETSET(handed),
    {"limit", (getter)get_limit, (setter)set_limit_field, "the step bound (inf: none)", NULL},
    GETSET(free_threaded),
    GETSET(trace),
    GETSET(observe),
    {"told", (getter)get_told, (setter)set_told, "accesses told since the last switch or synchronisation", NULL},
    {NULL}
};

static PyMethodDef FastPath_methods[] = {
    {"taken", (PyCFunction)FastPath_taken, METH_NOARGS, "Points taken by the fast path since the budget was granted."},
    {NULL}
};

static PyTypeObject FastPathType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "interlace._speedups.FastPath",
    .tp_basicsize = sizeof(FastPathObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The scheduler's fast-path state (see interlace.runtime.fastpath.FastPath), in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FastPath_init,
    .tp_dealloc = (destructor)FastPath_dealloc,
    .tp_traverse = (traverseproc)FastPath_traverse,
    .tp_clear = (inquiry)FastPath_clear,
    .tp_getset = FastPath_getset,
    .tp_methods = FastPath_methods,
};

/* ---------------------------------------------------------------------------------------------- */
/* Told: detector-only mode's filter (see interlace.drivers.detect_only.Told, the reference)              */

typedef struct {
    PyObject_HEAD
    unsigned long ident;
    int has_ident;
    PyObject *ts;    /* the ThreadState whose accesses were told last, or None */
    PyObject *told;  /* (id(obj), key, kind, site) -> weakref to obj, or obj */
} ToldObject;

static int
Told_init(ToldObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, ":Told", kwlist))
        return -1;
    PyObject *told = PyDict_New();
    if (told == NULL)
        return -1;
    self->has_ident = 0;
    Py_XSETREF(self->told, told);
    Py_INCREF(Py_None);
    Py_XSETREF(self->ts, Py_None);
    return 0;
}

static int
Told_traverse(ToldObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->ts);
    Py_VISIT(self->told);
    return 0;
}

static int
Told_clear(ToldObject *self)
{
    Py_CLEAR(self->ts);
    Py_CLEAR(self->told);
    return 0;
}

static void
Told_dealloc(ToldObject *self)
{
    PyObject_GC_UnTrack(self);
    Told_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Told_get_ident(ToldObject *self, void *closure)
{
    if (!self->has_ident)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(self->ident);
}

static int
Told_set_ident(ToldObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "ident cannot be deleted");
        return -1;
    }
    if (value == Py_None) {
        self->has_ident = 0;
        self->ident = 0;
        return 0;
    }
    unsigned long v = PyLong_AsUnsignedLong(value);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    self->ident = v;
    self->has_ident = 1;
    return 0;
}

static PyObject *
Told_get_ts(ToldObject *self, void *closure)
{
    return Py_NewRef(self->ts ? self->ts : Py_None);
}

static int
Told_set_ts(ToldObject *self, PyObject *value, void *closure)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "ts cannot be deleted");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->ts, value);
    return 0;
}

static PyObject *
Told_get_told(ToldObject *self, void *closure)
{
    return Py_NewRef(self->told);
}

static int
Told_set_told(ToldObject *self, PyObject *value, void *closure)
{
    if (value == NULL || !PyDict_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "told must be a dict");
        return -1;
    }
    Py_INCREF(value);
    Py_XSETREF(self->told, value);
    return 0;
}

static PyGetSetDef Told_getset[] = {
    {"ident", (getter)Told_get_ident, (setter)Told_set_ident, "OS thread ident of ts, or None", NULL},
    {"ts", (getter)Told_get_ts, (setter)Told_set_ts, "the thread whose accesses were told last", NULL},
    {"told", (getter)Told_get_told, (setter)Told_set_told, "the accesses it told since then", NULL},
    {NULL}
};

static PyTypeObject ToldType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "interlace._speedups.Told",
    .tp_basicsize = sizeof(ToldObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Detector-only mode's filter of repeated accesses (see interlace.drivers.detect_only.Told), in C.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Told_init,
    .tp_dealloc = (destructor)Told_dealloc,
    .tp_traverse = (traverseproc)Told_traverse,
    .tp_clear = (inquiry)Told_clear,
    .tp_getset = Told_getset,
};

/* ---------------------------------------------------------------------------------------------- */
/* Callees: what every call of a callee means, as runtime/calls.py's CallClassifier.verdict said      */

/* A callee is named by a pair of addresses: a Python function or bound method by its code object
 * (the classifier's own cache is keyed by code), a builtin method bound to an instance by its C
 * method definition and the instance's type (all it is classified by), a module's builtin function
 * or a class by itself; a context manager by its type and the address of MANAGER. Every address
 * that is an object is held (strong reference), so that it names nothing else while it is cached:
 * code objects, classes and builtins only, which the classifier's caches hold as well, never a
 * program's data object. */
enum { V_ASK = 0, V_NOTHING = 1, V_CALL = 2, V_ACCESS = 3 };
static char manager_marker;
#define MANAGER ((void *)&manager_marker)
#define CALLEES_MAX 65536  /* entries; the table is emptied when it would grow past it */

typedef struct {
    void *k1, *k2;       /* the key (k1 NULL: a free slot) */
    PyObject *hold;      /* strong references that keep the key's addresses valid */
    PyObject *hold2;
    PyObject *what;      /* the name of a V_CALL callee (pending_what of its point), a V_ACCESS one's kind */
    int verdict;
} CalleeEntry;

typedef struct {
    PyObject_HEAD
    CalleeEntry *table;
    Py_ssize_t cap;      /* a power of two, or 0 */
    Py_ssize_t used;
    PyObject *verdict;   /* classifier.verdict(fn) -> (verdict, what) */
    PyObject *kept;      /* classifier.manager_kept(type) -> bool */
    void **substituted;  /* addresses of the originals the classifier substitutes: never cached */
    Py_ssize_t nsub;
} CalleesObject;

static PyTypeObject CalleesType;

static void
callees_empty(CalleesObject *self)
{
    CalleeEntry *table = self->table;
    Py_ssize_t cap = self->cap;
    self->table = NULL;
    self->cap = self->used = 0;
    for (Py_ssize_t i = 0; i < cap; i++) {
        Py_XDECREF(table[i].hold);
        Py_XDECREF(table[i].hold2);
        Py_XDECREF(table[i].what);
    }
    PyMem_Free(table);
}

static int
Callees_init(CalleesObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"verdict", "kept", "substituted", NULL};
    PyObject *verdict, *kept, *substituted;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!:Callees", kwlist, &verdict, &kept, &PyTuple_Type,
                                     &substituted))
        return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(substituted);
    void **subs = PyMem_Calloc(n ? n : 1, sizeof(void *));
    if (subs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        subs[i] = PyLong_AsVoidPtr(PyTuple_GET_ITEM(substituted, i));
        if (subs[i] == NULL && PyErr_Occurred()) {
            PyMem_Free(subs);
            return -1;
        }
    }
    callees_empty(self);
    PyMem_Free(self->substituted);
    self->substituted = subs;
    self->nsub = n;
    Py_INCREF(verdict);
    Py_XSETREF(self->verdict, verdict);
    Py_INCREF(kept);
    Py_XSETREF(self->kept, kept);
    return 0;
}

static int
Callees_traverse(CalleesObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->verdict);
    Py_VISIT(self->kept);
    return 0;
}

static int
Callees_clear(CalleesObject *self)
{
    Py_CLEAR(self->verdict);
    Py_CLEAR(self->kept);
    return 0;
}

static void
Callees_dealloc(CalleesObject *self)
{
    PyObject_GC_UnTrack(self);
    Callees_clear(self);
    callees_empty(self);
    PyMem_Free(self->substituted);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline size_t
callee_hash(void *k1, void *k2)
{
    size_t h = (size_t)k1 >> 4;
    h ^= ((size_t)k2 >> 4) * (size_t)0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 17);
}

static CalleeEntry *
callee_find(CalleesObject *c, void *k1, void *k2)
{
    if (c->cap == 0)
        return NULL;
    size_t mask = (size_t)c->cap - 1;
    for (size_t i = callee_hash(k1, k2) & mask;; i = (i + 1) & mask) {
        CalleeEntry *e = &c->table[i];
        if (e->k1 == NULL)
            return NULL;
        if (e->k1 == k1 && e->k2 == k2)
            return e;
    }
}

/* Add an entry (the key is not in the table); steals nothing: takes new references to hold, hold2, what. */
static int
callee_put(CalleesObject *c, void *k1, void *k2, PyObject *hold, PyObject *hold2, int verdict, PyObject *what)
{
    if (c->used + 1 > CALLEES_MAX)
        callees_empty(c);
    if ((c->used + 1) * 2 > c->cap) {
        Py_ssize_t cap = c->cap ? c->cap * 2 : 64;
        CalleeEntry *table = PyMem_Calloc((size_t)cap, sizeof(CalleeEntry));
        if (table == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        size_t mask = (size_t)cap - 1;
        for (Py_ssize_t j = 0; j < c->cap; j++) {
            CalleeEntry *old = &c->table[j];
            if (old->k1 == NULL)
                continue;
            size_t i = callee_hash(old->k1, old->k2) & mask;
            while (table[i].k1 != NULL)
                i = (i + 1) & mask;
            table[i] = *old;
        }
        PyMem_Free(c->table);
        c->table = table;
        c->cap = cap;
    }
    size_t mask = (size_t)c->cap - 1;
    size_t i = callee_hash(k1, k2) & mask;
    while (c->table[i].k1 != NULL)
        i = (i + 1) & mask;
    CalleeEntry *e = &c->table[i];
    e->k1 = k1;
    e->k2 = k2;
    e->hold = Py_XNewRef(hold);
    e->hold2 = Py_XNewRef(hold2);
    e->what = Py_XNewRef(what);
    e->verdict = verdict;
    c->used++;
    return 0;
}

/* The key of a callee, or 0 when calls of it are classified anew every time (a callable object, a
 * partial, a method-wrapper, a builtin method of the METH_METHOD kind, ...). */
static int
callee_key(PyObject *fn, void **k1, void **k2, PyObject **hold, PyObject **hold2)
{
    *k2 = NULL;
    *hold2 = NULL;
    PyTypeObject *t = Py_TYPE(fn);
    if (t == &PyMethod_Type) {
        fn = PyMethod_GET_FUNCTION(fn);
        t = Py_TYPE(fn);
        if (t != &PyFunction_Type)
            return 0;
    }
    if (t == &PyFunction_Type) {
        *k1 = *hold = PyFunction_GET_CODE(fn);
        return 1;
    }
    if (t == &PyCFunction_Type) {
        PyObject *self = PyCFunction_GET_SELF(fn);
        if (self == NULL || PyModule_Check(self)) {
            *k1 = *hold = fn;
            return 1;
        }
        /* a builtin method of an instance is classified by its method and the instance's type only */
        *k1 = (void *)((PyCFunctionObject *)fn)->m_ml;
        *k2 = *hold2 = (PyObject *)Py_TYPE(self);
        *hold = NULL;
        return 1;
    }
    if (PyType_Check(fn)) {
        *k1 = *hold = fn;
        return 1;
    }
    return 0;
}

static int
substituted(CalleesObject *c, PyObject *fn)
{
    for (Py_ssize_t i = 0; i < c->nsub; i++)
        if (c->substituted[i] == (void *)fn)
            return 1;
    return 0;
}

/* Ask the classifier what calls of ``fn`` are and remember it (after a call of it took the Python hook). */
static int
callee_learn(CalleesObject *c, PyObject *fn)
{
    void *k1, *k2;
    PyObject *hold, *hold2;
    if (substituted(c, fn) || !callee_key(fn, &k1, &k2, &hold, &hold2) || callee_find(c, k1, k2) != NULL)
        return 0;
    PyObject *r = PyObject_CallOneArg(c->verdict, fn);
    if (r == NULL) {
        /* the call itself was classified and made: a verdict that fails only means "ask every time"
         * (never the program's error); Ctrl-C and the like go on */
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();
        return callee_find(c, k1, k2) != NULL ? 0 : callee_put(c, k1, k2, hold, hold2, V_ASK, NULL);
    }
    int verdict;
    PyObject *what;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2 || !PyLong_Check(PyTuple_GET_ITEM(r, 0))) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_TypeError, "verdict() must return (int, what)");
        return -1;
    }
    verdict = (int)PyLong_AsLong(PyTuple_GET_ITEM(r, 0));
    what = PyTuple_GET_ITEM(r, 1);
    /* the key again: classifying may have instrumented the function (a new code object) */
    if (!callee_key(fn, &k1, &k2, &hold, &hold2) || callee_find(c, k1, k2) != NULL) {
        Py_DECREF(r);
        return 0;
    }
    int rc = callee_put(c, k1, k2, hold, hold2, verdict, what);
    Py_DECREF(r);
    return rc;
}

/* Ask the classifier whether a context manager of this type is ever substituted, and remember it. */
static int
manager_learn(CalleesObject *c, PyTypeObject *t)
{
    if (callee_find(c, (void *)t, MANAGER) != NULL)
        return 0;
    PyObject *r = PyObject_CallOneArg(c->kept, (PyObject *)t);
    int kept = r == NULL ? -1 : PyObject_IsTrue(r);
    Py_XDECREF(r);
    if (kept < 0) {
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return -1;
        PyErr_Clear();  /* as in callee_learn */
        kept = 0;
    }
    if (callee_find(c, (void *)t, MANAGER) != NULL)
        return 0;
    return callee_put(c, (void *)t, MANAGER, (PyObject *)t, NULL, kept ? V_NOTHING : V_ASK, NULL);
}

static PyObject *
Callees_clear_method(CalleesObject *self, PyObject *Py_UNUSED(ignored))
{
    callees_empty(self);
    Py_RETURN_NONE;
}

static PyObject *
Callees_lookup(CalleesObject *self, PyObject *fn)
{
    void *k1, *k2;
    PyObject *hold, *hold2;
    if (!callee_key(fn, &k1, &k2, &hold, &hold2))
        Py_RETURN_NONE;
    CalleeEntry *e = callee_find(self, k1, k2);
    if (e == NULL)
        Py_RETURN_NONE;
    return PyLong_FromLong(e->verdict);
}

static Py_ssize_t
Callees_len(CalleesObject *self)
{
    return self->used;
}

static PyMethodDef Callees_methods[] = {
    {"clear", (PyCFunction)Callees_clear_method, METH_NOARGS, "Forget every verdict."},
    {"lookup", (PyCFunction)Callees_lookup, METH_O, "The verdict remembered for calls of fn, or None (for tests)."},
    {NULL}
};

static PySequenceMethods Callees_as_sequence = {
    .sq_length = (lenfunc)Callees_len,
};

static PyTypeObject CalleesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "interlace._speedups.Callees",
    .tp_basicsize = sizeof(CalleesObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Callees(verdict, kept, substituted): what the C call and with hooks remember of the classifier's answers.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Callees_init,
    .tp_dealloc = (destructor)Callees_dealloc,
    .tp_traverse = (traverseproc)Callees_traverse,
    .tp_clear = (inquiry)Callees_clear,
    .tp_methods = Callees_methods,
    .tp_as_sequence = &Callees_as_sequence,
};

/* ---------------------------------------------------------------------------------------------- */
/* the active execution and the pure-Python hooks                                                  */

static PyObject *active_ex = NULL;            /* hooks._active, or NULL */
static FastPathObject *active_fast = NULL;    /* its native FastPath, or NULL (the slow path always) */
static long long loop_every = 1024;           /* execution.LOOP_POINT_EVERY */
static ToldObject *active_told = NULL;        /* detector-only mode: its filter, or NULL */
static CalleesObject *active_callees = NULL;  /* its classifier's Callees, or NULL */
static long long fast_hits = 0;               /* hooks that took the fast path in C (for tests) */

enum { H_RG, H_WG, H_RC, H_WC, H_RA, H_WA, H_RS, H_WS, H_LOOP, H_CP, H_WITH, H_ITER, H_IN, H_INPLACE, H_RA2,
       H_AUG_WA, H_RS2, H_AUG_WS, H_COUNT };
static const char *hook_names[H_COUNT] = {
    "_il_rg", "_il_wg", "_il_rc", "_il_wc", "_il_ra", "_il_wa", "_il_rs", "_il_ws", "_il_loop",
    "_il_cp", "_il_with", "_il_iter", "_il_in", "_il_inplace", "_il_ra2", "_il_aug_wa", "_il_rs2", "_il_aug_ws",
};
static PyObject *pure[H_COUNT];  /* the pure-Python hooks, called on every slow path */

static PyObject *s_read, *s_write;  /* hooks.READ / hooks.WRITE (the very objects) */
static PyObject *s_tell, *s_current, *s_site, *s_gil_points, *s_back_edges, *s_accesses, *one;
static PyObject *s_run_length;
static long long handed_cap = 4096;  /* execution.BUDGET_CAP (the module's BUDGET_CAP: a test compares) */
static PyObject *s_pending, *s_pending_what, *s_call, *s_access, *s_access_observers, *s_star, *s_call_method;
/* what _il_cp always leaves to the Python hook (builtins.exec/eval/compile), and collections.deque */
static PyObject *b_exec, *b_eval, *b_compile, *deque_type;

static inline PyObject *
one_obj(void)
{
    return one;
}

static void trace_cache(PyObject *ex);

/* activate(ex, fast, told, callees, loop_every): what hooks.set_active tells the C hooks. */
static PyObject *
sp_activate(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "activate(execution, fast, told, callees, loop_every)");
        return NULL;
    }
    PyObject *ex = args[0], *fast = args[1], *told = args[2], *callees = args[3];
    long long every = PyLong_AsLongLong(args[4]);
    if (every == -1 && PyErr_Occurred())
        return NULL;
    if (fast != Py_None && !PyObject_TypeCheck(fast, &FastPathType)) {
        PyErr_SetString(PyExc_TypeError, "fast must be a native FastPath or None");
        return NULL;
    }
    if (told != Py_None && !PyObject_TypeCheck(told, &ToldType)) {
        PyErr_SetString(PyExc_TypeError, "told must be a native Told or None");
        return NULL;
    }
    if (callees != Py_None && !PyObject_TypeCheck(callees, &CalleesType)) {
        PyErr_SetString(PyExc_TypeError, "callees must be a native Callees or None");
        return NULL;
    }
    PyObject *old_ex = active_ex;
    FastPathObject *old_fast = active_fast;
    ToldObject *old_told = active_told;
    CalleesObject *old_callees = active_callees;
    active_ex = ex == Py_None ? NULL : Py_NewRef(ex);
    active_fast = (ex == Py_None || fast == Py_None) ? NULL : (FastPathObject *)Py_NewRef(fast);
    active_told = (ex == Py_None || told == Py_None) ? NULL : (ToldObject *)Py_NewRef(told);
    /* the call and with hooks answer from the cache only on an execution's fast path */
    active_callees = (active_fast == NULL || callees == Py_None) ? NULL : (CalleesObject *)Py_NewRef(callees);
    loop_every = every;
    trace_cache(active_ex);
    Py_XDECREF(old_ex);
    Py_XDECREF(old_fast);
    Py_XDECREF(old_told);
    Py_XDECREF(old_callees);
    Py_RETURN_NONE;
}

/* bind(hooks_dict, read, write): the pure-Python hooks and kind strings, once at import. */
static PyObject *
sp_bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "bind(hooks, READ, WRITE)");
        return NULL;
    }
    for (int i = 0; i < H_COUNT; i++) {
        PyObject *fn = PyDict_GetItemString(args[0], hook_names[i]);
        if (fn == NULL) {
            PyErr_Format(PyExc_KeyError, "no hook %s", hook_names[i]);
            return NULL;
        }
        Py_INCREF(fn);
        Py_XSETREF(pure[i], fn);
    }
    Py_INCREF(args[1]);
    Py_XSETREF(s_read, args[1]);
    Py_INCREF(args[2]);
    Py_XSETREF(s_write, args[2]);
    PyObject *builtins = PyImport_ImportModule("builtins");
    PyObject *collections = builtins == NULL ? NULL : PyImport_ImportModule("collections");
    if (collections == NULL) {
        Py_XDECREF(builtins);
        return NULL;
    }
    Py_XSETREF(b_exec, PyObject_GetAttrString(builtins, "exec"));
    Py_XSETREF(b_eval, PyObject_GetAttrString(builtins, "eval"));
    Py_XSETREF(b_compile, PyObject_GetAttrString(builtins, "compile"));
    Py_XSETREF(deque_type, PyObject_GetAttrString(collections, "deque"));
    Py_DECREF(builtins);
    Py_DECREF(collections);
    if (b_exec == NULL || b_eval == NULL || b_compile == NULL || deque_type == NULL)
        return NULL;
    if (!PyType_Check(deque_type)) {
        PyErr_SetString(PyExc_TypeError, "collections.deque is not a type");
        return NULL;
    }
    Py_RETURN_NONE;
}

static inline PyObject *
slow(int hook, PyObject *const *args, Py_ssize_t nargs)
{
    return PyObject_Vectorcall(pure[hook], args, nargs, NULL);
}

/* The trace (Execution.note, point): state.Event and state.short_repr, bound by bind_trace(). */
static PyObject *t_event = NULL, *t_short_repr = NULL;
static PyObject *s_access_calls, *s_sync_calls;
static PyObject *s_fast, *s_observers, *s_sync, *s_me, *s_edge, *s_synced, *s_append;
static PyObject *s_trace, *s_trace_limit, *s_stop_tracing, *s_capture_values, *s_tid, *s_describe, *s_builtins,
    *s_dunder_name;

/* What the trace's notes read of the active execution, once at its activation (Execution.run, after the
 * session set them; cleared when it ends): its trace (a list or a TraceTail), its trace limit, and whether
 * it captures the values read (``is False``, as trace_plain tests it). They were three attribute look-ups
 * at each event of a kept trace (DPOR's executions keep one). Not cached when one is missing. */
static PyObject *act_trace = NULL, *act_limit = NULL;
static int act_cached = 0, act_plain = 0;

static void
trace_cache(PyObject *ex)
{
    act_cached = 0;
    Py_CLEAR(act_trace);
    Py_CLEAR(act_limit);
    if (ex == NULL)
        return;
    PyObject *trace = PyObject_GetAttr(ex, s_trace);
    PyObject *limit = trace == NULL ? NULL : PyObject_GetAttr(ex, s_trace_limit);
    PyObject *capture = limit == NULL ? NULL : PyObject_GetAttr(ex, s_capture_values);
    if (capture == NULL) {
        PyErr_Clear();
        Py_XDECREF(trace);
        Py_XDECREF(limit);
        return;
    }
    act_trace = trace;
    act_limit = limit;
    act_plain = capture == Py_False;
    Py_DECREF(capture);
    act_cached = 1;
}

/* With the trace kept, the fast path notes an access's event itself (as Execution._traced does), unless
 * the execution captures the values read: the Python hooks then report each value (ex.observe). */
static int
trace_plain(void)
{
    if (t_event == NULL)
        return 0;
    if (act_cached)
        return act_plain;
    PyObject *capture = PyObject_GetAttr(active_ex, s_capture_values);
    if (capture == NULL) {
        PyErr_Clear();
        return 0;
    }
    int plain = capture == Py_False;
    Py_DECREF(capture);
    return plain;
}

/* The fast path's conditions (Execution.access): the baton holder, budget left, free-threaded; and
 * no trace, or one the C path can note (trace_plain). */
static inline int
fast_ok(void)
{
    FastPathObject *f = active_fast;
    return f != NULL && f->budget > 0 && f->has_ident && f->free_threaded
           && f->ident == PyThread_get_thread_ident() && (!f->trace || trace_plain());
}

/* Execution.describe(obj, key), in C for the keys whose comparisons and formatting run no program code
 * (exact str and int keys, the plain values); any other case is the Python method's. A new reference. */
static int plain_key(PyObject *key);

/* The descriptions made last, by (type, key) for the exact str and int keys: past its first cases (a
 * global, a closure cell), describe's text depends on these only, and formatting it was most of the cost
 * of noting an access in a kept trace (DPOR's executions keep one). A type is named by address and
 * version tag (no reference to it: a tag is never reused, and renaming a type changes it); a key is held
 * as the told dict holds it (a plain value). */
#define DESCRIBED 512
static struct { PyTypeObject *type; unsigned int version; PyObject *key, *what; } described[DESCRIBED];

/* (a type whose metaclass is not type's may name it otherwise at each look-up: not cached) */
static inline int
described_keyed(PyTypeObject *t, PyObject *key)
{
    return (PyUnicode_CheckExact(key) || PyLong_CheckExact(key)) && Py_IS_TYPE(t, &PyType_Type)
           && (t->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG);
}

static Py_ssize_t
described_slot(PyTypeObject *t, PyObject *key)
{
    Py_hash_t h = PyObject_Hash(key);  /* (str and int: no program code) */
    if (h == -1)
        return -1;
    return (Py_ssize_t)((((size_t)(uintptr_t)t >> 4) * 31 + (size_t)h) & (DESCRIBED - 1));
}

/* the cached description (a new reference), or NULL (with an error set if one occurred) */
static PyObject *
described_get(PyTypeObject *t, PyObject *key)
{
    if (!described_keyed(t, key))
        return NULL;
    Py_ssize_t i = described_slot(t, key);
    if (i < 0)
        return NULL;
    PyObject *cached = described[i].key;
    if (described[i].type != t || described[i].version != t->tp_version_tag || cached == NULL
        || Py_TYPE(cached) != Py_TYPE(key))
        return NULL;
    int same = PyObject_RichCompareBool(cached, key, Py_EQ);
    if (same <= 0)
        return NULL;
    return Py_NewRef(described[i].what);
}

static void
described_put(PyTypeObject *t, PyObject *key, PyObject *what)
{
    if (!described_keyed(t, key))
        return;
    Py_ssize_t i = described_slot(t, key);
    if (i < 0) {
        PyErr_Clear();
        return;
    }
    described[i].type = t;
    described[i].version = t->tp_version_tag;
    Py_XSETREF(described[i].key, Py_NewRef(key));
    Py_XSETREF(described[i].what, Py_NewRef(what));
}

static PyObject *
describe(PyObject *obj, PyObject *key)
{
    PyTypeObject *tk = Py_TYPE(key);
    if (PyDict_CheckExact(obj)) {
        int global = PyDict_Contains(obj, s_builtins);
        if (global < 0)
            return NULL;
        if (global) {  /* a module global: str(key) */
            if (tk == &PyUnicode_Type)
                return Py_NewRef(key);
            goto python;
        }
    }
    else if (PyDict_Check(obj))
        goto python;  /* a dict subclass: its __contains__ may be the program's */
    if (PyTuple_CheckExact(obj) && tk == &PyUnicode_Type && (PyTuple_GET_SIZE(obj) == 4 || PyTuple_GET_SIZE(obj) == 5)) {
        PyObject *name = PyTuple_GET_ITEM(obj, 3);
        if (!PyUnicode_CheckExact(name))
            goto python;
        if (PyUnicode_Compare(name, key) == 0 && PyUnicode_CheckExact(PyTuple_GET_ITEM(obj, 0)))
            return Py_NewRef(key);  /* a closure cell (describe.is_cell_key) */
    }
    if (!plain_key(key))
        goto python;  /* key == "*" and the formatting could run the program's code */
    PyTypeObject *t = Py_TYPE(obj);
    PyObject *what = described_get(t, key);
    if (what != NULL || PyErr_Occurred())
        return what;
    /* type(obj).__name__: a heap type's own name unless its metaclass is not type's (it may say another) */
    PyObject *name;
    if (Py_IS_TYPE(t, &PyType_Type) && (t->tp_flags & Py_TPFLAGS_HEAPTYPE))
        name = Py_NewRef(((PyHeapTypeObject *)t)->ht_name);
    else if (Py_IS_TYPE(t, &PyType_Type)) {
        const char *dot = strrchr(t->tp_name, '.');
        name = PyUnicode_FromString(dot != NULL ? dot + 1 : t->tp_name);
    }
    else
        name = PyObject_GetAttr((PyObject *)t, s_dunder_name);
    if (name == NULL)
        return NULL;
    if (!PyUnicode_CheckExact(name)) {
        Py_DECREF(name);
        goto python;
    }
    if (tk == &PyUnicode_Type) {
        if (PyUnicode_Compare(key, s_star) == 0)
            return name;  /* the whole container */
        if (!PyDict_Check(obj) && !PyList_Check(obj))
            what = PyUnicode_FromFormat("%U.%U", name, key);
        else
            what = PyUnicode_FromFormat("%U[%R]", name, key);
    }
    else if (tk == &PyLong_Type || tk == &PyBool_Type)
        what = PyUnicode_FromFormat("%U[%R]", name, key);
    else
        what = PyUnicode_FromFormat("%U[...]", name);
    Py_DECREF(name);
    if (what != NULL)
        described_put(t, key, what);
    return what;
python:
    return PyObject_CallMethodObjArgs(active_ex, s_describe, obj, key, NULL);
}

/* Whether ``o`` can hold no reference to a tracked object: not a GC object, or a tuple of such (a site:
 * (file, line, column)). The same test the collector makes before it untracks a plain tuple. */
static int
atomic_field(PyObject *o)
{
    if (!PyObject_IS_GC(o))
        return 1;
    if (!PyTuple_CheckExact(o))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++) {
        if (PyObject_IS_GC(PyTuple_GET_ITEM(o, i)))
            return 0;
    }
    return 1;
}

/* Execution.note / point's trace: Event(len(trace) + 1, me.tid, kind, what, site, value) appended to
 * ex.trace (``what`` as str); at ex.trace_limit events, ex.stop_tracing(). */
static int
append_event(PyObject *me, PyObject *kind, PyObject *what, PyObject *site, PyObject *value)
{
    PyObject *ex = Py_NewRef(active_ex);
    PyObject *trace = act_cached ? Py_NewRef(act_trace) : PyObject_GetAttr(ex, s_trace);
    PyObject *tid = trace == NULL ? NULL : PyObject_GetAttr(me, s_tid);
    PyObject *text = tid == NULL ? NULL : PyUnicode_Check(what) ? Py_NewRef(what) : PyObject_Str(what);
    PyObject *fields = NULL, *args = NULL, *event = NULL;
    int rc = -1;
    if (text == NULL)
        goto done;
    /* a list, or a report's TraceTail (runtime/tracetail.py): its len() and append() */
    Py_ssize_t length = PyList_CheckExact(trace) ? PyList_GET_SIZE(trace) : PyObject_Size(trace);
    if (length < 0)
        goto done;
    PyObject *index = PyLong_FromSsize_t(length + 1);
    if (index == NULL)
        goto done;
#if PY_VERSION_HEX < 0x030E0000
    /* tuple.__new__(Event, fields), which allocates the subclass's tuple and fills it, as done here
     * (3.14 tuples cache their hash: there, tuple.__new__ itself) */
    (void)fields;
    (void)args;
    event = ((PyTypeObject *)t_event)->tp_alloc((PyTypeObject *)t_event, 6);
    if (event == NULL) {
        Py_DECREF(index);
        goto done;
    }
    PyObject *items[6] = {index, tid, kind, text, site, value};
    for (int i = 0; i < 6; i++)
        PyTuple_SET_ITEM(event, i, Py_NewRef(items[i]));
    Py_DECREF(index);
#else
    fields = PyTuple_Pack(6, index, tid, kind, text, site, value);
    Py_DECREF(index);
    args = fields == NULL ? NULL : PyTuple_Pack(1, fields);
    /* tuple.__new__(Event, fields): what the named tuple's __new__ does, without its Python frame */
    event = args == NULL ? NULL : PyTuple_Type.tp_new((PyTypeObject *)t_event, args, NULL);
#endif
    if (event == NULL)
        goto done;
    /* An event that can be in no cycle leaves the collector's lists, as a plain tuple of such values
     * does at its first collection (the collector never untracks a tuple subclass): a DPOR execution's
     * trace, thousands of events kept to its end, was traversed at every collection of their generation. */
    int atomic = 1;
    for (Py_ssize_t i = 0; i < 6 && atomic; i++)
        atomic = atomic_field(PyTuple_GET_ITEM(event, i));
    if (atomic)
        PyObject_GC_UnTrack(event);
    if (PyList_CheckExact(trace)) {
        if (PyList_Append(trace, event) < 0)
            goto done;
        length = PyList_GET_SIZE(trace);
    }
    else {
        PyObject *r = PyObject_CallMethodOneArg(trace, s_append, event);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
        length = PyObject_Size(trace);
        if (length < 0)
            goto done;
    }
    PyObject *limit = act_cached ? Py_NewRef(act_limit) : PyObject_GetAttr(ex, s_trace_limit);
    if (limit == NULL)
        goto done;
    int full;
    if (PyFloat_CheckExact(limit) && PyFloat_AS_DOUBLE(limit) == Py_HUGE_VAL)
        full = 0;  /* no limit (inf): the common case, without a comparison of an int with a float */
    else if (PyLong_CheckExact(limit)) {
        /* DPOR's horizon: compared without making an int of the length at every event */
        int overflow;
        long long bound = PyLong_AsLongLongAndOverflow(limit, &overflow);
        if (bound == -1 && PyErr_Occurred())
            full = -1;
        else
            full = overflow > 0 ? 0 : overflow < 0 ? 1 : (long long)length >= bound;
    }
    else {
        PyObject *count = PyLong_FromSsize_t(length);
        full = count == NULL ? -1 : PyObject_RichCompareBool(count, limit, Py_GE);
        Py_XDECREF(count);
    }
    Py_DECREF(limit);
    if (full < 0)
        goto done;
    if (full) {
        PyObject *r = PyObject_CallMethodNoArgs(ex, s_stop_tracing);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    rc = 0;
done:
    Py_XDECREF(event);
    Py_XDECREF(args);
    Py_XDECREF(fields);
    Py_XDECREF(text);
    Py_XDECREF(tid);
    Py_XDECREF(trace);
    Py_DECREF(ex);
    return rc;
}

/* Execution._traced: what the fast path notes of an access when the trace is kept (``value`` NULL: the
 * hook gave none). */
static int
note_access(PyObject *kind, PyObject *obj, PyObject *key, PyObject *site, PyObject *value)
{
    PyObject *me = ex_attr(active_ex, s_current);
    if (me == NULL)
        return -1;
    PyObject *shown = NULL;
    PyObject *what = describe(obj, key);
    int rc = what == NULL || PyObject_SetAttr(me, s_pending, kind) < 0
             || PyObject_SetAttr(me, s_pending_what, what) < 0 ? -1 : 0;
    if (rc == 0) {
        shown = value == NULL ? Py_NewRef(Py_None) : PyObject_CallOneArg(t_short_repr, value);
        rc = shown == NULL || PyObject_SetAttr(me, s_site, site) < 0 ? -1 : append_event(me, kind, what, site, shown);
    }
    Py_XDECREF(shown);
    Py_XDECREF(what);
    Py_DECREF(me);
    return rc;
}

/* ex.name (a new reference, or NULL with an error set) for an attribute an Execution keeps in its instance
 * dict (current, fast, access_calls, sync_calls): read there straight away when its type has nothing of
 * that name, which is what getattr finds then, without getattr's look-up in the type first (about 250
 * instructions; these are read at every access and synchronisation told) */
static PyObject *
ex_attr(PyObject *ex, PyObject *name)
{
    PyTypeObject *tp = Py_TYPE(ex);
    if (tp->tp_getattro == PyObject_GenericGetAttr && _PyType_Lookup(tp, name) == NULL) {
        PyObject **dictptr = _PyObject_GetDictPtr(ex);
        if (dictptr != NULL && *dictptr != NULL) {
            PyObject *value = PyDict_GetItemWithError(*dictptr, name);
            if (value != NULL || PyErr_Occurred())
                return Py_XNewRef(value);
        }
    }
    return PyObject_GetAttr(ex, name);
}

/* Does a `told` entry name this object? Entries hold the object's type (never a reference to the
 * object, strong or weak, which a program could see): a new object of another type at a dead one's
 * address is new. */
static inline int
names(PyObject *entry, PyObject *obj)
{
    return entry == (PyObject *)Py_TYPE(obj);
}

/* A key whose hash and equality are the builtins' own: looking it up runs no Python code. A key of
 * another type (a user class whose __hash__ is instrumented code: it would make scheduling points)
 * goes straight to _tell, which hashes it exactly as the pure-Python fast path does. */
static int
plain_key(PyObject *key)
{
    PyTypeObject *t = Py_TYPE(key);
    if (t == &PyUnicode_Type || t == &PyLong_Type || key == Py_None || t == &PyBool_Type || t == &PyFloat_Type
        || t == &PyBytes_Type)
        return 1;
    if (t == &PyTuple_Type) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
            PyTypeObject *u = Py_TYPE(PyTuple_GET_ITEM(key, i));
            if (!(u == &PyUnicode_Type || u == &PyLong_Type || u == &PyBool_Type || u == &PyFloat_Type
                  || u == &PyBytes_Type || PyTuple_GET_ITEM(key, i) == Py_None))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* One observer's call through the execution's plan (Execution.access_calls, sync_calls): its native
 * function when it has one (``fn(observer, *args)``, the method's work in C; False: it declined, and the
 * method is called), else its Python method. ``args[0]`` is free for the observer (vectorcall's offset). */
static int
call_observer(PyObject *observer, PyObject *fn, PyObject *method, PyObject **args, Py_ssize_t nargs)
{
    args[0] = observer;
    PyObject *r;
    if (fn != Py_None) {
        r = PyObject_Vectorcall(fn, args, nargs, NULL);
        if (r == NULL)
            return -1;
        int done = r == Py_True;
        Py_DECREF(r);
        if (done)
            return 0;
    }
    Py_INCREF(observer);
    r = PyObject_VectorcallMethod(method, args, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(observer);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Execution._tell for the fast path: the same key tuple in the same dict; when new, the entry is
 * added and the access observers (ex.access_observers) are called here, as _tell calls them. A key that
 * is no plain value is _tell's. */
static int
tell(FastPathObject *f, PyObject *kind, PyObject *obj, PyObject *key, PyObject *site, PyObject *atomic)
{
    PyObject *ex = active_ex, *me;
    if (!plain_key(key) || !PyDict_CheckExact(f->told))
        goto call;
    PyObject *oid = PyLong_FromVoidPtr(obj);
    if (oid == NULL)
        return -1;
    PyObject *told = PyTuple_Pack(5, oid, key, kind, site, atomic);
    Py_DECREF(oid);
    if (told == NULL)
        return -1;
    /* the key's hash, made once for the look-up and the insertion (a tuple's is not cached: about 300
     * instructions for this one, its site's included) */
    Py_hash_t hash = PyObject_Hash(told);
    PyObject *entry = hash == -1 ? NULL : _PyDict_GetItem_KnownHash(f->told, told, hash);  /* borrowed */
    if (entry != NULL && names(entry, obj)) {
        Py_DECREF(told);
        return 0;
    }
    if (entry == NULL && PyErr_Occurred()) {
        Py_DECREF(told);
        if (!PyErr_ExceptionMatches(PyExc_TypeError))
            return -1;
        PyErr_Clear();  /* unhashable: _tell tells it, as always */
        goto call;
    }
#if PY_VERSION_HEX < 0x030D0000
    int rc = _PyDict_SetItem_KnownHash(f->told, told, (PyObject *)Py_TYPE(obj), hash);
#else
    int rc = PyDict_SetItem(f->told, told, (PyObject *)Py_TYPE(obj));  /* (no public known-hash insertion) */
#endif
    Py_DECREF(told);
    if (rc < 0)
        return -1;
    Py_INCREF(ex);
    me = ex_attr(ex, s_current);
    PyObject *calls = me == NULL ? NULL : ex_attr(ex, s_access_calls);
    if (calls != NULL && !PyList_CheckExact(calls)) {
        PyErr_SetString(PyExc_TypeError, "access_calls must be a list");
        Py_CLEAR(calls);
    }
    if (calls == NULL) {
        Py_XDECREF(me);
        Py_DECREF(ex);
        return -1;
    }
    rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(calls); i++) {
        PyObject *entry = PyList_GET_ITEM(calls, i);
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2) {
            PyErr_SetString(PyExc_TypeError, "access_calls holds (observer, native access or None) pairs");
            rc = -1;
            break;
        }
        Py_INCREF(entry);
        PyObject *call[8] = {NULL, ex, me, kind, obj, key, site, atomic};
        rc = call_observer(PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1), s_access, call, 8);
        Py_DECREF(entry);
    }
    Py_DECREF(calls);
    Py_DECREF(me);
    Py_DECREF(ex);
    return rc;
call:
    Py_INCREF(ex);
    me = ex_attr(ex, s_current);
    if (me == NULL) {
        Py_DECREF(ex);
        return -1;
    }
    PyObject *args[7] = {ex, me, kind, obj, key, site, atomic};
    PyObject *r = PyObject_VectorcallMethod(s_tell, args, 7 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(me);
    Py_DECREF(ex);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The first scheduling point of a unit an event loop handed the baton to with no decision
 * (Execution.choose_unit sets fast.handed): the slow path would make it a point (the holder's site,
 * pending operation and its description) where _schedule, with the holder the only unit that can run,
 * counts it in the holder's run and grants the budget; done here for an access, the same updates, then
 * the access goes on as on the fast path. ``handed`` is the last step at which this holds (the step
 * bound, or the window after which _schedule checks for a thread alone): any change of who can run,
 * any grant or end of the budget and any hand-off of the baton clears it (Execution._changed, _grant,
 * _end_budget, _hold). */
static inline int
handed_ok(void)
{
    FastPathObject *f = active_fast;
    return f != NULL && f->handed && f->budget == 0 && f->granted == 0 && f->step + 1 <= f->handed
           && f->has_ident && f->free_threaded && f->ident == PyThread_get_thread_ident()
           && (!f->trace || trace_plain());
}

static int
first_point(int write, PyObject *obj, PyObject *key, PyObject *site)
{
    FastPathObject *f = active_fast;
    PyObject *me = ex_attr(active_ex, s_current);
    if (me == NULL)
        return -1;
    PyObject *what = describe(obj, key);
    PyObject *run = what == NULL ? NULL : PyObject_GetAttr(me, s_run_length);
    PyObject *more = run == NULL ? NULL : PyNumber_Add(run, one_obj());
    int rc = more == NULL || PyObject_SetAttr(me, s_site, site) < 0
             || PyObject_SetAttr(me, s_pending, write ? s_write : s_read) < 0
             || PyObject_SetAttr(me, s_pending_what, what) < 0 || PyObject_SetAttr(me, s_run_length, more) < 0
             ? -1 : 0;
    Py_XDECREF(more);
    Py_XDECREF(run);
    Py_XDECREF(what);
    Py_DECREF(me);
    if (rc < 0)
        return -1;
    /* Execution._grant(BUDGET_CAP, False) at the point's step (the access below takes that point) */
    double left = f->limit_d - (double)(f->step + 1);
    long long granted = left < (double)handed_cap ? (left > 0 ? (long long)left : 0) : handed_cap;
    f->granted = granted;
    f->budget = granted + 1;
    f->decides = 0;
    f->handed = 0;
    return 0;
}

/* Execution.access's fast path; the caller checked fast_ok(). ``value``: a write's value (NULL: none). */
static inline int
fast_access(int write, PyObject *obj, PyObject *key, PyObject *site, PyObject *value)
{
    FastPathObject *f = active_fast;
    fast_hits++;
    f->step++;
    f->budget--;
    f->loops = 0;
    f->accesses++;
    if (write)
        f->progress_at = f->step;
    if (f->trace && note_access(write ? s_write : s_read, obj, key, site, value) < 0)
        return -1;
    if (!f->observe)
        return 0;
    return tell(f, write ? s_write : s_read, obj, key, site, Py_False);
}

/* Detector-only mode (NativeExecution.access): is this access one the calling thread told since no
 * other thread's access or any synchronisation reached the detectors? Then it is only noted as the
 * thread's site, as the Python path does, and the detectors are not called. Returns 1 (skip it),
 * 0 (the Python hook must see it) or -1 (error). */
static int
detect_known(PyObject *kind, PyObject *obj, PyObject *key, PyObject *site)
{
    ToldObject *d = active_told;
    if (d == NULL || !d->has_ident || d->ident != PyThread_get_thread_ident() || !plain_key(key)
        || !PyDict_CheckExact(d->told) || PyDict_GET_SIZE(d->told) == 0)
        return 0;
    PyObject *oid = PyLong_FromVoidPtr(obj);
    if (oid == NULL)
        return -1;
    PyObject *told = PyTuple_Pack(4, oid, key, kind, site);
    Py_DECREF(oid);
    if (told == NULL)
        return -1;
    PyObject *entry = PyDict_GetItemWithError(d->told, told);  /* borrowed */
    Py_DECREF(told);
    if (entry == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (!names(entry, obj))
        return 0;
    if (PyObject_SetAttr(d->ts, s_site, site) < 0)
        return -1;
    /* ts.accesses += 1, as the Python path counts every access, told or not */
    PyObject *n = PyObject_GetAttr(d->ts, s_accesses);
    PyObject *m = n == NULL ? NULL : PyNumber_Add(n, one_obj());
    Py_XDECREF(n);
    int r = m == NULL ? -1 : PyObject_SetAttr(d->ts, s_accesses, m);
    Py_XDECREF(m);
    if (r < 0)
        return -1;
    fast_hits++;
    return 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* the hooks                                                                                       */

static inline int
is_code(PyObject *value)
{
    PyTypeObject *t = Py_TYPE(value);
    return t == &PyFunction_Type || t == &PyType_Type || t == &PyModule_Type || t == &PyCFunction_Type;
}

/* An access the C hooks take themselves: 1 when the fast path counted it or detect-only mode already
 * told it (nothing more to do than the access itself), 0 when the Python hook must take it, -1 on error. */
static int
quick_access(int write, PyObject *obj, PyObject *key, PyObject *site, PyObject *value)
{
    if (fast_ok())
        return fast_access(write, obj, key, site, value) < 0 ? -1 : 1;
    if (handed_ok())
        return first_point(write, obj, key, site) < 0 || fast_access(write, obj, key, site, value) < 0 ? -1 : 1;
    if (active_told != NULL)
        return detect_known(write ? s_write : s_read, obj, key, site);
    return 0;
}

/* _il_rg(name, site): a global read (the caller then reads it natively). */
static PyObject *
sp_rg(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 2 && (active_fast != NULL || active_told != NULL)) {
        PyObject *ns = PyEval_GetGlobals();
        if (ns != NULL && PyDict_CheckExact(ns)) {
            PyObject *value = PyDict_GetItemWithError(ns, args[0]);
            if (value == NULL && PyErr_Occurred())
                return NULL;
            if (value != NULL && is_code(value))
                Py_RETURN_NONE;  /* reading code, not data */
            int quick = quick_access(0, ns, args[0], args[1], NULL);
            if (quick < 0)
                return NULL;
            if (quick)
                Py_RETURN_NONE;
        }
    }
    return slow(H_RG, args, nargs);
}

/* _il_wg(name, value, site) -> value */
static PyObject *
sp_wg(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 3 && (active_fast != NULL || active_told != NULL)) {
        PyObject *ns = PyEval_GetGlobals();
        if (ns != NULL) {
            int quick = quick_access(1, ns, args[0], args[2], args[1]);
            if (quick < 0)
                return NULL;
            if (quick)
                return Py_NewRef(args[1]);
        }
    }
    return slow(H_WG, args, nargs);
}

/* A closure cell's key: (filename, lineno, owner, name); its name is the key of the access. */
static int
is_cell_key(PyObject *key)
{
    return PyTuple_CheckExact(key) && PyTuple_GET_SIZE(key) >= 4;
}

/* _il_rc(key, site): a closure cell read. */
static PyObject *
sp_rc(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 2 && is_cell_key(args[0])) {
        int quick = quick_access(0, args[0], PyTuple_GET_ITEM(args[0], 3), args[1], NULL);
        if (quick < 0)
            return NULL;
        if (quick)
            Py_RETURN_NONE;
    }
    return slow(H_RC, args, nargs);
}

/* _il_wc(key, value, site) -> value */
static PyObject *
sp_wc(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 3 && is_cell_key(args[0])) {
        int quick = quick_access(1, args[0], PyTuple_GET_ITEM(args[0], 3), args[2], args[1]);
        if (quick < 0)
            return NULL;
        if (quick)
            return Py_NewRef(args[1]);
    }
    return slow(H_WC, args, nargs);
}

/* _il_ra(obj, name, site) -> getattr(obj, name) */
static PyObject *
sp_ra(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 3) {
        int quick = quick_access(0, args[0], args[1], args[2], NULL);
        if (quick < 0)
            return NULL;
        if (quick)
            return PyObject_GetAttr(args[0], args[1]);
    }
    return slow(H_RA, args, nargs);
}

/* _il_wa(value, obj, name, site): setattr(obj, name, value) */
static PyObject *
sp_wa(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 4) {
        int quick = quick_access(1, args[1], args[2], args[3], args[0]);
        if (quick < 0)
            return NULL;
        if (quick) {
            if (PyObject_SetAttr(args[1], args[2], args[0]) < 0)
                return NULL;
            Py_RETURN_NONE;
        }
    }
    return slow(H_WA, args, nargs);
}

/* _il_rs(obj, key, site) -> obj[key] (an item of a memoryview is the Python hook's: see hooks._exposed) */
static PyObject *
sp_rs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 3 && !PyMemoryView_Check(args[0])) {
        int quick = quick_access(0, args[0], args[1], args[2], NULL);
        if (quick < 0)
            return NULL;
        if (quick)
            return PyObject_GetItem(args[0], args[1]);
    }
    return slow(H_RS, args, nargs);
}

/* _il_ws(value, obj, key, site): obj[key] = value (a memoryview's item is the Python hook's) */
static PyObject *
sp_ws(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 4 && !PyMemoryView_Check(args[1])) {
        int quick = quick_access(1, args[1], args[2], args[3], args[0]);
        if (quick < 0)
            return NULL;
        if (quick) {
            if (PyObject_SetItem(args[1], args[2], args[0]) < 0)
                return NULL;
            Py_RETURN_NONE;
        }
    }
    return slow(H_WS, args, nargs);
}

/* _il_loop(site): Execution.loop when it is only a step (free-threaded model, the baton holder, no
 * LOOP_POINT_EVERY point due, within the step bound); anything else is the Python hook's. */
static PyObject *
sp_loop(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    FastPathObject *f = active_fast;
    if (nargs == 1 && f != NULL && f->has_ident && f->free_threaded && f->loops + 1 < loop_every
        && (double)(f->step + 1) <= f->limit_d && f->ident == PyThread_get_thread_ident()) {
        fast_hits++;
        f->gil_points++;
        f->back_edges++;
        f->progress_at++;
        f->loops++;
        f->step++;
        Py_RETURN_NONE;
    }
    ToldObject *d = active_told;
    if (nargs == 1 && d != NULL && d->has_ident && d->ident == PyThread_get_thread_ident()) {
        /* detector-only mode, the thread that told last (NativeExecution.loop): ts.gil_points += 1 and
         * ts.back_edges += 1 */
        PyObject *ts = Py_NewRef(d->ts);
        int r = 0;
        PyObject *fields[2] = {s_gil_points, s_back_edges};
        for (int k = 0; k < 2 && r == 0; k++) {
            PyObject *n = PyObject_GetAttr(ts, fields[k]);
            PyObject *m = n == NULL ? NULL : PyNumber_Add(n, one_obj());
            Py_XDECREF(n);
            r = m == NULL ? -1 : PyObject_SetAttr(ts, fields[k], m);
            Py_XDECREF(m);
        }
        Py_DECREF(ts);
        if (r < 0)
            return NULL;
        fast_hits++;
        Py_RETURN_NONE;
    }
    return slow(H_LOOP, args, nargs);
}

/* The baton holder's ThreadState when the calling OS thread holds the baton of an execution with a
 * native FastPath (Execution.me()'s first case), else NULL with no error set; NULL with an error set if
 * reading it failed. A new reference. */
static PyObject *
holder(void)
{
    FastPathObject *f = active_fast;
    if (f == NULL || !f->has_ident || f->ident != PyThread_get_thread_ident())
        return NULL;
    return ex_attr(active_ex, s_current);
}

/* AccessCall: what _il_cp returns for a method of a builtin container whose every call is one atomic
 * access of the whole container (list.append, deque.popleft, set.add, dict.update, ...): called with
 * the arguments, it is Execution.call for it (the access is the scheduling point, after the arguments
 * were evaluated), then calls the method. On the fast path it does that in C; otherwise it calls
 * ex.call(fn, site, args), as the Python hook's wrapper (execution._call_with_arguments) does. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *ex, *fn, *site, *kind;
} AccessCallObject;

static PyTypeObject AccessCallType;

static int
AccessCall_traverse(AccessCallObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->ex);
    Py_VISIT(self->fn);
    Py_VISIT(self->site);
    Py_VISIT(self->kind);
    return 0;
}

static int
AccessCall_clear(AccessCallObject *self)
{
    Py_CLEAR(self->ex);
    Py_CLEAR(self->fn);
    Py_CLEAR(self->site);
    Py_CLEAR(self->kind);
    return 0;
}

static void
AccessCall_dealloc(AccessCallObject *self)
{
    PyObject_GC_UnTrack(self);
    AccessCall_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
AccessCall_vectorcall(AccessCallObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FastPathObject *f = active_fast;
    if (active_ex == self->ex && fast_ok()) {
        /* Execution.call: the site, a GIL point; then _access(atomic=True): point()'s fast path, _tell */
        PyObject *me = ex_attr(active_ex, s_current);
        if (me == NULL)
            return NULL;
        PyObject *owner = Py_NewRef(PyCFunction_GET_SELF(self->fn));
        f->gil_points++;
        fast_hits++;
        f->step++;
        f->budget--;
        f->loops = 0;
        f->accesses++;
        if (self->kind != s_read)
            f->progress_at = f->step;
        /* point(): the whole container described only when the trace is kept */
        PyObject *what = f->trace ? describe(owner, s_star) : Py_NewRef(Py_None);
        int rc = what == NULL || PyObject_SetAttr(me, s_site, self->site) < 0
                 || PyObject_SetAttr(me, s_pending, self->kind) < 0
                 || PyObject_SetAttr(me, s_pending_what, what) < 0 ? -1 : 0;
        if (rc == 0 && f->trace)
            rc = append_event(me, self->kind, what, self->site, Py_None);
        Py_XDECREF(what);
        if (rc == 0 && f->observe)
            rc = tell(f, self->kind, owner, s_star, self->site, Py_True);
        Py_DECREF(owner);
        Py_DECREF(me);
        if (rc < 0)
            return NULL;
        return PyObject_Vectorcall(self->fn, args, nargsf, kwnames);
    }
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *positional = PyTuple_New(nargs);
    if (positional == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++)
        PyTuple_SET_ITEM(positional, i, Py_NewRef(args[i]));
    PyObject *call[4] = {self->ex, self->fn, self->site, positional};
    PyObject *target = PyObject_VectorcallMethod(s_call_method, call, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(positional);
    if (target == NULL)
        return NULL;
    PyObject *r = PyObject_Vectorcall(target, args, nargsf, kwnames);
    Py_DECREF(target);
    return r;
}

static PyTypeObject AccessCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "interlace._speedups.AccessCall",
    .tp_basicsize = sizeof(AccessCallObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A call of a builtin container's method that is one access of the whole container (from _il_cp).",
    .tp_vectorcall_offset = offsetof(AccessCallObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)AccessCall_dealloc,
    .tp_traverse = (traverseproc)AccessCall_traverse,
    .tp_clear = (inquiry)AccessCall_clear,
};

static PyObject *
access_call(PyObject *ex, PyObject *fn, PyObject *site, PyObject *kind)
{
    AccessCallObject *self = PyObject_GC_New(AccessCallObject, &AccessCallType);
    if (self == NULL)
        return NULL;
    self->vectorcall = (vectorcallfunc)AccessCall_vectorcall;
    self->ex = Py_NewRef(ex);
    self->fn = Py_NewRef(fn);
    self->site = Py_NewRef(site);
    self->kind = Py_NewRef(kind);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* _il_cp(site, fn) -> what to call: Execution.callee, answered from Callees when the classifier said
 * what every call of fn is in the free-threaded model: no scheduling point (a call of instrumented
 * code, a pure builtin, a builtin method that is no access), or a "call" point that the fast path
 * takes (budget left, no trace). Anything else, and the first call of each callee, is the Python
 * hook's; after it, the classifier's verdict on fn is remembered. */
static PyObject *
sp_cp(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return slow(H_CP, args, nargs);
    PyObject *fn = args[1];
    if (fn == b_exec || fn == b_eval || fn == b_compile)
        return slow(H_CP, args, nargs);
    if (active_ex == NULL)
        return Py_NewRef(fn);
    CalleesObject *c = active_callees;
    FastPathObject *f = active_fast;
    if (c == NULL || !f->free_threaded)
        return slow(H_CP, args, nargs);
    PyObject *me = holder();
    if (me == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return slow(H_CP, args, nargs);
    }
    void *k1, *k2;
    PyObject *hold, *hold2;
    CalleeEntry *e = NULL;
    if (callee_key(fn, &k1, &k2, &hold, &hold2) && !substituted(c, fn))
        e = callee_find(c, k1, k2);
    if (e != NULL && e->verdict == V_ACCESS && Py_IS_TYPE(fn, &PyCFunction_Type) && e->what != NULL) {
        /* Execution.callee for a call whose access needs the arguments: the site, a GIL point, and the
         * wrapper that makes the access when it has them */
        PyObject *kind = Py_NewRef(e->what);
        f->gil_points++;
        int rc = PyObject_SetAttr(me, s_site, args[0]);
        Py_DECREF(me);
        PyObject *r = rc < 0 ? NULL : access_call(active_ex, fn, args[0], kind);
        Py_DECREF(kind);
        if (r != NULL)
            fast_hits++;
        return r;
    }
    if (e != NULL && (e->verdict == V_NOTHING || (e->verdict == V_CALL && f->budget > 0 && (!f->trace || trace_plain())))) {
        /* Execution.callee, then point()'s fast path for a "call" (the entry is read before anything
         * that could run other code and change the table) */
        int verdict = e->verdict;
        PyObject *what = Py_NewRef(e->what ? e->what : Py_None);
        f->gil_points++;
        if (verdict == V_CALL) {
            f->step++;
            f->loops = 0;
            f->budget--;
        }
        int rc = PyObject_SetAttr(me, s_site, args[0]);
        if (rc == 0 && verdict == V_CALL)
            rc = PyObject_SetAttr(me, s_pending, s_call) < 0 || PyObject_SetAttr(me, s_pending_what, what) < 0 ? -1 : 0;
        if (rc == 0 && verdict == V_CALL && f->trace)
            rc = append_event(me, s_call, what, args[0], Py_None);
        Py_DECREF(what);
        Py_DECREF(me);
        if (rc < 0)
            return NULL;
        fast_hits++;
        return Py_NewRef(fn);
    }
    Py_DECREF(me);
    PyObject *r = slow(H_CP, args, nargs);
    if (r != NULL && e == NULL && active_callees == c && callee_learn(c, fn) < 0)
        Py_CLEAR(r);
    return r;
}

/* _il_with(site, manager) -> the manager (Execution.with_manager): itself when the classifier said no
 * manager of its type is ever substituted (a real lock made before the execution is). */
static PyObject *
sp_with(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2)
        return slow(H_WITH, args, nargs);
    if (active_ex == NULL)
        return Py_NewRef(args[1]);
    CalleesObject *c = active_callees;
    if (c == NULL)
        return slow(H_WITH, args, nargs);
    PyObject *me = holder();
    if (me == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return slow(H_WITH, args, nargs);
    }
    PyTypeObject *t = Py_TYPE(args[1]);
    CalleeEntry *e = callee_find(c, (void *)t, MANAGER);
    if (e != NULL && e->verdict == V_NOTHING) {
        int rc = PyObject_SetAttr(me, s_site, args[0]);
        Py_DECREF(me);
        if (rc < 0)
            return NULL;
        fast_hits++;
        return Py_NewRef(args[1]);
    }
    Py_DECREF(me);
    PyObject *r = slow(H_WITH, args, nargs);
    if (r != NULL && e == NULL && active_callees == c && manager_learn(c, t) < 0)
        Py_CLEAR(r);
    return r;
}

/* runtime.containers.container_base(type(obj)) is not None: a mutable builtin container, or a subclass */
static inline int
is_container(PyObject *obj)
{
    PyTypeObject *t = Py_TYPE(obj);
    if (t == &PyLong_Type || t == &PyUnicode_Type || t == &PyFloat_Type || t == &PyTuple_Type || obj == Py_None
        || t == &PyBool_Type || t == &PyBytes_Type)
        return 0;
    return PyList_Check(obj) || PyDict_Check(obj) || PyByteArray_Check(obj)
           || PyType_IsSubtype(t, &PySet_Type) || PyType_IsSubtype(t, (PyTypeObject *)deque_type);
}

/* _il_iter(container, site) -> container: a read of the whole of a container; nothing for another value. */
static PyObject *
sp_iter(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 2 && (active_ex == NULL || !is_container(args[0])))
        return Py_NewRef(args[0]);
    if (nargs == 2) {
        int quick = quick_access(0, args[0], s_star, args[1], NULL);
        if (quick < 0)
            return NULL;
        if (quick)
            return Py_NewRef(args[0]);
    }
    return slow(H_ITER, args, nargs);
}

/* _il_in(item, container, site) -> item in container */
static PyObject *
sp_in(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 3 && (active_ex == NULL || !is_container(args[1]))) {
        int r = PySequence_Contains(args[1], args[0]);
        if (r < 0)
            return NULL;
        return PyBool_FromLong(r);
    }
    /* a container: of a dict, a read of that key (a plain one: hashing it runs no program code), of
     * another, a read of all of it; then the test itself */
    if (nargs == 3 && (!PyDict_Check(args[1]) || plain_key(args[0]))) {
        int quick = quick_access(0, args[1], PyDict_Check(args[1]) ? args[0] : s_star, args[2], NULL);
        if (quick < 0)
            return NULL;
        if (quick) {
            int r = PySequence_Contains(args[1], args[0]);
            if (r < 0)
                return NULL;
            return PyBool_FromLong(r);
        }
    }
    return slow(H_IN, args, nargs);
}

/* _il_inplace(value, rhs, op, site) -> op(value, rhs): a write of the whole of a container; nothing else. */
static PyObject *
sp_inplace(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs == 4 && (active_ex == NULL || !is_container(args[0]))) {
        PyObject *call[2] = {args[0], args[1]};
        return PyObject_Vectorcall(args[2], call, 2, NULL);
    }
    return slow(H_INPLACE, args, nargs);
}

/* The write of an augmented assignment (``obj.name op= rhs``, ``obj[key] op= rhs``) once ``result`` is
 * computed: the fast path, or Execution.access as the Python hook calls it. 0, or -1 on error. */
static int
aug_write(PyObject *obj, PyObject *key, PyObject *site, PyObject *result)
{
    int quick = quick_access(1, obj, key, site, result);
    if (quick != 0 || active_ex == NULL)
        return quick < 0 ? -1 : 0;
    PyObject *ex = Py_NewRef(active_ex);
    PyObject *call[6] = {ex, s_write, obj, key, site, result};
    PyObject *r = PyObject_VectorcallMethod(s_access, call, 6 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(ex);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* _il_ra2(obj, name, site) -> (obj, _il_ra(obj, name, site)): the read of ``obj.name op= rhs`` */
static PyObject *
sp_ra2(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return slow(H_RA2, args, nargs);
    PyObject *value = sp_ra(module, args, nargs);
    if (value == NULL)
        return NULL;
    PyObject *pair = PyTuple_Pack(2, args[0], value);
    Py_DECREF(value);
    return pair;
}

/* _il_aug_wa(pair, rhs, op, name, site): ``obj.name = op(value, rhs)``; a container changed in place
 * (``o.items += [x]``) is the Python hook's. */
static PyObject *
sp_aug_wa(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 2
        || (active_ex != NULL && is_container(PyTuple_GET_ITEM(args[0], 1))))
        return slow(H_AUG_WA, args, nargs);
    PyObject *obj = PyTuple_GET_ITEM(args[0], 0), *call[2] = {PyTuple_GET_ITEM(args[0], 1), args[1]};
    PyObject *result = PyObject_Vectorcall(args[2], call, 2, NULL);
    if (result == NULL)
        return NULL;
    Py_INCREF(obj);
    int rc = active_ex != NULL ? aug_write(obj, args[3], args[4], result) : 0;
    if (rc == 0)
        rc = PyObject_SetAttr(obj, args[3], result);
    Py_DECREF(obj);
    Py_DECREF(result);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _il_rs2(obj, key, site) -> (obj, key, _il_rs(obj, key, site)): the read of ``obj[key] op= rhs`` */
static PyObject *
sp_rs2(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3)
        return slow(H_RS2, args, nargs);
    PyObject *value = sp_rs(module, args, nargs);
    if (value == NULL)
        return NULL;
    PyObject *triple = PyTuple_Pack(3, args[0], args[1], value);
    Py_DECREF(value);
    return triple;
}

/* _il_aug_ws(triple, rhs, op, site): ``obj[key] = op(value, rhs)``; a container changed in place and a
 * memoryview's item are the Python hook's. */
static PyObject *
sp_aug_ws(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyTuple_CheckExact(args[0]) || PyTuple_GET_SIZE(args[0]) != 3
        || PyMemoryView_Check(PyTuple_GET_ITEM(args[0], 0))
        || (active_ex != NULL && is_container(PyTuple_GET_ITEM(args[0], 2))
            && !PySlice_Check(PyTuple_GET_ITEM(args[0], 1))))
        return slow(H_AUG_WS, args, nargs);
    PyObject *obj = PyTuple_GET_ITEM(args[0], 0), *key = PyTuple_GET_ITEM(args[0], 1);
    PyObject *call[2] = {PyTuple_GET_ITEM(args[0], 2), args[1]};
    PyObject *result = PyObject_Vectorcall(args[2], call, 2, NULL);
    if (result == NULL)
        return NULL;
    Py_INCREF(obj);
    Py_INCREF(key);
    int rc = active_ex != NULL ? aug_write(obj, key, args[3], result) : 0;
    if (rc == 0)
        rc = PyObject_SetItem(obj, key, result);
    Py_DECREF(obj);
    Py_DECREF(key);
    Py_DECREF(result);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* edge(ex, kind, me, obj, keep_progress): Execution.synced for an execution with a native FastPath (the
 * told filter emptied, progress, each observer's sync(ex, kind, me, obj) in turn); with keep_progress,
 * the step of the last progress is left as it was (an event loop's callback edge, eventloop._sync).
 * The callers (eventloop._sync, handoffs._emit) take it from Execution.edge, which is None where
 * synced is another's (a subclass's) or the FastPath is the Python one. */
static int do_edge(PyObject *ex, PyObject *kind, PyObject *me, PyObject *obj, int keep);

static PyObject *
sp_edge(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "edge(execution, kind, me, obj, keep_progress)");
        return NULL;
    }
    int keep = PyObject_IsTrue(args[4]);
    if (keep < 0 || do_edge(args[0], args[1], args[2], args[3], keep) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* handoff(kind, key): handoffs._emit (a hand-off's signal or wait, told to the active execution's
 * observers by the baton holder), with edge() when the execution has it. */
static PyObject *
sp_handoff(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "handoff(kind, key)");
        return NULL;
    }
    if (active_ex == NULL)
        Py_RETURN_NONE;
    PyObject *ex = Py_NewRef(active_ex), *me = NULL, *edge = NULL, *r = NULL;
    PyObject *observers = PyObject_GetAttr(ex, s_observers);
    if (observers == NULL)
        goto done;
    int told = PyObject_IsTrue(observers);
    Py_DECREF(observers);
    if (told <= 0) {
        r = told < 0 ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    /* ex.me(): the baton holder's state on its own OS thread (else the method: None, or Abort) */
    me = holder();
    if (me == NULL && !PyErr_Occurred())
        me = PyObject_CallMethodNoArgs(ex, s_me);
    if (me == NULL)
        goto done;
    if (me == Py_None) {
        r = Py_NewRef(Py_None);
        goto done;
    }
    edge = PyObject_GetAttr(ex, s_edge);
    if (edge == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            goto done;
        PyErr_Clear();
    }
    if (edge != NULL && edge != Py_None)
        r = do_edge(ex, args[0], me, args[1], 0) < 0 ? NULL : Py_NewRef(Py_None);
    else {
        PyObject *call[4] = {ex, args[0], me, args[1]};
        r = PyObject_VectorcallMethod(s_synced, call, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
done:
    Py_XDECREF(edge);
    Py_XDECREF(me);
    Py_DECREF(ex);
    return r;
}

static int
do_edge(PyObject *ex, PyObject *kind, PyObject *me, PyObject *obj, int keep)
{
    PyObject *fast = ex_attr(ex, s_fast);
    if (fast == NULL)
        return -1;
    if (!PyObject_TypeCheck(fast, &FastPathType)) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_TypeError, "edge() needs an execution with a native FastPath");
        return -1;
    }
    FastPathObject *f = (FastPathObject *)fast;
    long long progress = f->progress_at;
    if (PyDict_CheckExact(f->told))
        PyDict_Clear(f->told);
    else {
        PyObject *r = PyObject_CallMethod(f->told, "clear", NULL);
        if (r == NULL) {
            Py_DECREF(fast);
            return -1;
        }
        Py_DECREF(r);
    }
    f->progress_at = f->step;
    PyObject *calls = ex_attr(ex, s_sync_calls);
    if (calls != NULL && !PyList_CheckExact(calls)) {
        PyErr_SetString(PyExc_TypeError, "Execution.sync_calls must be a list");
        Py_CLEAR(calls);
    }
    if (calls == NULL) {
        Py_DECREF(fast);
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(calls); i++) {
        PyObject *entry = PyList_GET_ITEM(calls, i);
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 3) {
            PyErr_SetString(PyExc_TypeError, "sync_calls holds (observer, native sync or None, kinds or None)");
            rc = -1;
            break;
        }
        PyObject *kinds = PyTuple_GET_ITEM(entry, 2);
        if (kinds != Py_None) {  /* the kinds it watches: no call that would return at once */
            int watched = PySequence_Contains(kinds, kind);
            if (watched <= 0) {
                rc = watched;
                continue;
            }
        }
        Py_INCREF(entry);
        PyObject *call[5] = {NULL, ex, kind, me, obj};
        rc = call_observer(PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1), s_sync, call, 5);
        Py_DECREF(entry);
    }
    Py_DECREF(calls);
    if (rc == 0 && keep)
        f->progress_at = progress;
    Py_DECREF(fast);
    return rc;
}

/* bind_trace(Event, short_repr): what the fast path notes in the trace, once at import. */
static PyObject *
sp_bind_trace(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyType_Check(args[0]) || !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "bind_trace(Event, short_repr)");
        return NULL;
    }
    Py_XSETREF(t_event, Py_NewRef(args[0]));
    Py_XSETREF(t_short_repr, Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

static PyObject *
sp_hits(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(fast_hits);
}

static PyMethodDef module_methods[] = {
    {"hits", (PyCFunction)sp_hits, METH_NOARGS, "How many hook calls took the fast path in C so far (for tests)."},
    {"activate", (PyCFunction)(void (*)(void))sp_activate, METH_FASTCALL,
     "activate(execution, fast, told, callees, loop_every): the active execution (None: none), its native FastPath "
     "or detector-only Told, its classifier's Callees."},
    {"bind", (PyCFunction)(void (*)(void))sp_bind, METH_FASTCALL,
     "bind(hooks, READ, WRITE): the pure-Python hooks the C ones fall back to."},
    {"handoff", (PyCFunction)(void (*)(void))sp_handoff, METH_FASTCALL,
     "handoff(kind, key): a hand-off's signal or wait for the active execution's observers (handoffs._emit)."},
    {"edge", (PyCFunction)(void (*)(void))sp_edge, METH_FASTCALL,
     "edge(execution, kind, me, obj, keep_progress): Execution.synced, in C (see Execution.edge)."},
    {"bind_trace", (PyCFunction)(void (*)(void))sp_bind_trace, METH_FASTCALL,
     "bind_trace(Event, short_repr): the trace's event type and value repr, for the fast path's notes."},
    {"_il_rg", (PyCFunction)(void (*)(void))sp_rg, METH_FASTCALL, "a global read"},
    {"_il_wg", (PyCFunction)(void (*)(void))sp_wg, METH_FASTCALL, "a global write"},
    {"_il_rc", (PyCFunction)(void (*)(void))sp_rc, METH_FASTCALL, "a closure cell read"},
    {"_il_wc", (PyCFunction)(void (*)(void))sp_wc, METH_FASTCALL, "a closure cell write"},
    {"_il_ra", (PyCFunction)(void (*)(void))sp_ra, METH_FASTCALL, "an attribute read"},
    {"_il_wa", (PyCFunction)(void (*)(void))sp_wa, METH_FASTCALL, "an attribute write"},
    {"_il_rs", (PyCFunction)(void (*)(void))sp_rs, METH_FASTCALL, "a subscript read"},
    {"_il_ws", (PyCFunction)(void (*)(void))sp_ws, METH_FASTCALL, "a subscript write"},
    {"_il_loop", (PyCFunction)(void (*)(void))sp_loop, METH_FASTCALL, "a loop back-edge"},
    {"_il_cp", (PyCFunction)(void (*)(void))sp_cp, METH_FASTCALL, "what to call for a call"},
    {"_il_with", (PyCFunction)(void (*)(void))sp_with, METH_FASTCALL, "the context manager of a with-statement"},
    {"_il_iter", (PyCFunction)(void (*)(void))sp_iter, METH_FASTCALL, "a container iterated or tested"},
    {"_il_in", (PyCFunction)(void (*)(void))sp_in, METH_FASTCALL, "an in-test"},
    {"_il_inplace", (PyCFunction)(void (*)(void))sp_inplace, METH_FASTCALL, "an augmented assignment to a name"},
    {"_il_ra2", (PyCFunction)(void (*)(void))sp_ra2, METH_FASTCALL, "the read of an augmented attribute assignment"},
    {"_il_aug_wa", (PyCFunction)(void (*)(void))sp_aug_wa, METH_FASTCALL, "the write of an augmented attribute assignment"},
    {"_il_rs2", (PyCFunction)(void (*)(void))sp_rs2, METH_FASTCALL, "the read of an augmented subscript assignment"},
    {"_il_aug_ws", (PyCFunction)(void (*)(void))sp_aug_ws, METH_FASTCALL, "the write of an augmented subscript assignment"},
    {NULL}
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "interlace._speedups",
    .m_doc = "The native accelerator of interlace's scheduler hot path (optional; see runtime/fastpath.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&FastPathType) < 0 || PyType_Ready(&ToldType) < 0 || PyType_Ready(&CalleesType) < 0
        || PyType_Ready(&AccessCallType) < 0)
        return NULL;
    s_tell = PyUnicode_InternFromString("_tell");
    s_current = PyUnicode_InternFromString("current");
    s_site = PyUnicode_InternFromString("site");
    s_gil_points = PyUnicode_InternFromString("gil_points");
    s_back_edges = PyUnicode_InternFromString("back_edges");
    s_accesses = PyUnicode_InternFromString("accesses");
    s_pending = PyUnicode_InternFromString("pending");
    s_run_length = PyUnicode_InternFromString("run_length");
    if (s_run_length == NULL)
        return NULL;
    s_pending_what = PyUnicode_InternFromString("pending_what");
    s_call = PyUnicode_InternFromString("call");
    s_access = PyUnicode_InternFromString("access");
    s_star = PyUnicode_InternFromString("*");
    s_call_method = PyUnicode_InternFromString("call");
    s_access_observers = PyUnicode_InternFromString("access_observers");
    s_access_calls = PyUnicode_InternFromString("access_calls");
    s_sync_calls = PyUnicode_InternFromString("sync_calls");
    if (s_access_calls == NULL || s_sync_calls == NULL)
        return NULL;
    one = PyLong_FromLong(1);
    s_fast = PyUnicode_InternFromString("fast");
    s_observers = PyUnicode_InternFromString("observers");
    s_sync = PyUnicode_InternFromString("sync");
    s_append = PyUnicode_InternFromString("append");
    if (s_append == NULL)
        return NULL;
    s_me = PyUnicode_InternFromString("me");
    s_edge = PyUnicode_InternFromString("edge");
    s_synced = PyUnicode_InternFromString("synced");
    if (s_fast == NULL || s_observers == NULL || s_sync == NULL || s_me == NULL || s_edge == NULL || s_synced == NULL)
        return NULL;
    s_trace = PyUnicode_InternFromString("trace");
    s_trace_limit = PyUnicode_InternFromString("trace_limit");
    s_stop_tracing = PyUnicode_InternFromString("stop_tracing");
    s_capture_values = PyUnicode_InternFromString("capture_values");
    s_tid = PyUnicode_InternFromString("tid");
    s_describe = PyUnicode_InternFromString("describe");
    s_builtins = PyUnicode_InternFromString("__builtins__");
    s_dunder_name = PyUnicode_InternFromString("__name__");
    if (s_trace == NULL || s_trace_limit == NULL || s_stop_tracing == NULL || s_capture_values == NULL || s_tid == NULL
        || s_describe == NULL || s_builtins == NULL || s_dunder_name == NULL)
        return NULL;
    if (s_pending == NULL || s_pending_what == NULL || s_call == NULL || s_access == NULL || s_access_observers == NULL
        || s_star == NULL || s_call_method == NULL)
        return NULL;
    if (s_tell == NULL || s_current == NULL || s_site == NULL || s_gil_points == NULL || s_back_edges == NULL || s_accesses == NULL || one == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&FastPathType);
    if (PyModule_AddObject(m, "FastPath", (PyObject *)&FastPathType) < 0) {
        Py_DECREF(&FastPathType);
        Py_DECREF(m);
        return NULL;
    }
    /* what runtime/fastpath.native() checks: a build of another version of this file is not used */
    if (PyModule_AddIntConstant(m, "BUDGET_CAP", (long)handed_cap) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "API", 7) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ToldType);
    if (PyModule_AddObject(m, "Told", (PyObject *)&ToldType) < 0) {
        Py_DECREF(&ToldType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&CalleesType);
    if (PyModule_AddObject(m, "Callees", (PyObject *)&CalleesType) < 0) {
        Py_DECREF(&CalleesType);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *counts = PyCapsule_New(&fast_counts, "interlace._speedups._fast_counts", NULL);
    if (counts == NULL || PyModule_AddObject(m, "_fast_counts", counts) < 0) {
        Py_XDECREF(counts);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
