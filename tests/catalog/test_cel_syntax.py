"""What catalog.cel_syntax makes of each CEL construct the catalog's checks look at: the pinned
reading of celpy's parse tree (a celpy release that changes its grammar fails here)."""

from __future__ import annotations

import pytest

from catalog.cel_syntax import CelSyntaxError, FunctionCall, Index, MethodCall, Other, Path, parse


def test_names_and_fields_are_access_paths() -> None:
    assert parse("income") == Path(("income",))
    assert parse("income.per_capita_monthly_income") == Path(("income", "per_capita_monthly_income"))
    assert parse("a.b.c") == Path(("a", "b", "c"))
    assert parse("(a.b)") == Path(("a", "b"))


def test_a_macro_is_a_method_call_with_its_variable_and_body() -> None:
    call = parse("members.all(m, m.no_housing.property_count <= 1)")
    assert isinstance(call, MethodCall)
    assert (call.target, call.method) == (Path(("members",)), "all")
    assert call.arguments is not None and call.arguments[0] == Path(("m",))
    assert _paths(call.arguments[1]) == [("m", "no_housing", "property_count")]


def test_a_call_without_arguments_has_none() -> None:
    assert parse("a.b.size()") == MethodCall(Path(("a", "b")), "size", None)


def test_indexing_keeps_target_and_index_apart() -> None:
    index = parse("members[i.n]")
    assert index == Index(Path(("members",)), Path(("i", "n")))
    assert _paths(parse("members[0].income.total")) == [("members",)]


def test_operators_literals_and_functions_keep_every_path_they_read() -> None:
    node = parse("size(members) > 1 && income.total < city.line + 2 ? x.y : 'z'")
    assert isinstance(node, Other)
    assert _paths(node) == [("members",), ("income", "total"), ("city", "line"), ("x", "y")]


def test_a_function_call_names_its_function() -> None:
    assert parse("sise(members)") == FunctionCall("sise", (Path(("members",)),))
    assert parse("f()") == FunctionCall("f", ())
    assert parse("has(m.disability)") == FunctionCall("has", (Path(("m", "disability")),))


def test_a_syntax_error_says_where() -> None:
    with pytest.raises(CelSyntaxError) as raised:
        parse("income.family_size >")
    assert raised.value.line == 1 and raised.value.column is not None and raised.value.column > 1


def _paths(node: object) -> list[tuple[str, ...]]:
    if isinstance(node, Path):
        return [node.names]
    if isinstance(node, Index):
        return _paths(node.target) + _paths(node.index)
    if isinstance(node, MethodCall):
        return _paths(node.target) + [p for a in node.arguments or () for p in _paths(a)]
    if isinstance(node, FunctionCall):
        return [p for a in node.arguments for p in _paths(a)]
    assert isinstance(node, Other)
    return [p for part in node.parts for p in _paths(part)]
