/*
 * interlace._lifetimes: tells the race detector which of the objects it knows have died.
 *
 * The detector knows program objects by address only: it holds no reference, strong or weak, so
 * lifetimes, weak references and __weakref__ stay the program's own (see detect/races.py). Nothing in
 * Python says when such an object dies, and a new object at a freed address would inherit the dead
 * one's accesses: a false race between a dead local list and a new one. Here the deallocators of the
 * types whose instances the detector names (object -- every instance of a Python class ends there --,
 * list, dict, set, bytearray, deque) are wrapped: a dying object whose address a Watch holds is
 * appended to that Watch's ``died`` list, which the detector drains before its next access.
 *
 * Optional, like _speedups: detect/lifetimes.py falls back to the detector's heuristics without it
 * (and with INTERLACE_PURE=1). Not built for free-threaded interpreters: the sets rely on the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* -- a set of addresses (open addressing, linear probing) -------------------------------------- */

#define EMPTY ((uintptr_t)0)
#define GONE ((uintptr_t)1) /* a removed entry: probing goes on past it */

typedef struct {
    PyObject_HEAD
    uintptr_t *slots;
    size_t mask;   /* capacity - 1; capacity is a power of two */
    size_t used;   /* addresses held */
    size_t filled; /* addresses held plus GONE entries */
    PyObject *died; /* list of ids, in the order of death */
} Watch;

static size_t
slot_of(uintptr_t p, size_t mask)
{
    uint64_t h = (uint64_t)(p >> 4) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & mask;
}

static int
grow(Watch *w)
{
    size_t capacity = (w->mask + 1) * 2;
    while (w->used * 2 >= capacity)
        capacity *= 2;
    uintptr_t *slots = PyMem_Calloc(capacity, sizeof(uintptr_t));
    if (slots == NULL)
        return -1;
    size_t mask = capacity - 1;
    for (size_t i = 0; i <= w->mask; i++) {
        uintptr_t p = w->slots[i];
        if (p > GONE) {
            size_t j = slot_of(p, mask);
            while (slots[j] != EMPTY)
                j = (j + 1) & mask;
            slots[j] = p;
        }
    }
    PyMem_Free(w->slots);
    w->slots = slots;
    w->mask = mask;
    w->filled = w->used;
    return 0;
}

/* 1: added, 0: held already, -1: no memory */
static int
add(Watch *w, uintptr_t p)
{
    if ((w->filled + 1) * 4 > (w->mask + 1) * 3 && grow(w) < 0)
        return -1;
    size_t i = slot_of(p, w->mask);
    size_t free_slot = (size_t)-1;
    for (;;) {
        uintptr_t q = w->slots[i];
        if (q == p)
            return 0;
        if (q == EMPTY)
            break;
        if (q == GONE && free_slot == (size_t)-1)
            free_slot = i;
        i = (i + 1) & w->mask;
    }
    if (free_slot != (size_t)-1)
        i = free_slot;
    else
        w->filled++;
    w->slots[i] = p;
    w->used++;
    return 1;
}

/* whether p was held (it is not any more) */
static int
discard(Watch *w, uintptr_t p)
{
    size_t i = slot_of(p, w->mask);
    for (;;) {
        uintptr_t q = w->slots[i];
        if (q == p) {
            w->slots[i] = GONE;
            w->used--;
            return 1;
        }
        if (q == EMPTY)
            return 0;
        i = (i + 1) & w->mask;
    }
}

/* -- the live watches, told by every wrapped deallocator ----------------------------------------- */

static Watch **watches;
static int n_watches, max_watches;

static void
record_death(Watch *w, PyObject *op)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
#endif
    PyObject *id = PyLong_FromVoidPtr(op);
    if (id == NULL || PyList_Append(w->died, id) < 0)
        PyErr_Clear(); /* out of memory: the death goes unnoticed, as without this module */
    Py_XDECREF(id);
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyErr_Restore(type, value, tb);
#endif
}

static inline void
note_death(PyObject *op)
{
    for (int k = 0; k < n_watches; k++) {
        Watch *w = watches[k];
        if (w->used && discard(w, (uintptr_t)op))
            record_death(w, op);
    }
}

/* one wrapper per wrapped type, each with the deallocator it replaced */
#define MAX_WRAPPED 8
static destructor originals[MAX_WRAPPED];
static PyTypeObject *wrapped[MAX_WRAPPED];
static int n_wrapped;

#define WRAPPER(k)                           \
    static void wrapper_##k(PyObject *op)    \
    {                                        \
        if (n_watches)                       \
            note_death(op);                  \
        originals[k](op);                    \
    }
WRAPPER(0)
WRAPPER(1)
WRAPPER(2)
WRAPPER(3)
WRAPPER(4)
WRAPPER(5)
WRAPPER(6)
WRAPPER(7)
static destructor wrappers[MAX_WRAPPED] = {wrapper_0, wrapper_1, wrapper_2, wrapper_3,
                                           wrapper_4, wrapper_5, wrapper_6, wrapper_7};

static PyObject *
lt_wrap(PyObject *module, PyObject *arg)
{
    if (!PyType_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "wrap() takes a type");
        return NULL;
    }
    PyTypeObject *tp = (PyTypeObject *)arg;
    for (int k = 0; k < n_wrapped; k++)
        if (wrapped[k] == tp)
            Py_RETURN_FALSE;
    if (n_wrapped == MAX_WRAPPED) {
        PyErr_SetString(PyExc_RuntimeError, "wrap(): too many types");
        return NULL;
    }
    int k = n_wrapped++;
    Py_INCREF(tp); /* never freed: its deallocator is ours from now on */
    wrapped[k] = tp;
    originals[k] = tp->tp_dealloc;
    tp->tp_dealloc = wrappers[k];
    Py_RETURN_TRUE;
}

/* -- the Watch type ------------------------------------------------------------------------------ */

static PyObject *
Watch_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "Watch() takes no arguments");
        return NULL;
    }
    if (n_watches == max_watches) {
        int capacity = max_watches ? max_watches * 2 : 4;
        Watch **grown = PyMem_Realloc(watches, capacity * sizeof(Watch *));
        if (grown == NULL)
            return PyErr_NoMemory();
        watches = grown;
        max_watches = capacity;
    }
    Watch *w = (Watch *)type->tp_alloc(type, 0);
    if (w == NULL)
        return NULL;
    w->slots = PyMem_Calloc(64, sizeof(uintptr_t));
    w->died = PyList_New(0);
    if (w->slots == NULL || w->died == NULL) {
        Py_DECREF(w);
        return PyErr_NoMemory();
    }
    w->mask = 63;
    watches[n_watches++] = w;
    return (PyObject *)w;
}

static void
Watch_dealloc(Watch *w)
{
    for (int k = 0; k < n_watches; k++) {
        if (watches[k] == w) {
            watches[k] = watches[--n_watches];
            break;
        }
    }
    PyMem_Free(w->slots);
    Py_XDECREF(w->died);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyObject *
Watch_add(Watch *w, PyObject *id)
{
    void *p = PyLong_AsVoidPtr(id);
    if (p == NULL && PyErr_Occurred())
        return NULL;
    if ((uintptr_t)p <= GONE) {
        PyErr_SetString(PyExc_ValueError, "not an object's id");
        return NULL;
    }
    if (add(w, (uintptr_t)p) < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *
Watch_discard(Watch *w, PyObject *id)
{
    void *p = PyLong_AsVoidPtr(id);
    if (p == NULL && PyErr_Occurred())
        return NULL;
    if ((uintptr_t)p > GONE)
        discard(w, (uintptr_t)p);
    Py_RETURN_NONE;
}

static PyObject *
Watch_clear(Watch *w, PyObject *Py_UNUSED(ignored))
{
    memset(w->slots, 0, (w->mask + 1) * sizeof(uintptr_t));
    w->used = w->filled = 0;
    if (PyList_SetSlice(w->died, 0, PyList_GET_SIZE(w->died), NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static Py_ssize_t
Watch_len(Watch *w)
{
    return (Py_ssize_t)w->used;
}

static PyObject *
Watch_get_died(Watch *w, void *Py_UNUSED(closure))
{
    return Py_NewRef(w->died);
}

static PyMethodDef Watch_methods[] = {
    {"add", (PyCFunction)Watch_add, METH_O, "add(id): tell when the object with this id dies."},
    {"discard", (PyCFunction)Watch_discard, METH_O, "discard(id): stop watching this id."},
    {"clear", (PyCFunction)Watch_clear, METH_NOARGS, "Watch nothing, and empty died."},
    {NULL}
};

static PyGetSetDef Watch_getset[] = {
    {"died", (getter)Watch_get_died, NULL,
     "The ids of watched objects that died since it was last emptied (its owner empties it).", NULL},
    {NULL}
};

static PySequenceMethods Watch_as_sequence = {
    .sq_length = (lenfunc)Watch_len,
};

static PyTypeObject WatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "interlace._lifetimes.Watch",
    .tp_basicsize = sizeof(Watch),
    .tp_dealloc = (destructor)Watch_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A set of object ids; each one whose object dies (of a wrapped type) moves to died.",
    .tp_new = Watch_new,
    .tp_methods = Watch_methods,
    .tp_getset = Watch_getset,
    .tp_as_sequence = &Watch_as_sequence,
};

static PyMethodDef module_methods[] = {
    {"wrap", (PyCFunction)lt_wrap, METH_O,
     "wrap(type): tell the live watches when an instance of type (or of a subclass that ends in its "
     "deallocator) dies; True if newly wrapped."},
    {NULL}
};

static struct PyModuleDef lifetimes_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "interlace._lifetimes",
    .m_doc = "Deaths of the objects the race detector knows by address (optional; see detect/lifetimes.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__lifetimes(void)
{
    if (PyType_Ready(&WatchType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&lifetimes_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&WatchType);
    if (PyModule_AddObject(m, "Watch", (PyObject *)&WatchType) < 0) {
        Py_DECREF(&WatchType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "API", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
