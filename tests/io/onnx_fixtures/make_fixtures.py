#!/usr/bin/python3
"""Generate the ONNX reader test fixtures of primsel into this script's folder.

Run with Debian's Python (it has python3-onnx and numpy; torch/torchvision are
optional):

    /usr/bin/python3 tests/io/onnx_fixtures/make_fixtures.py

For every fixture <name> it writes <name>.onnx, <name>.in.bin and <name>.out.bin
(raw little-endian float32, C order) and one line in manifest.txt:

    <name> <input shape> <output shape> <abs_tolerance> <description>

Everything is deterministic: every fixture draws its numbers from its own
numpy Generator seeded from the fixture name.

Expected outputs of the hand-built models come from the small numpy reference
interpreter below (`run_reference`), which evaluates the *saved* model file op
by op in float64 and rounds the final result to float32.  Expected outputs of
the torch-exported models are torch's own float32 outputs (the numpy reference
is run on them too, as a cross-check, and the difference is printed).

Tolerance (abs_tolerance column): the expected value is (close to) the exact
result, so the tolerance only has to absorb the float32 rounding of the
implementation under test, which grows with the magnitude of the output and
with the depth of the network:
    single ops and small blocks : 1e-4 * max(1, max|out|)
    LeNet and torch networks    : 1e-3 * max(1, max|out|)
"""

import os
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCER = "primsel tests/io/onnx_fixtures/make_fixtures.py"

TOL_OP = 1e-4
TOL_NET = 1e-3


def seed_of(name):
    return zlib.crc32(name.encode("utf-8"))


# ---------------------------------------------------------------------------
# numpy reference implementation of the ops (float64, inference semantics)
# ---------------------------------------------------------------------------

def _attr_dict(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        out[a.name] = v
    return out


def _pads_for(in_sp, kernel, strides, dilations, auto_pad, pads):
    """Return (begin_pads, end_pads) per spatial dim."""
    n = len(in_sp)
    if auto_pad in ("NOTSET", ""):
        pads = list(pads) if pads is not None else [0] * (2 * n)
        return pads[:n], pads[n:]
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    begins, ends = [], []
    for i in range(n):
        out = -(-in_sp[i] // strides[i])  # ceil(in / stride)
        total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in_sp[i])
        small, big = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":   # the extra pixel goes at the end
            begins.append(small); ends.append(big)
        elif auto_pad == "SAME_LOWER":  # the extra pixel goes at the beginning
            begins.append(big); ends.append(small)
        else:
            raise ValueError(auto_pad)
    return begins, ends


def ref_conv(x, w, b, strides, pb, pe, dilations, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    assert c == cg * group and m % group == 0
    sh, sw = strides
    dh, dw = dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pb[0], pe[0]), (pb[1], pe[1])))
    ho = (h + pb[0] + pe[0] - ((kh - 1) * dh + 1)) // sh + 1
    wo = (wd + pb[1] + pe[1] - ((kw - 1) * dw + 1)) // sw + 1
    y = np.zeros((n, m, ho, wo))
    mg = m // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * mg:(g + 1) * mg]
        for i in range(kh):
            for j in range(kw):
                # input pixels seen by kernel tap (i, j) for every output pixel
                patch = xs[:, :, i * dh: i * dh + sh * (ho - 1) + 1: sh,
                           j * dw: j * dw + sw * (wo - 1) + 1: sw]
                y[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, m, 1, 1)
    return y


def ref_pool(x, kind, kernel, strides, pb, pe, ceil_mode, count_include_pad):
    n, c, h, w = x.shape
    outs = []
    for d, size in enumerate((h, w)):
        span = size + pb[d] + pe[d] - kernel[d]
        o = (-(-span // strides[d]) if ceil_mode else span // strides[d]) + 1
        if ceil_mode:
            # keep fixtures unambiguous: the last window must start inside the
            # input or the left padding (ONNX/PyTorch agree only then)
            assert (o - 1) * strides[d] - pb[d] < size
        outs.append(o)
    ho, wo = outs
    y = np.zeros((n, c, ho, wo))
    for oh in range(ho):
        for ow in range(wo):
            h0, w0 = oh * strides[0] - pb[0], ow * strides[1] - pb[1]
            h1, w1 = h0 + kernel[0], w0 + kernel[1]
            win = x[:, :, max(h0, 0):min(h1, h), max(w0, 0):min(w1, w)]
            if kind == "max":
                y[:, :, oh, ow] = win.max(axis=(2, 3))
            else:
                if count_include_pad:
                    # pixels of the window inside the padded input count
                    rows = min(h1, h + pe[0]) - max(h0, -pb[0])
                    cols = min(w1, w + pe[1]) - max(w0, -pb[1])
                    cnt = rows * cols
                else:
                    cnt = win.shape[2] * win.shape[3]
                y[:, :, oh, ow] = win.sum(axis=(2, 3)) / cnt
    return y


def _softmax_lastaxis(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _opt(ins, i):
    return ins[i] if len(ins) > i else None


def run_node(node, ins, opset):
    op = node.op_type
    at = _attr_dict(node)
    x = ins[0] if ins else None

    if op == "Conv":
        w = ins[1]
        b = _opt(ins, 2)
        k = list(at.get("kernel_shape", w.shape[2:]))
        s = list(at.get("strides", [1, 1]))
        d = list(at.get("dilations", [1, 1]))
        pb, pe = _pads_for(x.shape[2:], k, s, d, at.get("auto_pad", "NOTSET"), at.get("pads"))
        return [ref_conv(x, w, b, s, pb, pe, d, at.get("group", 1))]
    if op in ("MaxPool", "AveragePool"):
        k = list(at["kernel_shape"])
        s = list(at.get("strides", [1, 1]))
        assert list(at.get("dilations", [1, 1])) == [1, 1]
        assert at.get("storage_order", 0) == 0
        assert len(node.output) == 1 or node.output[1] == ""
        pb, pe = _pads_for(x.shape[2:], k, s, [1, 1], at.get("auto_pad", "NOTSET"), at.get("pads"))
        kind = "max" if op == "MaxPool" else "avg"
        return [ref_pool(x, kind, k, s, pb, pe, at.get("ceil_mode", 0), at.get("count_include_pad", 0))]
    if op == "GlobalAveragePool":
        return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if op == "GlobalMaxPool":
        return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if op == "Gemm":
        a, b, c = ins[0], ins[1], _opt(ins, 2)
        if at.get("transA", 0):
            a = a.T
        if at.get("transB", 0):
            b = b.T
        y = at.get("alpha", 1.0) * (a @ b)
        if c is not None:
            y = y + at.get("beta", 1.0) * c
        return [y]
    if op == "MatMul":
        return [np.matmul(ins[0], ins[1])]
    if op == "Flatten":
        axis = at.get("axis", 1)
        if axis < 0:
            axis += x.ndim
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if op == "Reshape":
        shape = [int(v) for v in ins[1]]
        assert at.get("allowzero", 0) == 0
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return [x.reshape(shape)]
    if op == "Relu":
        return [np.maximum(x, 0.0)]
    if op == "Sigmoid":
        return [1.0 / (1.0 + np.exp(-x))]
    if op == "Clip":
        if opset < 11:
            lo, hi = at.get("min", -np.inf), at.get("max", np.inf)
        else:
            lo = _opt(ins, 1)
            hi = _opt(ins, 2)
            lo = -np.inf if lo is None else float(lo)
            hi = np.inf if hi is None else float(hi)
        return [np.minimum(np.maximum(x, lo), hi)]
    if op == "Add":
        return [ins[0] + ins[1]]
    if op == "Sub":
        return [ins[0] - ins[1]]
    if op == "Mul":
        return [ins[0] * ins[1]]
    if op == "Div":
        return [ins[0] / ins[1]]
    if op == "Concat":
        return [np.concatenate(ins, axis=at["axis"])]
    if op == "BatchNormalization":
        assert at.get("spatial", 1) == 1 and at.get("training_mode", 0) == 0
        assert len([o for o in node.output if o]) == 1
        scale, bias, mean, var = ins[1:5]
        eps = at.get("epsilon", 1e-5)
        r = lambda v: v.reshape(1, -1, *([1] * (x.ndim - 2)))
        return [r(scale) * (x - r(mean)) / np.sqrt(r(var) + eps) + r(bias)]
    if op == "Dropout":
        # inference: identity; the optional mask output is all true
        if opset >= 12:
            tm = _opt(ins, 2)
            assert tm is None or not bool(tm)
        outs = [x]
        if len(node.output) > 1:
            outs.append(np.ones(x.shape, dtype=bool))
        return outs
    if op == "Identity":
        return [x]
    if op == "Shape":
        assert "start" not in at and "end" not in at
        return [np.array(x.shape, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x, ins[1], axis=at.get("axis", 0))]
    if op in ("Squeeze", "Unsqueeze"):
        axes = at.get("axes") if opset < 13 else _opt(ins, 1)
        if op == "Squeeze":
            if axes is None:
                return [np.squeeze(x)]
            return [np.squeeze(x, axis=tuple(int(a) % x.ndim for a in axes))]
        rank = x.ndim + len(axes)
        for a in sorted(int(a) % rank for a in axes):
            x = np.expand_dims(x, a)
        return [x]
    if op == "Softmax":
        if opset < 13:
            # ONNX < 13: coerce to 2-D at `axis`, softmax over the whole remainder
            axis = at.get("axis", 1) % x.ndim
            x2 = x.reshape(int(np.prod(x.shape[:axis])), -1)
            return [_softmax_lastaxis(x2).reshape(x.shape)]
        axis = at.get("axis", -1) % x.ndim
        return [np.moveaxis(_softmax_lastaxis(np.moveaxis(x, axis, -1)), -1, axis)]
    if op == "Pad":
        if opset < 11:
            pads, value, axes = list(at["pads"]), at.get("value", 0.0), None
        else:
            pads = [int(v) for v in ins[1]]
            cv = _opt(ins, 2)
            value = 0.0 if cv is None else float(cv)
            axes = _opt(ins, 3) if opset >= 18 else None
        mode = at.get("mode", "constant")
        axes = list(range(x.ndim)) if axes is None else [int(a) % x.ndim for a in axes]
        k = len(axes)
        assert len(pads) == 2 * k and min(pads) >= 0
        widths = [(0, 0)] * x.ndim
        for i, a in enumerate(axes):
            widths[a] = (pads[i], pads[k + i])
        if mode == "constant":
            return [np.pad(x, widths, mode="constant", constant_values=value)]
        return [np.pad(x, widths, mode={"reflect": "reflect", "edge": "edge"}[mode])]
    if op == "ReduceMean":
        keep = bool(at.get("keepdims", 1))
        if opset < 18:
            axes = at.get("axes")
        else:
            axes = _opt(ins, 1)
            if axes is not None and len(axes) == 0:
                axes = None
            if axes is None and at.get("noop_with_empty_axes", 0):
                return [x]
        axes = tuple(range(x.ndim)) if axes is None else tuple(int(a) % x.ndim for a in axes)
        return [x.mean(axis=axes, keepdims=keep)]
    if op == "Constant":
        return [_to_compute(numpy_helper.to_array(at["value"]))]
    raise NotImplementedError("reference has no op " + op)


def _to_compute(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def model_opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    raise ValueError("no default-domain opset")


def run_reference(model, x):
    """Evaluate `model` on float32 input `x`; returns the float32 output."""
    g = model.graph
    opset = model_opset(model)
    env = {t.name: _to_compute(numpy_helper.to_array(t)) for t in g.initializer}
    data_inputs = [i.name for i in g.input if i.name not in env]
    assert len(data_inputs) == 1 and len(g.output) == 1
    env[data_inputs[0]] = x.astype(np.float64)
    for node in g.node:
        ins = [env[n] if n else None for n in node.input]
        while ins and ins[-1] is None:
            ins.pop()
        outs = run_node(node, ins, opset)
        for name, val in zip(node.output, outs):
            if name:
                env[name] = val
    return env[g.output[0].name].astype(np.float32)


# ---------------------------------------------------------------------------
# graph builder
# ---------------------------------------------------------------------------

class Builder:
    def __init__(self, seed, encoding="raw"):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.count = 0
        self.encoding = encoding  # "raw" (raw_data) or "typed" (float_data/int64_data)

    def name(self, prefix):
        self.count += 1
        return "%s_%d" % (prefix, self.count)

    def tensor(self, name, arr, encoding=None):
        enc = encoding or self.encoding
        arr = np.asarray(arr)
        if enc == "raw":
            return numpy_helper.from_array(arr, name)
        dtype = {np.dtype(np.float32): TensorProto.FLOAT,
                 np.dtype(np.int64): TensorProto.INT64}[arr.dtype]
        return helper.make_tensor(name, dtype, arr.shape, arr.flatten().tolist(), raw=False)

    def const(self, arr, prefix="c", encoding=None):
        name = self.name(prefix)
        self.inits.append(self.tensor(name, arr, encoding))
        return name

    def i64(self, vals, prefix="shape", encoding=None):
        return self.const(np.array(vals, dtype=np.int64), prefix, encoding)

    def f32(self, vals, prefix="c", encoding=None):
        return self.const(np.array(vals, dtype=np.float32), prefix, encoding)

    def rand(self, shape, lo=-1.0, hi=1.0):
        return self.rng.uniform(lo, hi, size=shape).astype(np.float32)

    def weight(self, shape, fan_in, prefix="w"):
        std = np.sqrt(2.0 / fan_in)
        return self.const((self.rng.standard_normal(shape) * std).astype(np.float32), prefix)

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name("n_" + op), **attrs))
        return outs[0] if n_out == 1 else outs

    def axes_node(self, op, x, axes, as_input):
        """Squeeze/Unsqueeze: axes as an attribute (opset < 13) or as an int64 input (opset >= 13)."""
        if as_input:
            return self.node(op, [x, self.i64(axes, "axes")])
        return self.node(op, [x], axes=axes)

    # convenience layers ----------------------------------------------------
    def conv(self, x, cin, cout, k, stride=1, pad=None, group=1, bias=True, dil=1,
             kernel_shape_attr=True, **extra):
        if pad is None and "auto_pad" not in extra:
            pad = (k - 1) * dil // 2
        w = self.weight((cout, cin // group, k, k), cin // group * k * k)
        ins = [w]
        if bias:
            ins.append(self.const(self.rand((cout,), -0.2, 0.2), "b"))
        attrs = dict(extra)
        if kernel_shape_attr:
            attrs["kernel_shape"] = [k, k]
        if stride != 1:
            attrs["strides"] = [stride, stride]
        if pad is not None and (pad if isinstance(pad, int) else any(pad)):
            attrs["pads"] = [pad] * 4 if isinstance(pad, int) else list(pad)
        if dil != 1:
            attrs["dilations"] = [dil, dil]
        if group != 1:
            attrs["group"] = group
        return self.node("Conv", [x] + ins, **attrs)

    def bn(self, x, c, eps=1e-5):
        scale = self.const(self.rand((c,), 0.5, 1.5), "bn_scale")
        bias = self.const(self.rand((c,), -0.2, 0.2), "bn_bias")
        mean = self.const(self.rand((c,), -0.2, 0.2), "bn_mean")
        var = self.const(self.rand((c,), 0.5, 1.5), "bn_var")
        attrs = {} if eps == 1e-5 else {"epsilon": eps}
        return self.node("BatchNormalization", [x, scale, bias, mean, var], **attrs)

    def relu(self, x):
        return self.node("Relu", [x])

    def gemm(self, x, k, n, bias=True, **attrs):
        attrs.setdefault("transB", 1)
        w = self.weight((n, k) if attrs["transB"] else (k, n), k)
        ins = [x, w]
        if bias:
            ins.append(self.const(self.rand((n,), -0.2, 0.2), "b"))
        return self.node("Gemm", ins, **attrs)


# ---------------------------------------------------------------------------
# fixture registry / writer
# ---------------------------------------------------------------------------

MANIFEST = []
SIZES = {}
UNCHECKED = []


def shape_str(shape):
    return "x".join(str(int(d)) for d in shape)


def finish_model(b, in_shape, out_name, opset, ir_version=None, batch_param=None,
                 inits_as_inputs=False, graph_name="g"):
    """Build the ModelProto; the declared output shape is taken from the reference."""
    probe_in = helper.make_tensor_value_info("input", TensorProto.FLOAT, list(in_shape))
    probe_out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)
    probe = helper.make_model(helper.make_graph(b.nodes, graph_name, [probe_in], [probe_out],
                                                initializer=b.inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    out_shape = list(run_reference(probe, np.zeros(in_shape, np.float32)).shape)
    ins, outs = list(in_shape), list(out_shape)
    if batch_param:
        ins[0] = batch_param
        outs[0] = batch_param
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ins)]
    if inits_as_inputs:
        for t in b.inits:
            inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    graph = helper.make_graph(b.nodes, graph_name, inputs,
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, outs)],
                              initializer=b.inits)
    kw = {"producer_name": PRODUCER, "opset_imports": [helper.make_opsetid("", opset)]}
    if ir_version is not None:
        kw["ir_version"] = ir_version
    return helper.make_model(graph, **kw)


def check(name, model):
    if model_opset(model) > onnx.defs.onnx_opset_version():
        # onnx 1.12 knows opsets <= 17 only: it validates the nodes of an
        # opset-18 model against the opset-17 schemas and rejects e.g. the
        # 4-input Pad / 2-input ReduceMean.  Validate what we can and note it.
        try:
            onnx.checker.check_model(model, full_check=True)
        except onnx.checker.ValidationError as e:
            UNCHECKED.append(name)
            print("  note: %s: installed onnx %s cannot validate opset %d (%s)"
                  % (name, onnx.__version__, model_opset(model), str(e).splitlines()[0]))
        return
    onnx.checker.check_model(model, full_check=True)


def write_fixture(name, model, x, y, tol_scale, desc):
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert np.all(np.isfinite(y))
    data = model.SerializeToString()
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(data)
    x.astype("<f4").tofile(os.path.join(HERE, name + ".in.bin"))
    y.astype("<f4").tofile(os.path.join(HERE, name + ".out.bin"))
    tol = tol_scale * max(1.0, float(np.abs(y).max()))
    MANIFEST.append("%s %s %s %.3g %s" % (name, shape_str(x.shape), shape_str(y.shape), tol, desc))
    SIZES[name] = len(data)


def emit(name, build, in_shape, desc, tol_scale=TOL_OP, in_range=(-1.0, 1.0), batch=None,
         input_seed=None, **mk):
    """build(b, x_name) -> output name.  Writes the fixture."""
    b = Builder(seed_of(name if "model_seed" not in mk else mk.pop("model_seed")),
                mk.pop("encoding", "raw"))
    out = build(b, "input")
    opset = mk.pop("opset")
    model = finish_model(b, in_shape, out, opset, **mk)
    check(name, model)
    model = onnx.load_from_string(model.SerializeToString())
    run_shape = list(in_shape)
    if batch is not None:
        run_shape[0] = batch
    x = np.random.default_rng(seed_of(input_seed or name + ".input")).uniform(
        in_range[0], in_range[1], size=run_shape).astype(np.float32)
    y = run_reference(model, x)
    write_fixture(name, model, x, y, tol_scale, "(opset %d) %s" % (opset, desc))


# ---------------------------------------------------------------------------
# hand-built fixtures
# ---------------------------------------------------------------------------

def build_all():
    S = (1, 3, 8, 8)
    S8 = (1, 8, 8, 8)

    # 1. Conv ---------------------------------------------------------------
    emit("conv_3x3_bias", lambda b, x: b.conv(x, 3, 8, 3), S,
         "Conv 3x3 pads 1 with bias", opset=11)
    emit("conv_3x3_nobias", lambda b, x: b.conv(x, 3, 8, 3, bias=False), S,
         "Conv 3x3 pads 1 without bias (2 inputs)", opset=11)
    emit("conv_3x3_bias_op7", lambda b, x: b.conv(x, 3, 4, 3), S,
         "Conv 3x3 pads 1 with bias, oldest opset primsel reads (7)", opset=7)
    emit("conv_s2_asym_pads", lambda b, x: b.conv(x, 3, 6, 3, stride=2, pad=[0, 1, 2, 0]), (1, 3, 9, 8),
         "Conv 3x3 stride 2, explicit asymmetric pads [top 0, left 1, bottom 2, right 0] on 9x8", opset=11)
    emit("conv_dilation2", lambda b, x: b.conv(x, 3, 4, 3, dil=2, pad=2), (1, 3, 10, 10),
         "Conv 3x3 dilations 2 pads 2", opset=11)
    emit("conv_dilation2_nopad_stride2", lambda b, x: b.conv(x, 4, 4, 3, dil=2, stride=2, pad=0), (1, 4, 11, 11),
         "Conv 3x3 dilations 2 stride 2 no pads", opset=13)
    emit("conv_group2", lambda b, x: b.conv(x, 8, 6, 3, group=2), S8,
         "Conv 3x3 group 2 (8 -> 6 channels)", opset=11)
    emit("conv_depthwise", lambda b, x: b.conv(x, 8, 8, 3, group=8), S8,
         "Conv 3x3 depthwise group = C = 8", opset=11)
    emit("conv_depthwise_s2_mult2", lambda b, x: b.conv(x, 4, 8, 3, group=4, stride=2), (1, 4, 8, 8),
         "Conv 3x3 stride 2 group 4, 4 -> 8 channels (depth multiplier 2)", opset=11)
    emit("conv_1x1", lambda b, x: b.conv(x, 8, 16, 1), S8,
         "Conv 1x1 8 -> 16 with bias", opset=13)
    emit("conv_1x1_s2", lambda b, x: b.conv(x, 8, 16, 1, stride=2, bias=False), S8,
         "Conv 1x1 stride 2 without bias", opset=13)
    emit("conv_5x5", lambda b, x: b.conv(x, 3, 4, 5), (1, 3, 12, 12),
         "Conv 5x5 pads 2", opset=17)
    emit("conv_autopad_same_upper_k2", lambda b, x: b.conv(x, 3, 4, 2, auto_pad="SAME_UPPER"), S,
         "Conv 2x2 stride 1 auto_pad SAME_UPPER (pad bottom/right 1)", opset=11)
    emit("conv_autopad_same_lower_k2", lambda b, x: b.conv(x, 3, 4, 2, auto_pad="SAME_LOWER"), S,
         "Conv 2x2 stride 1 auto_pad SAME_LOWER (pad top/left 1)", opset=11)
    emit("conv_autopad_same_upper_s2", lambda b, x: b.conv(x, 3, 4, 3, stride=2, auto_pad="SAME_UPPER"), S,
         "Conv 3x3 stride 2 auto_pad SAME_UPPER on 8x8 (pads 0 before, 1 after)", opset=11)
    emit("conv_autopad_same_lower_s2", lambda b, x: b.conv(x, 3, 4, 3, stride=2, auto_pad="SAME_LOWER"), S,
         "Conv 3x3 stride 2 auto_pad SAME_LOWER on 8x8 (pads 1 before, 0 after)", opset=11)
    emit("conv_autopad_valid", lambda b, x: b.conv(x, 3, 4, 3, stride=2, auto_pad="VALID"), (1, 3, 9, 9),
         "Conv 3x3 stride 2 auto_pad VALID on 9x9", opset=11)
    emit("conv_no_kernel_shape", lambda b, x: b.conv(x, 3, 4, 3, kernel_shape_attr=False), S,
         "Conv 3x3 pads 1 without kernel_shape attribute (inferred from W)", opset=11)

    # 2. pooling --------------------------------------------------------------
    emit("maxpool_3x3_s2_p1", lambda b, x: b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
                                                   pads=[1, 1, 1, 1]), S8,
         "MaxPool 3x3 stride 2 pads 1", opset=11)
    emit("maxpool_2x2_s2_op7", lambda b, x: b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]), S8,
         "MaxPool 2x2 stride 2", opset=7)
    emit("maxpool_ceil_op10", lambda b, x: b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
                                                   ceil_mode=1), S8,
         "MaxPool 3x3 stride 2 ceil_mode 1 on 8x8 -> 4x4 (floor would give 3x3)", opset=10)
    emit("maxpool_ceil_op12", lambda b, x: b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
                                                   ceil_mode=1), (1, 4, 10, 10),
         "MaxPool 3x3 stride 2 ceil_mode 1 on 10x10 -> 5x5", opset=12)
    emit("maxpool_same_upper", lambda b, x: b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
                                                    auto_pad="SAME_UPPER"), S8,
         "MaxPool 3x3 stride 2 auto_pad SAME_UPPER on 8x8 (pads 0 before, 1 after)", opset=11)
    emit("avgpool_pads_cip0", lambda b, x: b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1],
                                                   pads=[1, 1, 1, 1], count_include_pad=0), S8,
         "AveragePool 3x3 stride 1 pads 1 count_include_pad 0", opset=11)
    emit("avgpool_pads_cip1", lambda b, x: b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1],
                                                   pads=[1, 1, 1, 1], count_include_pad=1), S8,
         "AveragePool 3x3 stride 1 pads 1 count_include_pad 1", opset=11)
    emit("avgpool_2x2_s2", lambda b, x: b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2]), S8,
         "AveragePool 2x2 stride 2 no pads", opset=11)
    emit("globalavgpool", lambda b, x: b.node("GlobalAveragePool", [x]), S8,
         "GlobalAveragePool -> [1,8,1,1]", opset=11)
    emit("globalmaxpool", lambda b, x: b.node("GlobalMaxPool", [x]), S8,
         "GlobalMaxPool -> [1,8,1,1]", opset=11)

    # 3. Gemm / MatMul ---------------------------------------------------------
    F = (1, 4, 4, 4)  # flattens to 64
    emit("gemm_flatten_transb_bias",
         lambda b, x: b.gemm(b.node("Flatten", [x], axis=1), 64, 10), F,
         "Flatten(axis 1) -> Gemm transB=1 with C of shape [N]", opset=11)
    emit("gemm_reshape_alpha_beta",
         lambda b, x: b.gemm(b.node("Reshape", [x, b.i64([1, -1])]), 64, 10, alpha=0.5, beta=2.0), F,
         "Reshape [1,-1] -> Gemm transB=1 alpha 0.5 beta 2.0, C [N]", opset=11)
    emit("gemm_reshape_noc",
         lambda b, x: b.gemm(b.node("Reshape", [x, b.i64([0, -1])]), 64, 10, bias=False), F,
         "Reshape [0,-1] -> Gemm transB=1 without C", opset=11)
    emit("gemm_transa0_transb0",
         lambda b, x: b.gemm(b.node("Flatten", [x], axis=1), 64, 10, transA=0, transB=0), F,
         "Flatten -> Gemm transA=0 transB=0 (explicit), B [K,N], C [N]", opset=13)

    def gemm_c_1xn(b, x):
        f = b.node("Flatten", [x])
        w = b.weight((10, 64), 64)
        c = b.const(b.rand((1, 10), -0.2, 0.2), "b")
        return b.node("Gemm", [f, w, c], transB=1)
    emit("gemm_c_1xn_op9", gemm_c_1xn, F, "Flatten -> Gemm transB=1 with C of shape [1,N]", opset=9)

    def matmul_2d(b, x):
        f = b.node("Flatten", [x], axis=1)
        w = b.weight((64, 10), 64)
        return b.node("Add", [b.node("MatMul", [f, w]), b.const(b.rand((10,), -0.2, 0.2), "b")])
    emit("matmul_2d_add", matmul_2d, F, "Flatten -> MatMul [64,10] -> Add bias [10]", opset=13)

    # 4. activations / elementwise ----------------------------------------------
    emit("relu", lambda b, x: b.relu(x), S, "Relu", opset=13)
    emit("sigmoid", lambda b, x: b.node("Sigmoid", [x]), S, "Sigmoid", in_range=(-6, 6), opset=13)
    emit("clip_op7", lambda b, x: b.node("Clip", [x], min=0.0, max=6.0), S,
         "Clip min 0 max 6 as attributes, Clip-6 semantics (input in [-8,8])", in_range=(-8, 8), opset=7)
    emit("clip_op11", lambda b, x: b.node("Clip", [x, b.f32(0.0, "min"), b.f32(6.0, "max")]), S,
         "Clip min 0 max 6 as scalar initializer inputs (input in [-8,8])", in_range=(-8, 8), opset=11)
    emit("clip_op13", lambda b, x: b.node("Clip", [x, b.f32(-1.5, "min"), b.f32(2.5, "max")]), S,
         "Clip min -1.5 max 2.5 as scalar initializer inputs (input in [-4,4])", in_range=(-4, 4), opset=13)
    emit("clip_op13_max_only", lambda b, x: b.node("Clip", [x, "", b.f32(2.0, "max")]), S,
         "Clip with min input empty string \"\" and max 2.0 (input in [-4,4])", in_range=(-4, 4), opset=13)
    emit("clip_op11_max_only", lambda b, x: b.node("Clip", [x, "", b.f32(6.0, "max")]), S,
         "Clip with min input \"\" and max 6.0 (input in [-8,8])", in_range=(-8, 8), opset=11)

    def clip_constant_nodes(b, x):
        lo = b.node("Constant", [], value=numpy_helper.from_array(np.array(0.0, np.float32), "lo"))
        hi = b.node("Constant", [], value=numpy_helper.from_array(np.array(6.0, np.float32), "hi"))
        return b.node("Clip", [x, lo, hi])
    emit("clip_op11_constant_nodes", clip_constant_nodes, S,
         "Clip with min 0 / max 6 from Constant nodes (torch ReLU6 pattern, input in [-8,8])",
         in_range=(-8, 8), opset=11)

    emit("add_bcast_const", lambda b, x: b.node("Add", [b.conv(x, 3, 8, 3), b.const(b.rand((1, 8, 1, 1)), "bias")]),
         S, "Conv -> Add with broadcast constant [1,C,1,1]", opset=13)
    emit("add_two_activations", lambda b, x: b.node("Add", [b.conv(x, 3, 8, 3), b.conv(x, 3, 8, 1)]), S,
         "Add of two activations of the same shape (conv3x3(x) + conv1x1(x))", opset=13)

    def mul_se(b, x):
        g = b.node("GlobalAveragePool", [x])
        s = b.node("Sigmoid", [b.conv(b.relu(b.conv(g, 8, 4, 1)), 4, 8, 1)])
        return b.node("Mul", [x, s])
    emit("mul_se_bcast", mul_se, S8,
         "squeeze-excite: x * Sigmoid(conv1x1(relu(conv1x1(GAP(x))))) with [N,C,1,1] broadcast", opset=13)

    def concat3(b, x):
        return b.node("Concat", [b.conv(x, 3, 4, 1), b.relu(x), b.conv(x, 3, 5, 3)], axis=1)
    emit("concat_axis1_3inputs", concat3, S,
         "Concat axis 1 of 3 inputs with 4, 3 and 5 channels", opset=11)

    # 5. BatchNormalization / Dropout / Identity -----------------------------------
    emit("batchnorm_op9", lambda b, x: b.bn(b.conv(x, 3, 8, 3), 8, eps=1e-3), S,
         "Conv -> BatchNormalization epsilon 1e-3", opset=9)
    emit("batchnorm_op15", lambda b, x: b.bn(x, 8, eps=1e-2), S8,
         "BatchNormalization epsilon 1e-2 directly on the input", opset=15)
    emit("batchnorm_op7", lambda b, x: b.bn(b.conv(x, 3, 8, 3), 8, eps=1e-4), S,
         "Conv -> BatchNormalization epsilon 1e-4 (opset 7, no spatial attribute)", opset=7)
    emit("dropout_op7", lambda b, x: b.relu(b.node("Dropout", [b.conv(x, 3, 8, 3)], ratio=0.3)), S,
         "Conv -> Dropout(ratio attribute 0.3) -> Relu; Dropout is identity in inference", opset=7)

    def dropout_new(b, x):
        d, _mask = b.node("Dropout", [b.conv(x, 3, 8, 3), b.f32(0.3, "ratio")], n_out=2)
        return b.relu(d)
    emit("dropout_op12", dropout_new, S,
         "Conv -> Dropout(ratio as input 0.3, mask output present but unused) -> Relu", opset=12)
    emit("dropout_op13", dropout_new, S,
         "Conv -> Dropout(ratio as input 0.3, mask output present but unused) -> Relu", opset=13)
    emit("identity", lambda b, x: b.relu(b.node("Identity", [b.conv(x, 3, 8, 3)])), S,
         "Conv -> Identity -> Relu", opset=13)

    # 6. Flatten / Reshape -----------------------------------------------------------
    emit("flatten_axis1", lambda b, x: b.node("Flatten", [b.conv(x, 3, 4, 3)], axis=1), S,
         "Conv -> Flatten axis 1 -> [1, 256]", opset=11)
    emit("reshape_const_0_m1", lambda b, x: b.node("Reshape", [b.conv(x, 3, 4, 3), b.i64([0, -1])]), S,
         "Conv -> Reshape with constant shape initializer [0, -1]", opset=13)
    emit("reshape_const_0_m1_4d", lambda b, x: b.node("Reshape", [b.conv(x, 3, 4, 3), b.i64([0, -1, 1, 1])]), S,
         "Conv -> Reshape with constant shape [0, -1, 1, 1] -> [1, 256, 1, 1]", opset=13)

    def view_pattern(axes_as_input):
        def build(b, x):
            c = b.relu(b.conv(x, 3, 4, 3))
            shp = b.node("Shape", [c])
            idx = b.node("Constant", [], value=numpy_helper.from_array(np.array(0, np.int64), "idx"))
            n = b.node("Gather", [shp, idx], axis=0)
            u = b.axes_node("Unsqueeze", n, [0], axes_as_input)
            m1 = b.node("Constant", [], value=numpy_helper.from_array(np.array([-1], np.int64), "m1"))
            shape = b.node("Concat", [u, m1], axis=0)
            r = b.node("Reshape", [c, shape])
            return b.gemm(r, 256, 10)
        return build
    emit("reshape_view_pattern_op11", view_pattern(False), S,
         "x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze(axes attr) -> Concat([-1]) -> Reshape -> Gemm",
         opset=11)
    emit("reshape_view_pattern_op13", view_pattern(True), S,
         "x.view(x.size(0), -1): Shape -> Gather(0) -> Unsqueeze(axes input) -> Concat([-1]) -> Reshape -> Gemm",
         opset=13)

    # 7. Softmax ----------------------------------------------------------------------
    emit("softmax_op11_axis1_2d", lambda b, x: b.node("Softmax", [x], axis=1), (2, 10),
         "Softmax axis 1 on 2-D [N,K] (N = 2)", in_range=(-3, 3), opset=11)
    emit("softmax_op13_default_axis", lambda b, x: b.node("Softmax", [x]), (2, 10),
         "Softmax default axis (-1) on [2,10]", in_range=(-3, 3), opset=13)
    emit("softmax_op11_4d_axis1", lambda b, x: b.node("Softmax", [x], axis=1), (1, 3, 4, 4),
         "Softmax axis 1 on 4-D, ONNX<13 semantics: flatten to [1,48] and normalise over all 48 values",
         in_range=(-3, 3), opset=11)
    emit("softmax_op13_4d_axis1", lambda b, x: b.node("Softmax", [x], axis=1), (1, 3, 4, 4),
         "Softmax axis 1 on 4-D, ONNX>=13 semantics: normalise over the 3 channels per pixel",
         in_range=(-3, 3), opset=13)
    emit("gemm_softmax_op11_default_axis", lambda b, x: b.node("Softmax", [b.gemm(b.node("Flatten", [x]), 64, 10)]),
         F, "Flatten -> Gemm -> Softmax default axis (1 at opset 11)", opset=11)

    # 8. Pad ----------------------------------------------------------------------------
    P = (1, 3, 5, 6)
    pads = [0, 0, 1, 2, 0, 0, 2, 1]
    emit("pad_op7_constant", lambda b, x: b.node("Pad", [x], pads=pads, mode="constant", value=0.5), P,
         "Pad pads attribute [0,0,1,2,0,0,2,1], mode constant value 0.5, Pad-2 semantics", opset=7)
    emit("pad_op11_constant", lambda b, x: b.node("Pad", [x, b.i64(pads, "pads"), b.f32(0.25, "value")],
                                                   mode="constant"), P,
         "Pad pads as input [0,0,1,2,0,0,2,1], constant_value input 0.25", opset=11)
    emit("pad_op11_constant_novalue", lambda b, x: b.node("Pad", [x, b.i64(pads, "pads")]), P,
         "Pad pads as input, no constant_value input, default mode (constant 0)", opset=11)
    emit("pad_op11_reflect", lambda b, x: b.node("Pad", [x, b.i64(pads, "pads")], mode="reflect"), P,
         "Pad pads as input [0,0,1,2,0,0,2,1], mode reflect", opset=11)
    emit("pad_op11_edge", lambda b, x: b.node("Pad", [x, b.i64(pads, "pads")], mode="edge"), P,
         "Pad pads as input [0,0,1,2,0,0,2,1], mode edge", opset=11)
    emit("pad_op13_then_conv", lambda b, x: b.conv(b.node("Pad", [x, b.i64(pads, "pads"), b.f32(0.0, "value")]),
                                                    3, 4, 3, pad=0), P,
         "Pad (constant 0) -> Conv 3x3 no pads (explicit padding before conv)", opset=13)
    emit("pad_op18_axes", lambda b, x: b.node("Pad", [x, b.i64([1, 2, 2, 1], "pads"), b.f32(-0.5, "value"),
                                                      b.i64([2, 3], "axes")], mode="constant"), P,
         "Pad with axes input [2,3], pads [1,2,2,1] (H: 1 before 2 after, W: 2 before 1 after), value -0.5",
         opset=18)

    # 9. Squeeze / Unsqueeze ---------------------------------------------------------------
    def squeeze_gemm(axes_as_input):
        def build(b, x):
            g = b.node("GlobalAveragePool", [x])
            s = b.axes_node("Squeeze", g, [2, 3], axes_as_input)
            return b.gemm(s, 8, 10)
        return build
    emit("squeeze_gemm_op11", squeeze_gemm(False), S8,
         "GlobalAveragePool -> Squeeze(axes attr [2,3]) -> Gemm", opset=11)
    emit("squeeze_gemm_op13", squeeze_gemm(True), S8,
         "GlobalAveragePool -> Squeeze(axes input [2,3]) -> Gemm", opset=13)

    def unsqueeze_se(axes_as_input):
        def build(b, x):
            g = b.node("GlobalAveragePool", [x])
            s = b.axes_node("Squeeze", g, [2, 3], axes_as_input)
            e = b.node("Sigmoid", [b.gemm(b.relu(b.gemm(s, 8, 4)), 4, 8)])
            u = b.axes_node("Unsqueeze", e, [2, 3], axes_as_input)
            return b.node("Mul", [x, u])
        return build
    emit("unsqueeze_se_op11", unsqueeze_se(False), S8,
         "SE block: GAP -> Squeeze[2,3] -> Gemm -> Relu -> Gemm -> Sigmoid -> Unsqueeze(axes attr [2,3]) -> Mul x",
         opset=11)
    emit("unsqueeze_se_op13", unsqueeze_se(True), S8,
         "SE block: GAP -> Squeeze[2,3] -> Gemm -> Relu -> Gemm -> Sigmoid -> Unsqueeze(axes input [2,3]) -> Mul x",
         opset=13)

    # 10. ReduceMean --------------------------------------------------------------------------
    emit("reducemean_op13_keepdims1", lambda b, x: b.node("ReduceMean", [x], axes=[2, 3], keepdims=1), S8,
         "ReduceMean axes attr [2,3] keepdims 1 -> [1,8,1,1]", opset=13)
    emit("reducemean_op13_keepdims0", lambda b, x: b.node("ReduceMean", [x], axes=[2, 3], keepdims=0), S8,
         "ReduceMean axes attr [2,3] keepdims 0 -> [1,8]", opset=13)
    emit("reducemean_op13_neg_axes", lambda b, x: b.node("ReduceMean", [x], axes=[-1, -2]), S8,
         "ReduceMean axes attr [-1,-2], keepdims default (1)", opset=13)
    emit("reducemean_op18_keepdims1", lambda b, x: b.node("ReduceMean", [x, b.i64([2, 3], "axes")], keepdims=1), S8,
         "ReduceMean axes input [2,3] keepdims 1 -> [1,8,1,1]", opset=18)
    emit("reducemean_op18_keepdims0", lambda b, x: b.node("ReduceMean", [x, b.i64([2, 3], "axes")], keepdims=0), S8,
         "ReduceMean axes input [2,3] keepdims 0 -> [1,8]", opset=18)

    # 11. Constant node -------------------------------------------------------------------------
    def constant_conv_weight(b, x):
        w = (b.rng.standard_normal((4, 3, 3, 3)) * np.sqrt(2 / 27)).astype(np.float32)
        wn = b.node("Constant", [], value=numpy_helper.from_array(w, "w_value"))
        return b.node("Conv", [x, wn, b.const(b.rand((4,), -0.2, 0.2), "b")], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    emit("constant_conv_weight", constant_conv_weight, S,
         "Constant node (value TensorProto) provides the Conv weight", opset=11)

    def constant_add(b, x):
        cst = b.node("Constant", [], value=numpy_helper.from_array(b.rand((1, 8, 1, 1)), "add_value"))
        return b.node("Add", [b.conv(x, 3, 8, 3), cst])
    emit("constant_add", constant_add, S,
         "Conv -> Add of a [1,8,1,1] Constant node output", opset=13)

    # 12. initializer encodings --------------------------------------------------------------------
    def enc_net(b, x):
        c = b.relu(b.conv(x, 3, 4, 3))
        r = b.node("Reshape", [c, b.i64([0, -1])])
        return b.gemm(r, 256, 10)
    emit("init_raw_data", enc_net, S,
         "Conv/Relu/Reshape[0,-1]/Gemm; all initializers stored in raw_data",
         opset=13, model_seed="init_encoding", input_seed="init_encoding", encoding="raw")
    emit("init_float_data", enc_net, S,
         "same weights and input as init_raw_data, floats stored in float_data and the shape in int64_data",
         opset=13, model_seed="init_encoding", input_seed="init_encoding", encoding="typed")

    def int64_shape(b, x):
        c = b.relu(b.conv(x, 3, 4, 3))
        r = b.node("Reshape", [c, b.i64([1, 256], encoding="typed")])
        return b.gemm(r, 256, 10)
    emit("init_int64_data_shape", int64_shape, S,
         "Reshape shape initializer [1,256] stored in int64_data (floats in raw_data)", opset=13)

    def old_style(b, x):
        c = b.relu(b.bn(b.conv(x, 3, 8, 3), 8))
        p = b.node("MaxPool", [c], kernel_shape=[2, 2], strides=[2, 2])
        r = b.node("Reshape", [p, b.i64([1, 128])])
        w = b.weight((10, 128), 128)
        cc = b.const(b.rand((1, 10), -0.2, 0.2), "b")
        return b.node("Gemm", [r, w, cc], transB=1)
    emit("old_style_ir3_op7", old_style, S,
         "ir_version 3: every initializer is also listed in graph.input; Conv/BN/Relu/MaxPool/Reshape/Gemm",
         opset=7, ir_version=3, inits_as_inputs=True)

    # 13. dynamic batch -----------------------------------------------------------------------------
    def dyn(b, x):
        c = b.relu(b.conv(x, 3, 8, 3))
        g = b.node("GlobalAveragePool", [c])
        return b.gemm(b.node("Flatten", [g]), 8, 10)
    emit("dynamic_batch", dyn, S,
         "input/output batch dim_param \"N\"; Conv/Relu/GAP/Flatten/Gemm; run with batch 1",
         opset=13, model_seed="dynamic_batch", batch_param="N")
    emit("dynamic_batch_b2", dyn, S,
         "same model as dynamic_batch (dim_param \"N\"), run with batch 2",
         opset=13, model_seed="dynamic_batch", batch_param="N", batch=2)

    # 14. small networks -------------------------------------------------------------------------------
    def lenet(b, x):
        c1 = b.node("MaxPool", [b.relu(b.conv(x, 1, 6, 5, pad=2))], kernel_shape=[2, 2], strides=[2, 2])
        c2 = b.node("MaxPool", [b.relu(b.conv(c1, 6, 16, 5, pad=0))], kernel_shape=[2, 2], strides=[2, 2])
        f = b.node("Flatten", [c2], axis=1)
        h = b.relu(b.gemm(f, 400, 120))
        h = b.relu(b.gemm(h, 120, 84))
        return b.gemm(h, 84, 10)
    emit("lenet5", lenet, (1, 1, 28, 28),
         "LeNet-5: conv5x5(pad 2)-relu-maxpool2, conv5x5-relu-maxpool2, Flatten, Gemm 400-120-84-10",
         tol_scale=TOL_NET, opset=9)

    def basic_block(b, x):
        y = b.relu(b.bn(b.conv(x, 16, 16, 3, bias=False), 16))
        y = b.bn(b.conv(y, 16, 16, 3, bias=False), 16)
        return b.relu(b.node("Add", [y, x]))
    emit("resnet_basic_block", basic_block, (1, 16, 8, 8),
         "ResNet basic block 16ch: conv3x3-BN-Relu-conv3x3-BN + identity shortcut, Relu",
         opset=13)

    def basic_block_proj(b, x):
        y = b.relu(b.bn(b.conv(x, 16, 32, 3, stride=2, bias=False), 32))
        y = b.bn(b.conv(y, 32, 32, 3, bias=False), 32)
        s = b.bn(b.conv(x, 16, 32, 1, stride=2, bias=False), 32)
        return b.relu(b.node("Add", [y, s]))
    emit("resnet_basic_block_proj", basic_block_proj, (1, 16, 8, 8),
         "ResNet basic block 16->32 stride 2 with 1x1 stride-2 conv+BN projection shortcut",
         opset=13)

    def inception(b, x):
        b1 = b.relu(b.conv(x, 16, 8, 1))
        b2 = b.relu(b.conv(b.relu(b.conv(x, 16, 8, 1)), 8, 12, 3))
        b3 = b.relu(b.conv(b.relu(b.conv(x, 16, 4, 1)), 4, 8, 5))
        p = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
        b4 = b.relu(b.conv(p, 16, 8, 1))
        return b.node("Concat", [b1, b2, b3, b4], axis=1)
    emit("inception_block", inception, (1, 16, 8, 8),
         "Inception block: 1x1 | 1x1->3x3 | 1x1->5x5 | maxpool3x3 s1->1x1, Concat axis 1 -> 36ch",
         opset=11)

    def mbv2(b, x):
        def clip(v):
            return b.node("Clip", [v, b.f32(0.0, "min"), b.f32(6.0, "max")])
        y = clip(b.bn(b.conv(x, 8, 32, 1, bias=False), 32))
        y = clip(b.bn(b.conv(y, 32, 32, 3, group=32, bias=False), 32))
        y = b.bn(b.conv(y, 32, 8, 1, bias=False), 8)
        return b.node("Add", [x, y])
    emit("mobilenetv2_block", mbv2, (1, 8, 8, 8),
         "MobileNetV2 inverted residual: 1x1 expand 8->32, BN, Clip 0..6, 3x3 depthwise, BN, Clip, "
         "1x1 project, BN, Add x", in_range=(-3, 3), opset=13)

    def fire(b, x):
        s = b.relu(b.conv(x, 16, 8, 1))
        e1 = b.relu(b.conv(s, 8, 16, 1))
        e3 = b.relu(b.conv(s, 8, 16, 3))
        return b.node("Concat", [e1, e3], axis=1)
    emit("squeezenet_fire", fire, (1, 16, 8, 8),
         "SqueezeNet fire module: squeeze 1x1 16->8 relu, expand 1x1 ->16 and 3x3 ->16 relu, Concat -> 32ch",
         opset=9)


# ---------------------------------------------------------------------------
# torch / torchvision exports
# ---------------------------------------------------------------------------

def build_torch():
    try:
        import torch
        import torch.nn as nn
        import torchvision
        from torchvision.models.resnet import BasicBlock
        from torchvision.models.vgg import VGG, make_layers
        from torchvision.models.googlenet import BasicConv2d, Inception
    except ImportError as e:
        print("torch/torchvision not importable (%s): torch fixtures not regenerated" % e)
        return False
    import io

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    class SmallResNet(nn.Module):
        """torchvision ResNet-18 layout ([1,1,1,1] BasicBlocks) with widths 8/16/32/64.

        The stock ResNet(BasicBlock, [1,1,1,1]) is ~19 MB and widths 16/32/64/128
        give 1.25 MB per file, too much for the folder budget; 8/16/32/64 ~0.3 MB."""

        def __init__(self, layers=(1, 1, 1, 1), widths=(8, 16, 32, 64), num_classes=10):
            super().__init__()
            self.inplanes = widths[0]
            self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(widths[0], layers[0], 1)
            self.layer2 = self._make_layer(widths[1], layers[1], 2)
            self.layer3 = self._make_layer(widths[2], layers[2], 2)
            self.layer4 = self._make_layer(widths[3], layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(widths[3], num_classes)

        def _make_layer(self, planes, blocks, stride):
            down = None
            if stride != 1 or self.inplanes != planes:
                down = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                     nn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, stride, down)]
            self.inplanes = planes
            layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class TinyGoogLeNet(nn.Module):
        """GoogLeNet layout (stem, maxpool ceil_mode, Inception blocks, GAP, fc) with small widths."""

        def __init__(self, num_classes=10):
            super().__init__()
            self.conv1 = BasicConv2d(3, 16, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.conv2 = BasicConv2d(16, 16, kernel_size=1)
            self.conv3 = BasicConv2d(16, 32, kernel_size=3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception3a = Inception(32, 8, 8, 16, 4, 8, 8)      # -> 40
            self.inception3b = Inception(40, 16, 16, 24, 4, 8, 8)    # -> 56
            self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
            self.inception4a = Inception(56, 16, 12, 24, 4, 8, 8)    # -> 56
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(56, num_classes)

        def forward(self, x):
            x = self.maxpool1(self.conv1(x))
            x = self.maxpool2(self.conv3(self.conv2(x)))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            x = self.inception4a(x)
            x = torch.flatten(self.avgpool(x), 1)
            return self.fc(self.dropout(x))

    def tiny_vgg():
        m = VGG(make_layers([8, "M", 16, "M", 32, 32, "M"], batch_norm=True), num_classes=10)
        m.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        m.classifier = nn.Sequential(nn.Linear(32 * 2 * 2, 64), nn.ReLU(True), nn.Dropout(0.5),
                                     nn.Linear(64, 10))
        return m

    def make_model(kind):
        if kind == "squeezenet1_1":
            return torchvision.models.squeezenet1_1(num_classes=10)
        if kind == "mobilenet_v2":
            return torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)
        if kind == "resnet_small":
            return SmallResNet()
        if kind == "googlenet_tiny":
            return TinyGoogLeNet()
        if kind == "vgg_tiny":
            return tiny_vgg()
        raise ValueError(kind)

    descs = {
        "squeezenet1_1": "torchvision squeezenet1_1(num_classes=10), random init",
        "mobilenet_v2": "torchvision mobilenet_v2(width_mult=0.25, num_classes=10), random init",
        "resnet_small": "ResNet-18 layout with torchvision BasicBlock [1,1,1,1], widths 8/16/32/64, 10 classes",
        "googlenet_tiny": "GoogLeNet-style: torchvision BasicConv2d/Inception blocks, small widths, 10 classes",
        "vgg_tiny": "torchvision VGG(make_layers([8,M,16,M,32,32,M], batch_norm)) avgpool 2x2, small classifier",
    }
    # (kind, opset, dynamic batch).  squeezenet1_1 is exported at opset 11 only:
    # its file is 2.9 MB and the opset-13 export is op-for-op the same graph
    # (Conv/Relu/MaxPool/Concat/GlobalAveragePool/Flatten/Identity, none of which
    # changed semantics between 11 and 13), so a second copy would only push the
    # folder over its 8 MB budget.
    jobs = [("squeezenet1_1", 11, False),
            ("mobilenet_v2", 11, False), ("mobilenet_v2", 13, False),
            ("resnet_small", 11, False), ("resnet_small", 13, True),
            ("googlenet_tiny", 11, False), ("vgg_tiny", 13, False)]

    for kind, opset, dynamic in jobs:
        name = "torch_%s_op%d%s" % (kind, opset, "_dynbatch" if dynamic else "")
        torch.manual_seed(seed_of(kind) % (2 ** 31))
        model = make_model(kind)
        # random (non-trivial) BatchNorm statistics, so folding/BN handling is exercised
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                with torch.no_grad():
                    mod.running_mean.uniform_(-0.2, 0.2)
                    mod.running_var.uniform_(0.5, 1.5)
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
        model.eval()
        x = np.random.default_rng(seed_of(name + ".input")).uniform(
            -1.0, 1.0, size=(1, 3, 64, 64)).astype(np.float32)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            y = model(xt).numpy().astype(np.float32)
        buf = io.BytesIO()
        kwargs = dict(opset_version=opset, input_names=["input"], output_names=["output"],
                      do_constant_folding=True)
        if dynamic:
            kwargs["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
        with torch.no_grad():
            torch.onnx.export(model, xt, buf, **kwargs)
        m = onnx.load_from_string(buf.getvalue())
        check(name, m)
        ops = sorted({n.op_type for n in m.graph.node})
        try:
            yr = run_reference(m, x)
            diff = "max|numpy reference - torch| = %.3g" % float(np.abs(yr - y).max())
        except NotImplementedError as e:
            diff = "numpy reference: %s" % e
        print("  %s: opset %d, %d nodes, ops %s, %s" % (name, model_opset(m), len(m.graph.node), ops, diff))
        desc = "(opset %d) %s; exported by torch %s%s; expected = torch output" % (
            opset, descs[kind], torch.__version__, ", dynamic batch N" if dynamic else "")
        write_fixture(name, m, x, y, TOL_NET, desc)
    return True


def main():
    build_all()
    have_torch = build_torch()
    lines = list(MANIFEST)
    mpath = os.path.join(HERE, "manifest.txt")
    if not have_torch and os.path.exists(mpath):
        # keep previously generated torch fixtures (and their manifest lines)
        with open(mpath) as f:
            for line in f:
                name = line.split(" ", 1)[0]
                if name.startswith("torch_") and os.path.exists(os.path.join(HERE, name + ".onnx")):
                    lines.append(line.rstrip("\n"))
    with open(mpath, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%d fixtures in manifest (%d generated now), largest .onnx: %s"
          % (len(lines), len(MANIFEST), max(SIZES.items(), key=lambda kv: kv[1])))
    if UNCHECKED:
        print("not validated by onnx.checker (opset newer than onnx %s): %s"
              % (onnx.__version__, ", ".join(UNCHECKED)))


if __name__ == "__main__":
    main()
