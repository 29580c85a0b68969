#!/usr/bin/python3
"""Write the weights of an ONNX CNN as a C++ header of constexpr float arrays, for a StaticNetwork in firmware.

    /usr/bin/python3 tools/firmware/onnx_to_header.py data/digits/small.onnx \
        examples/firmware/digits_small_weights.hpp --namespace digits::small

Needs Debian's python3-onnx (and numpy). Every Conv and Gemm node's weight and bias become
`inline constexpr float <op><i>_weight[...]` / `<op><i>_bias[...]` (conv0, conv1, ..., gemm0, ...: graph order), in
the layouts primsel's layers take: Conv OIHW as ONNX stores it, Gemm as [out, in] (transposed here when the node
has transB = 0). `inline constexpr` puts them in flash (.rodata) once, however many translation units include
the header. Values are written with 9 significant digits, which round-trips every float32 exactly.

A Gemm with alpha != 1 or beta != 1 has them folded into the arrays; any other node with a weight (MatMul, BatchNorm
left unfolded, ...) is an error: the header would silently miss it.
"""

import argparse
import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

PER_LINE = 8


def attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def c_float(v):
    text = "%.9g" % float(v)
    if not re.search(r"[.e]", text) and text not in ("inf", "-inf", "nan"):
        text += ".0"
    if text in ("inf", "-inf", "nan"):
        sys.exit("non-finite weight %s: cannot write it as a literal" % text)
    return text + "f"


def c_array(name, values, comment):
    flat = np.asarray(values, dtype=np.float32).reshape(-1)
    lines = ["// %s" % comment, "inline constexpr float %s[%d] = {" % (name, flat.size)]
    for i in range(0, flat.size, PER_LINE):
        lines.append("    " + ", ".join(c_float(v) for v in flat[i:i + PER_LINE]) + ",")
    lines.append("};")
    return "\n".join(lines)


def weight_arrays(model):
    """(name, values, comment) for each Conv / Gemm weight and bias, in graph order."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    counts = {}
    arrays = []
    for node in model.graph.node:
        op = node.op_type
        params = [i for i in node.input[1:] if i in inits]
        if op not in ("Conv", "Gemm"):
            if params:
                sys.exit("node %s (%s) has weights this tool does not write" % (node.name, op))
            continue
        index = counts.get(op, 0)
        counts[op] = index + 1
        prefix = "%s%d" % (op.lower(), index)
        attrs = attributes(node)
        weight = inits[node.input[1]].astype(np.float32)
        bias = inits[node.input[2]].astype(np.float32) if len(node.input) > 2 and node.input[2] else None
        if op == "Gemm":
            if attrs.get("transA", 0):
                sys.exit("Gemm %s has transA = 1: not a fully connected layer" % node.name)
            if not attrs.get("transB", 0):
                weight = weight.T
            weight = weight * np.float32(attrs.get("alpha", 1.0))
            if bias is not None:  # C: [out], [1, out] or a scalar, broadcast along the batch
                bias = bias.reshape(-1) * np.float32(attrs.get("beta", 1.0))
                if bias.size == 1:
                    bias = np.full(weight.shape[0], bias[0], dtype=np.float32)
                if bias.size != weight.shape[0]:
                    sys.exit("Gemm %s: C is not a bias of %d values" % (node.name, weight.shape[0]))
        shape = "x".join(str(d) for d in weight.shape)
        layout = "OIHW" if op == "Conv" else "[out, in]"
        arrays.append((prefix + "_weight", weight, "%s '%s': weight %s %s" % (op, node.name, shape, layout)))
        if bias is not None:
            arrays.append((prefix + "_bias", bias, "%s '%s': bias %d" % (op, node.name, bias.size)))
    return arrays


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("header", help="the .hpp to write")
    ap.add_argument("--namespace", default="weights", help="C++ namespace of the arrays (default: weights)")
    args = ap.parse_args()

    model = onnx.load(args.model)
    arrays = weight_arrays(model)
    total = sum(np.asarray(v).size for _, v, _ in arrays)
    command = "tools/firmware/onnx_to_header.py %s %s --namespace %s" % (
        os.path.relpath(args.model), os.path.relpath(args.header), args.namespace)
    out = [
        "// Generated (do not edit) by",
        "//   /usr/bin/python3 %s" % command,
        "// %d weights (%.1f KiB of float32) of every Conv and Gemm in graph order; Conv OIHW, Gemm [out, in]." % (
            total, total * 4 / 1024),
        "#pragma once",
        "",
        "namespace %s {" % args.namespace,
        "",
    ]
    for name, values, comment in arrays:
        out.append(c_array(name, values, comment))
        out.append("")
    out.append("}  // namespace %s" % args.namespace)
    with open(args.header, "w") as f:
        f.write("\n".join(out) + "\n")
    print("%s: %d arrays, %d floats" % (args.header, len(arrays), total))


if __name__ == "__main__":
    main()
