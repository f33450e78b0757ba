"""verigraph.printing: pp (infix), debugprint (Theano-style tree), pydotprint (.dot text)."""
import io

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.printing import debugprint, graph_to_dot, pp, pydotprint


# --- pp ------------------------------------------------------------------------------------------
def test_pp_of_gradient_of_square_mentions_x_and_constants():
    x = T.dscalar("x")
    gy = T.grad(x ** 2, x)
    text = pp(gy)
    assert "x" in text and "2.0" in text
    # The rewritten graph is shorter and still readable.
    f = vg.function([x], gy)
    assert "x" in pp(f)
    assert f(4.0) == 8.0


def test_pp_is_exported_at_top_level():
    x = T.dscalar("x")
    assert vg.pp(x + 1) == pp(x + 1)


@pytest.mark.parametrize("build, expected", [
    (lambda a, b: a - (b - a), "a - (b - a)"),
    (lambda a, b: (a - b) - a, "a - b - a"),
    (lambda a, b: -(a + b), "-(a + b)"),
    (lambda a, b: a ** (b ** 2), "a ** b ** 2.0"),
    (lambda a, b: (a ** b) ** 2, "(a ** b) ** 2.0"),
    (lambda a, b: a * (b + a), "a * (b + a)"),
    (lambda a, b: a / (b * a), "a / (b * a)"),
    (lambda a, b: T.exp(a) + T.log(b), "exp(a) + log(b)"),
])
def test_pp_parenthesizes_by_precedence(build, expected):
    a, b = T.dscalars("a", "b")
    assert pp(build(a, b)) == expected


def test_pp_reductions_indexing_dot_and_shape():
    a, b = T.dmatrices("a", "b")
    text = pp(T.sum(a, axis=0)[1:] + T.dot(a, b.T).max())
    assert "sum(a, axis=[0])[1:]" in text
    assert "a @ b.T" in text
    assert pp(a.shape) == "a.shape"


def test_pp_of_several_outputs_prints_one_per_line():
    x = T.dvector("x")
    assert pp([x + 1, x * 2]).splitlines() == ["x + 1.0", "x * 2.0"]


# --- debugprint ----------------------------------------------------------------------------------
def test_debugprint_theano_layout():
    x, y = T.dscalars("x", "y")
    z = x + y * 2
    assert debugprint(z, file="str") == (
        "Elemwise{add} [id A] ''\n"
        " |x [id B]\n"
        " |Elemwise{mul} [id C] ''\n"
        "   |y [id D]\n"
        "   |TensorConstant{2.0} [id E]\n")


def test_debugprint_shared_node_printed_once_and_names_shown():
    x = T.dvector("x")
    s = T.exp(x)
    s.name = "s"
    text = debugprint(s + s, file="str")
    lines = text.splitlines()
    assert lines[0].startswith("Elemwise{add} [id A]")
    # The second use of s repeats its label without re-expanding its inputs.
    assert [ln.strip(" |") for ln in lines[1:]] == [
        "Elemwise{exp} [id B] 's'", "x [id C]", "Elemwise{exp} [id B] 's'"]


def test_debugprint_types_function_positions_and_rules():
    x = T.dvector("x")
    f = vg.function([x], (x * 2).sum())
    text = debugprint(f, file="str", print_type=True)
    first = text.splitlines()[0]
    assert "[id A]" in first and "<TensorType(float64, ())>" in first
    # Each Apply line of a compiled function ends with its execution position.
    positions = [int(ln.split()[-1]) for ln in text.splitlines() if ln.rstrip().endswith(
        tuple("0123456789")) and "'" in ln]
    assert sorted(positions) == list(range(len(f.maker.fgraph.toposort())))


def test_debugprint_writes_to_stdout_and_file_objects(capsys):
    x = T.dscalar("x")
    debugprint(x * 3)
    assert "Elemwise{mul} [id A]" in capsys.readouterr().out
    buf = io.StringIO()
    assert debugprint([x * 3, x + 1], file=buf) is buf
    assert buf.getvalue().count("[id A]") == 1 and "Elemwise{add}" in buf.getvalue()


def test_debugprint_depth_limits_expansion():
    x = T.dscalar("x")
    text = debugprint(T.exp(T.log(x)), file="str", depth=1)
    assert "Elemwise{log}" in text and "x [id" not in text


def test_debugprint_rejects_non_graphs():
    with pytest.raises(TypeError, match="expected a Variable"):
        debugprint(42, file="str")


# --- pydotprint ----------------------------------------------------------------------------------
def test_pydotprint_writes_dot_text(tmp_path, capsys):
    x = T.dvector("x")
    f = vg.function([x], T.exp(x) * 2)
    path = pydotprint(f, outfile=str(tmp_path / "graph.png"))
    assert path.endswith("graph.dot")
    text = open(path).read()
    assert text.startswith('digraph "verigraph" {') and text.rstrip().endswith("}")
    assert "exp" in text and '"x"' in text and "->" in text
    assert "available at" in capsys.readouterr().out


def test_graph_to_dot_balanced_and_edges_cover_inputs():
    a, b = T.dmatrices("a", "b")
    text = graph_to_dot(T.dot(a, b) + a)
    assert text.count("{") == text.count("}")
    # a -> dot, b -> dot, dot -> add, a -> add, add -> the output
    assert text.count("->") == 5
    assert pydotprint(T.dot(a, b), return_image=True).startswith("digraph")


def test_printing_matches_evaluation():
    # The printed expression, evaluated with NumPy, gives the graph's value.
    a, b = T.dscalars("a", "b")
    z = (a - b) * (a + b) / (b ** 2)
    f = vg.function([a, b], z)
    env = {"a": 3.0, "b": 2.0, "exp": np.exp, "log": np.log}
    assert np.isclose(eval(pp(z), env), f(3.0, 2.0))
