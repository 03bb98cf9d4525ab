/* The A* seam search of htrbatch/segment/seams.py in C, built at install as
 * htrbatch.segment._astar (a plain CPython extension: no numpy headers, buffers in and out).
 *
 * The same search as the pure-Python loop (seams._search_python), step for step: the same moves
 * tried in the same order, the same double sums in the same order, and a binary heap ordered by
 * the same (f, h, node) key as Python's heapq on those tuples. That order is total and entries
 * with equal keys are equal, so any correct priority queue takes the same entries off in the same
 * order as heapq, and the search returns the same path, cost and expansion count
 * (tests/test_segment.py checks it on random cost maps and page seams).
 *
 * search(c, heur, g, parent, m, w, y_first, y_last, step) -> (goal, expanded)
 *   c:      float64 (m * w,) node costs (inf outside the band), read only
 *   heur:   float64 (w,) heuristic per column, read only
 *   g:      float64 (m * w,) written: cost to reach each node (inf when not reached)
 *   parent: int64 (m * w,) written: parent node, -1 for none
 * The GIL is released during the search.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double f, h;
    int64_t node;
} Entry;

typedef struct {
    Entry *a;
    Py_ssize_t size, cap;
} Heap;

static inline int less(const Entry *x, const Entry *y) {
    if (x->f != y->f) return x->f < y->f;
    if (x->h != y->h) return x->h < y->h;
    return x->node < y->node;
}

static int push(Heap *hp, double f, double h, int64_t node) {
    if (hp->size == hp->cap) {
        Py_ssize_t cap = hp->cap * 2;
        Entry *a = (Entry *)realloc(hp->a, (size_t)cap * sizeof(Entry));
        if (a == NULL) return -1;
        hp->a = a;
        hp->cap = cap;
    }
    Entry e = {f, h, node};
    Py_ssize_t i = hp->size++;
    while (i > 0) {
        Py_ssize_t p = (i - 1) >> 1;
        if (less(&e, &hp->a[p])) {
            hp->a[i] = hp->a[p];
            i = p;
        } else {
            break;
        }
    }
    hp->a[i] = e;
    return 0;
}

static Entry pop(Heap *hp) {
    Entry top = hp->a[0];
    Entry e = hp->a[--hp->size];
    Py_ssize_t n = hp->size, i = 0;
    for (;;) {
        Py_ssize_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && less(&hp->a[c + 1], &hp->a[c])) c++;
        if (less(&hp->a[c], &e)) {
            hp->a[i] = hp->a[c];
            i = c;
        } else {
            break;
        }
    }
    if (n > 0) hp->a[i] = e;
    return top;
}

/* returns 0, or -1 when out of memory */
static int run(const double *c, const double *heur, double *g, int64_t *parent, Py_ssize_t m,
               Py_ssize_t w, Py_ssize_t y_first, Py_ssize_t y_last, double step, int64_t *goal_out,
               int64_t *expanded_out) {
    Py_ssize_t size = m * w;
    unsigned char *closed = (unsigned char *)calloc((size_t)(size > 0 ? size : 1), 1);
    Heap hp = {NULL, 0, 64 > 4 * m ? 64 : 4 * m};
    hp.a = (Entry *)malloc((size_t)hp.cap * sizeof(Entry));
    if (closed == NULL || hp.a == NULL) {
        free(closed);
        free(hp.a);
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        g[i] = INFINITY;
        parent[i] = -1;
    }
    double h0 = heur[0];
    int err = 0;
    for (Py_ssize_t y = y_first; y <= y_last && !err; y++) {
        int64_t u = (int64_t)y * w;
        g[u] = c[u];
        err = push(&hp, c[u] + h0, h0, u);
    }
    int64_t last = w - 1, bottom = (int64_t)(m - 1) * w, goal = -1, expanded = 0;
    while (hp.size > 0 && !err) {
        Entry top = pop(&hp);
        int64_t u = top.node;
        double hu = top.h;
        if (closed[u]) continue;
        closed[u] = 1;
        expanded++;
        int64_t x = u % w;
        if (x == last) {
            goal = u;
            break;
        }
        double gu = g[u], hx = heur[x + 1], nv;
        int64_t v = u + 1; /* right */
        nv = gu + c[v];
        if (nv < g[v]) {
            g[v] = nv;
            parent[v] = u;
            err |= push(&hp, nv + hx, hx, v);
        }
        if (u >= w) { /* not the top row */
            v = u - w + 1; /* right-up */
            nv = gu + c[v] + step;
            if (nv < g[v]) {
                g[v] = nv;
                parent[v] = u;
                err |= push(&hp, nv + hx, hx, v);
            }
            v = u - w; /* up */
            nv = gu + c[v] + step;
            if (nv < g[v]) {
                g[v] = nv;
                parent[v] = u;
                err |= push(&hp, nv + hu, hu, v);
            }
        }
        if (u < bottom) { /* not the bottom row */
            v = u + w + 1; /* right-down */
            nv = gu + c[v] + step;
            if (nv < g[v]) {
                g[v] = nv;
                parent[v] = u;
                err |= push(&hp, nv + hx, hx, v);
            }
            v = u + w; /* down */
            nv = gu + c[v] + step;
            if (nv < g[v]) {
                g[v] = nv;
                parent[v] = u;
                err |= push(&hp, nv + hu, hu, v);
            }
        }
    }
    free(closed);
    free(hp.a);
    *goal_out = goal;
    *expanded_out = expanded;
    return err ? -1 : 0;
}

/* A C-contiguous buffer of n 8-byte items whose format is fmt or alt (int64 is "l" on LP64
 * systems and "q" elsewhere); on failure a ValueError naming the argument, nothing held. */
static int get(PyObject *obj, Py_buffer *view, int writable, const char *fmt, const char *alt,
               Py_ssize_t n, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT |
                                          (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->format == NULL ||
        (strcmp(view->format, fmt) != 0 && strcmp(view->format, alt) != 0) ||
        view->itemsize != 8 || view->len != n * 8) {
        PyErr_Format(PyExc_ValueError, "search: %s must be a contiguous %s array of %zd items",
                     name, fmt[0] == 'd' ? "float64" : "int64", n);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *search(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *oc, *oh, *og, *op;
    Py_ssize_t m, w, y_first, y_last;
    double step;
    if (!PyArg_ParseTuple(args, "OOOOnnnnd", &oc, &oh, &og, &op, &m, &w, &y_first, &y_last,
                          &step))
        return NULL;
    if (m < 1 || w < 1 || y_first < 0 || y_last >= m || y_first > y_last) {
        PyErr_Format(PyExc_ValueError,
                     "search: bad band (m=%zd, w=%zd, first row %zd, last row %zd)", m, w,
                     y_first, y_last);
        return NULL;
    }
    Py_buffer bc, bh, bg, bp;
    if (get(oc, &bc, 0, "d", "d", m * w, "cost") < 0) return NULL;
    if (get(oh, &bh, 0, "d", "d", w, "heur") < 0) goto fail_c;
    if (get(og, &bg, 1, "d", "d", m * w, "g") < 0) goto fail_h;
    if (get(op, &bp, 1, "l", "q", m * w, "parent") < 0) goto fail_g;
    int64_t goal = -1, expanded = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = run((const double *)bc.buf, (const double *)bh.buf, (double *)bg.buf, (int64_t *)bp.buf,
             m, w, y_first, y_last, step, &goal, &expanded);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&bp);
    PyBuffer_Release(&bg);
    PyBuffer_Release(&bh);
    PyBuffer_Release(&bc);
    if (rc < 0) return PyErr_NoMemory();
    return Py_BuildValue("(LL)", (long long)goal, (long long)expanded);
fail_g:
    PyBuffer_Release(&bg);
fail_h:
    PyBuffer_Release(&bh);
fail_c:
    PyBuffer_Release(&bc);
    return NULL;
}

static PyMethodDef methods[] = {
    {"search", search, METH_VARARGS,
     "search(c, heur, g, parent, m, w, y_first, y_last, step) -> (goal, expanded): A* on the "
     "flat (m * w,) cost grid, writing g and parent."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_astar", "The A* seam search in C (see seams.py).", -1, methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__astar(void) { return PyModule_Create(&module); }
