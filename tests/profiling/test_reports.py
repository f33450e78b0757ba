"""Report writers: JSON against the schema, Markdown, self-contained HTML with SVG, terminal."""
import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.profiling import ProfileStats, load_profile, load_schema, render_json, write_reports
from verigraph.profiling.report_html import render_html
from verigraph.profiling.report_json import ProfileFormatError
from verigraph.profiling.report_md import render_markdown


def _validate(instance, schema, path="$"):
    """A small JSON Schema subset validator (type, const, enum, required, properties,
    additionalProperties, items, prefixItems, minItems, maxItems, minimum, oneOf)."""
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
             "integer": int, "number": (int, float)}
    if "oneOf" in schema:
        ok = 0
        for sub in schema["oneOf"]:
            try:
                _validate(instance, sub, path)
                ok += 1
            except AssertionError:
                pass
        assert ok == 1, f"{path}: matches {ok} of oneOf"
        return
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(isinstance(instance, types[t]) and not (
            t in ("integer", "number") and isinstance(instance, bool)) for t in allowed), \
            f"{path}: expected {allowed}, got {type(instance).__name__}"
    if "const" in schema:
        assert instance == schema["const"], f"{path}: expected {schema['const']!r}"
    if "enum" in schema:
        assert instance in schema["enum"], f"{path}: {instance!r} not in {schema['enum']}"
    if "minimum" in schema:
        assert instance >= schema["minimum"], f"{path}: {instance} < {schema['minimum']}"
    if isinstance(instance, dict):
        for k in schema.get("required", ()):
            assert k in instance, f"{path}: missing {k!r}"
        props = schema.get("properties", {})
        for k, v in instance.items():
            if k in props:
                _validate(v, props[k], f"{path}.{k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(v, schema["additionalProperties"], f"{path}.{k}")
    if isinstance(instance, list):
        assert len(instance) >= schema.get("minItems", 0), f"{path}: too short"
        assert len(instance) <= schema.get("maxItems", 1 << 30), f"{path}: too long"
        prefix = schema.get("prefixItems", [])
        for k, v in enumerate(instance):
            if k < len(prefix):
                _validate(v, prefix[k], f"{path}[{k}]")
            elif "items" in schema:
                _validate(v, schema["items"], f"{path}[{k}]")


@pytest.fixture(scope="module")
def stats():
    s = ProfileStats("reports")
    x, y = T.dmatrix("x"), T.ivector("y")
    w = vg.shared(np.full((4, 3), 0.1), name="w")
    p = T.nnet.softmax(T.dot(x, w))
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    train = vg.function([x, y], cost, updates=[(w, w - 0.1 * vg.grad(cost, w))], profile=s,
                        name="train")
    pred = vg.function([x], T.argmax(p, axis=1), profile=s, name="predict")
    rng = np.random.RandomState(0)
    xs, ys = rng.rand(8, 4), rng.randint(0, 3, 8).astype("int32")
    for _ in range(3):
        train(xs, ys)
    pred(xs)
    vg.function([x], x * 2, profile=s, name="never_called")
    return s


def test_json_validates_against_schema(stats):
    data = json.loads(render_json(stats))
    schema = load_schema()
    assert schema["properties"]["version"]["const"] == data["version"] == 1
    _validate(data, schema)
    try:
        import jsonschema
    except ImportError:
        return
    jsonschema.validate(data, schema)


def test_mini_validator_rejects_a_broken_profile(stats):
    data = json.loads(render_json(stats))
    del data["functions"][0]["nodes"][0]["time"]
    with pytest.raises(AssertionError, match="missing 'time'"):
        _validate(data, load_schema())


def test_never_called_function_has_null_memory(stats):
    fd = next(f for f in stats.to_dict()["functions"] if f["name"] == "never_called")
    assert fd["calls"] == 0 and fd["memory"]["peak_bytes"] is None
    assert fd["nodes"][0]["output_shapes"] == [None]


def test_write_reports_to_tmp_dir(stats, tmp_path):
    spy = tmp_path / "pyspy.speedscope.json"
    spy.write_text("{}")
    paths = write_reports(stats, tmp_path / "out", pyspy=str(spy))
    assert sorted(paths) == ["html", "json", "markdown"]
    data = load_profile(paths["json"])
    assert data["attachments"]["pyspy"] == "../pyspy.speedscope.json"
    assert {f["name"] for f in data["functions"]} == {"train", "predict", "never_called"}
    md = (tmp_path / "out" / "profile.md").read_text()
    assert "| % | cum % |" in md and "## Apply nodes of train" in md
    assert "pyspy.speedscope.json" in md
    html = (tmp_path / "out" / "profile.html").read_text()
    assert "href='../pyspy.speedscope.json'" in html


def test_html_is_self_contained_with_svg(stats):
    html = render_html(stats.to_dict())
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert html.count("<svg") >= 1 + 3   # the bar chart and one graph per function
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        ET.fromstring(svg)   # well-formed
    assert "Softmax" in html and "<style>" in html


def test_graph_drawing_layers_do_not_overlap(stats):
    html = render_html(stats.to_dict())
    graph = re.findall(r"<svg[^>]*aria-label='graph of train'.*?</svg>", html, re.S)[0]
    boxes = [(float(x), float(y)) for x, y in
             re.findall(r"<rect x='([\d.]+)' y='([\d.]+)' width='150'", graph)]
    n_nodes = len(stats.to_dict()["functions"][0]["nodes"])
    assert len(boxes) >= n_nodes
    assert len(set(boxes)) == len(boxes)


def test_markdown_escapes_html_and_pipes():
    x = T.dvector("x")
    s = ProfileStats("md")
    f = vg.function([x], x * 2, profile=s, name="a|b<c>")
    f(np.ones(2))
    md = render_markdown(s.to_dict())
    assert "a\\|b&lt;c&gt;" in md and "<c>" not in md


def test_summary_prints_and_returns_text(stats):
    buf = io.StringIO()
    text = stats.summary(file=buf, top=5)
    assert buf.getvalue().strip() == text.strip()
    for word in ("Functions", "Op classes", "Ops", "Apply nodes of train", "Memory of train",
                 "Rewrites of train", "Dot"):
        assert word in text


def test_load_profile_rejects_foreign_json(tmp_path):
    with pytest.raises(ProfileFormatError, match="schema"):
        load_profile({"schema": "other"})
    with pytest.raises(ProfileFormatError, match="version"):
        load_profile({"schema": "verigraph.profile", "version": 99})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileFormatError, match="not valid JSON"):
        load_profile(str(bad))


def test_nodes_say_which_kernel_runs():
    """A fused node's profile entry names its implementation: NumPy until the switch, then C."""
    from verigraph.link.ckernels import compiler, small, trampoline
    from verigraph.profiling.tables import apply_table
    s = ProfileStats("kernels")
    x = T.dvector("x")
    f = vg.function([x], T.exp(-x) * 2 + x, profile=s, name="k")
    v = np.linspace(-2, 2, 100)
    f(v)

    def kernels():
        return [n["kernel"] for n in s.to_dict()["functions"][0]["nodes"] if n["kernel"]]
    assert kernels() and all(k.startswith(f"NumPy (C after {small.SMALL_AFTER_CALLS} calls)")
                             for k in kernels())
    _validate(json.loads(render_json(s)), load_schema())
    if compiler.compiler() is None or trampoline._flags() is None:
        return
    for _ in range(small.SMALL_AFTER_CALLS + 1):   # builds (synchronously in tests), checks
        f(v)
    assert kernels() and all(k.startswith("C") for k in kernels())
    table = apply_table(s.to_dict()["functions"][0], 10)
    assert any("[C" in row[6] for row in table.rows)
