#!/usr/bin/env python3
"""One engine's side of bench/engine-compare.sh: onnxruntime, lleaves or treelite + tl2cgen on the benchmark models.

Usage: engine_compare.py ENGINE [--seconds S] [--reps N] [--batches 1,64,1024,65536] [--cache DIR] MODEL_DIR...
ENGINE is ort, lleaves or treelite. Prints one JSON object per model it can load, with the keys of
sluice-bench-engine: load_ms, rss_per_model_mb, cpu_us_per_row_batch<N> (thread CPU time per row, median of
reps). Batch 1 is one row per call through the engine's own C entry point on a preallocated buffer (lleaves'
forest_root and tl2cgen's predict through ctypes, onnxruntime's run), and the cost of an empty call of the same
kind (ctypes with the same arguments and an empty row range; onnxruntime's Identity on [1, 4]) is measured in the
same process and subtracted ("_net"). Larger batches go through each engine's batch entry point with one thread
on the rows of inputs.json tiled to the batch size. Compiled libraries are cached in --cache (compile time is
reported as compile_s, load_ms is loading the compiled library).
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rows_of(d):
    with open(os.path.join(d, "inputs.json")) as f:
        inp = json.load(f)["inputs"]
    if len(inp) != 1 or inp[0]["dtype"] != "float32":
        return None, None
    x = np.array([[np.nan if v is None else v for v in r] for r in inp[0]["data"]], dtype=np.float32)
    return inp[0]["name"], x


def cpu_per(fn, seconds, reps, per):
    """Median thread-CPU µs per `per` rows of fn(i)."""
    out = []
    for _ in range(reps):
        n = 0
        c0 = time.thread_time()
        t0 = time.perf_counter()
        while True:
            for _ in range(10):
                fn(n)
                n += 1
            if time.perf_counter() - t0 >= seconds / reps:
                break
        out.append((time.thread_time() - c0) / n * 1e6 / per)
    return statistics.median(out)


def tiled(x, size):
    return np.ascontiguousarray(x[np.arange(size) % len(x)])


class ORT:
    name = "onnxruntime"

    def __init__(self):
        import onnxruntime as ort
        from onnx import TensorProto, helper
        ort.set_default_logger_severity(3)
        self.ort = ort
        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)])
        m.ir_version = 8
        self.identity = self.session(m.SerializeToString())

    def session(self, src):
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        return self.ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])

    def empty_call(self):
        x1 = np.zeros((1, 4), np.float32)
        return lambda i: self.identity.run(None, {"x": x1})

    def load(self, d, cache):
        return self.session(os.path.join(d, "model.onnx"))

    def single(self, s, x, name):
        singles = [{name: x[r:r + 1]} for r in range(len(x))]
        return lambda i: s.run(None, singles[i % len(singles)])

    def batch(self, s, xb, name):
        return lambda i: s.run(None, {name: xb})


class Lleaves:
    name = "lleaves"

    def __init__(self):
        import lleaves
        self.lleaves = lleaves

    def load(self, d, cache):
        if not os.path.exists(os.path.join(d, "model.txt")):
            return None
        path = os.path.join(cache, os.path.basename(d.rstrip("/")) + ".lleaves.o")
        m = self.lleaves.Model(model_file=os.path.join(d, "model.txt"))
        m.compile(cache=path)  # compiles (and stores) on the first load, loads the object file afterwards
        m._pred_cols = 1 if m._n_classes == 1 else m._n_classes
        return m

    def _ptrs(self, x, rows, cols):
        xd = np.ascontiguousarray(x, dtype=np.float64)
        out = np.zeros(rows * cols)
        return xd, out, xd.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), out.ctypes.data_as(
            ctypes.POINTER(ctypes.c_double))

    def empty_for(self, m, x):
        xd, out, pd, po = self._ptrs(x, len(x), m._pred_cols)
        f = m._c_entry_func
        return lambda i, keep=(xd, out): f(pd, po, 0, 0)

    def single(self, m, x, name):
        xd, out, pd, po = self._ptrs(x, len(x), m._pred_cols)
        f, rows = m._c_entry_func, len(x)
        return lambda i, keep=(xd, out): f(pd, po, i % rows, i % rows + 1)

    def batch(self, m, xb, name):
        xd, out, pd, po = self._ptrs(xb, len(xb), m._pred_cols)
        f, rows = m._c_entry_func, len(xb)
        return lambda i, keep=(xd, out): f(pd, po, 0, rows)


class Treelite:
    name = "treelite"

    def __init__(self):
        import tl2cgen
        import treelite
        self.treelite, self.tl2cgen = treelite, tl2cgen

    def import_model(self, d):
        tl = self.treelite
        name = os.path.basename(d.rstrip("/"))
        if os.path.exists(os.path.join(d, "model.txt")):
            return tl.frontend.load_lightgbm_model(os.path.join(d, "model.txt"))
        if os.path.exists(os.path.join(d, "model.json")):
            return tl.frontend.load_xgboost_model(os.path.join(d, "model.json"))
        sys.path.insert(0, HERE)
        import make_engine_models
        for n, est, _ in make_engine_models.sklearn_estimators(only=name):
            if n == name:
                return tl.sklearn.import_model(est)
        return None

    def load(self, d, cache):
        lib = os.path.join(cache, os.path.basename(d.rstrip("/")) + ".tl2cgen.so")
        if not os.path.exists(lib):
            model = self.import_model(d)
            if model is None:
                return None
            self.tl2cgen.export_lib(model, toolchain="gcc", libpath=lib, params={"parallel_comp": 8}, nthread=1)
        p = self.tl2cgen.Predictor(lib, nthread=1)
        c = ctypes.CDLL(lib)
        c.predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        c.predict.restype = None
        p._c = c
        p._classes = max(1, int(np.prod(p.num_class))) if hasattr(p, "num_class") else 1
        return p

    @staticmethod
    def entries(x):
        """tl2cgen's union Entry rows (8 bytes: double value, or int missing = -1 for NaN)."""
        e = np.ascontiguousarray(x, dtype=np.float64).copy()
        ints = e.view(np.int32).reshape(e.shape[0], e.shape[1], 2)
        ints[np.isnan(x), 0] = -1
        return e

    def empty_for(self, p, x):
        libc = ctypes.CDLL(None)
        memset = libc.memset
        memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        buf = np.zeros(4)
        addr = buf.ctypes.data
        return lambda i, keep=buf: memset(addr, 0, 0)

    def single(self, p, x, name):
        e = self.entries(x)
        out = np.zeros(64)
        rows, width = e.shape
        base, o, f = e.ctypes.data, out.ctypes.data, p._c.predict
        return lambda i, keep=(e, out): f(base + (i % rows) * width * 8, 0, o)

    def batch(self, p, xb, name):
        dm = self.tl2cgen.DMatrix(np.ascontiguousarray(xb, dtype=np.float32), missing=np.nan)
        return lambda i: p.predict(dm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["ort", "lleaves", "treelite"])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batches", default="1,64,1024,65536")
    ap.add_argument("--cache", default=os.path.join(HERE, ".cache"))
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    eng = {"ort": ORT, "lleaves": Lleaves, "treelite": Treelite}[a.engine]()
    batches = [int(b) for b in a.batches.split(",")]
    for d in a.dirs:
        name = os.path.basename(d.rstrip("/"))
        iname, x = rows_of(d)
        if x is None:
            continue
        t0 = time.perf_counter()
        try:
            m = eng.load(d, a.cache)
        except Exception as e:  # a tool that cannot load a model is reported, not fatal
            print(json.dumps({"engine": eng.name, "model": name, "error": str(e)[:200]}))
            continue
        compile_s = time.perf_counter() - t0
        if m is None:
            continue
        loads = []
        for _ in range(3):
            t0 = time.perf_counter()
            eng.load(d, a.cache)
            loads.append(time.perf_counter() - t0)
        before = rss()
        keep = [eng.load(d, a.cache) for _ in range(5)]
        per_model = (rss() - before) / 5
        del keep
        res = {"engine": eng.name, "model": name, "load_ms": statistics.median(loads) * 1000,
               "compile_s": compile_s, "rss_per_model_mb": per_model / 1e6}
        for b in batches:
            if b == 1:
                empty = eng.empty_call() if isinstance(eng, ORT) else eng.empty_for(m, x)
                fn = eng.single(m, x, iname)
                for i in range(20):
                    fn(i)
                full = cpu_per(fn, a.seconds, a.reps, 1)
                over = cpu_per(empty, a.seconds / 2, a.reps, 1)
                res["cpu_us_per_row_batch1_gross"] = full
                res["cpu_us_per_call_empty"] = over
                res["cpu_us_per_row_batch1"] = full - over
            else:
                fn = eng.batch(m, tiled(x, b), iname)
                fn(0)
                res[f"cpu_us_per_row_batch{b}"] = cpu_per(fn, a.seconds, a.reps if b < 65536 else 3, b)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
