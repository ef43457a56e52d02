"""Reading the YAML inputs under ``assets/``: one line per problem, naming file, YAML line, entry and field.

Shared by the vocabulary, the prompt templates and the edit series, whose pydantic models decide what
is valid; this module only reads the files and words the errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]
# Names the place of an error (its full loc, and whether it relates several fields) for a reader:
# (entry, field path inside it, path in the YAML document for the line number).
Where = Callable[[Loc, bool], tuple[str, Loc, Loc]]

_LOCATED = "located"  # the pydantic error type of `located`
_KINDS = {
    "string": "a string", "bool": "true or false", "int": "a whole number", "float": "a number",
    "list": "a list", "tuple": "a list", "dict": "a mapping", "model": "a mapping", "dataclass": "a mapping",
}


class InputFileError(ValueError):
    """An input file that cannot be used: one line per problem, each starting with the file (and line)."""


def located(loc: Loc, message: str) -> PydanticCustomError:
    """An error for a model validator to raise that points at a field below it (pydantic would name the model)."""
    # The message goes in as a context value so that braces in it are never read as a template.
    context = {"field": field_path(loc), "message": message, "loc": loc}
    return PydanticCustomError(_LOCATED, "{field} {message}", context)


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The file's data and its node tree (for line numbers); an unusable file fails with one line."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            _refuse_repeated_keys(path, node)
            return (None if node is None else loader.construct_document(node)), node
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputFileError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputFileError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None


def _refuse_repeated_keys(path: Path, root: yaml.Node | None) -> None:
    # PyYAML silently keeps the last of two equal keys, which hides a pasted or half-edited entry.
    stack, seen_nodes = [root] if root is not None else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in lines:
                        raise InputFileError(
                            f"{path}:{key.start_mark.line + 1}: key {key.value!r} repeats the one on line "
                            f"{lines[key.value]}"
                        )
                    lines[key.value] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def yaml_line(node: yaml.Node | None, loc: Loc) -> int | None:
    """The line of the deepest node on ``loc`` that the file has (a missing key: its entry's line)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if isinstance(kv[0], yaml.ScalarNode) and kv[0].value == part), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def at(source: str, node: yaml.Node | None, loc: Loc) -> str:
    """``file:line`` of ``loc``, or the file alone without a node tree."""
    line = yaml_line(node, loc)
    return f"{source}:{line}" if line else source


def field_path(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(error: Any, known: Callable[[Loc], Collection[str]]) -> str:
    """The error as a predicate on its field (``is required``), the field itself being named before it."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in ("missing", "missing_argument"):
        return "is required"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        close = difflib.get_close_matches(str(error["loc"][-1]), known(tuple(error["loc"][:-1])), n=1)
        return "is not a known key (unknown keys are refused" + (f"; did you mean {close[0]!r}?)" if close else ")")
    if kind == _LOCATED:
        return str(ctx["message"])
    if kind in ("value_error", "assertion_error"):
        return str(ctx["error"])
    if kind == "too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}
        op = next(k for k in bounds if k in ctx)
        return f"must be {bounds[op]} {ctx[op]}, got {_short(value)}"
    if kind == "finite_number":
        return f"must be a finite number, got {_short(value)}"
    base = kind.split("_")[0]
    if base in _KINDS and kind.endswith(("_type", "_parsing")):
        return f"must be {_KINDS[base]}, got {_short(value)}"
    return f"is invalid: {error['msg']}, got {_short(value)}"


def error_lines(
    source: str, node: yaml.Node | None, exc: ValidationError, where: Where, known: Callable[[Loc], Collection[str]]
) -> list[str]:
    """One line per problem of ``exc``: ``file:line: entry: field problem``.

    ``known`` gives the keys a mapping (by its loc) may have, to suggest one for a misspelt key.
    """
    errors = exc.errors()
    # A list whose every item failed is also reported as too short: the items' own errors say more.
    inside = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    lines: dict[str, int] = {}
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in inside:
            continue
        loc = tuple(error["loc"]) + tuple((error.get("ctx") or {}).get("loc", ()))
        entry, field, yaml_loc = where(loc, error["type"] == _LOCATED)
        subject = ": ".join(part for part in (entry, field_path(field)) if part) or "the top level"
        line = yaml_line(node, yaml_loc) or 0
        lines.setdefault(f"{at(source, node, yaml_loc)}: {subject} {_problem(error, known)}", line)
    return sorted(lines, key=lines.__getitem__)  # in the file's order


def keys_of(model: Any) -> Callable[[Loc], Collection[str]]:
    """The keys ``model`` (a pydantic model or dataclass) accepts, wherever the mapping is."""
    return lambda _: set(model.__pydantic_fields__)
