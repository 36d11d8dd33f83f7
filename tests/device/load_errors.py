# Bad files, bad arguments and bad inputs (argv: the folder holding good.pml, a KWS model, and NAME.pml for each
# further argument): {case: [exception type, message]}, then the interpreter still runs the good model, and a
# memoryview source is used in place.
import json
import sys
from array import array

import picoml

folder = sys.argv[1]
errors = {}


def attempt(name, f):
    try:
        f()
        errors[name] = None
    except Exception as e:
        errors[name] = [type(e).__name__, str(e)]


for name in sys.argv[2:]:
    attempt(name, lambda: picoml.load(folder + "/" + name + ".pml", backend="python"))
attempt("from_buffer", lambda: picoml.load(open(folder + "/flipped.pml", "rb").read(), backend="python"))
attempt("native", lambda: picoml.load(folder + "/good.pml", backend="native"))
attempt("backend_name", lambda: picoml.load(folder + "/good.pml", backend="cuda"))
attempt("source_type", lambda: picoml.load(42))
m = picoml.load(folder + "/good.pml", backend="python")
attempt("top_first", lambda: m.top())
attempt("short_input", lambda: m.predict(bytes(10)))
attempt("long_list", lambda: m.predict([0.5] * 491))
attempt("int16_input", lambda: m.predict(array("h", [0] * 490)))
attempt("int_input", lambda: m.predict(7))
attempt("str_input", lambda: m.predict("x" * 490))
attempt("nan_input", lambda: m.predict([float("nan")] * 490))
attempt("bad_out", lambda: m.predict(bytes(490), out=array("h", [0] * 12)))
attempt("short_out", lambda: m.predict(bytes(490), out=bytearray(5)))
attempt("read_only_out", lambda: m.predict(bytes(490), out=memoryview(bytes(12))))
y = m.predict(bytes(490))
attempt("top_str", lambda: m.top("0"))
attempt("top_float", lambda: m.top(0.0))
view = memoryview(open(folder + "/good.pml", "rb").read())
m2 = picoml.load(view, backend="python")
print(json.dumps({"errors": errors, "alive": len(y), "in_place": m2.buffer is view,
                  "same": bytes(m2.predict(bytes(490))) == bytes(y)}))
