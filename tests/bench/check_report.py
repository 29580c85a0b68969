"""Validates a primsel-bench JSON report against the schema and checks it agrees with the printed table.

usage: check_report.py REPORT.json SCHEMA.json STDOUT.txt
"""
import json
import sys

import jsonschema

report_path, schema_path, table_path = sys.argv[1:4]
report = json.load(open(report_path))
jsonschema.validate(report, json.load(open(schema_path)))
table = open(table_path).read()
assert f"median {report['latency_ms']['median']:.3f} ms" in table, "latency median differs from the table"
assert f"predicted {report['search']['predicted_ms']:.3f} ms" in table, "predicted cost differs from the table"
for layer in report["layers"]:
    line = next((l for l in table.splitlines() if l.startswith(layer["name"][:28])), None)
    assert line is not None, f"layer {layer['name']} missing from the table"
    assert layer["primitive"][:16] in line and f"{layer['ms']:.3f}" in line, f"layer {layer['name']} differs"
    assert any(c["primitive"] == layer["primitive"] for c in layer["candidates"]), "chosen primitive not a candidate"
print("report valid and consistent with the table")
