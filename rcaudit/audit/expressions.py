"""Entra provisioning expressions (`Switch([IsSoftDeleted], , "False", "True", "True", "False")`), parsed once
and compiled to closures, so the audit can compute what Entra would send for every user.

The language is Entra's (learn.microsoft.com "Reference for writing expressions for attribute mappings"):
functions, `[attribute]` references, `"string"` constants with backslash escapes, integers, empty arguments,
and the comparisons IIF accepts (`=`, `<>`, `>`, `>=`, `<`, `<=`). A compiled expression takes the values of
its references as a tuple, in the order of `CompiledExpression.references`, and returns a string, a boolean,
a list of strings or None. Anything this module does not know raises `MappingError`: the audit never
guesses what an unknown function would have sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rcaudit.model.errors import MappingError

Value = Any  # str | bool | int | tuple[str, ...] | None
Evaluator = Callable[[Sequence[Value]], Value]


# --- syntax tree ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attribute:
    name: str


@dataclass(frozen=True)
class Constant:
    value: Value


@dataclass(frozen=True)
class Missing:
    """An empty argument (`Switch([x], , "a", "b")`): a parameter left out."""


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Comparison:
    operator: str
    left: Node
    right: Node


Node = Attribute | Constant | Missing | Call | Comparison


# --- tokens -----------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<attribute>\[[^\[\]]*\])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<operator><>|<=|>=|!=|==|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE | re.DOTALL)


def _unescape(body: str) -> str:
    r"""`\"` and `\\` are escapes; any other backslash stays (so `"\d"` is the regex `\d`)."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in '"\\':
            out.append(body[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise MappingError(f"cannot read {text[position:position + 12]!r} at position {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group()))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            wanted = f"{value!r}" if value else "more"
            found = "ends" if token is None else f"has {token[1]!r}"
            raise MappingError(f"expected {wanted} but the expression {found}")
        self.i += 1
        return token

    def expression(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token and token[0] == "operator":
            self.i += 1
            operator = {"==": "=", "!=": "<>"}.get(token[1], token[1])
            return Comparison(operator, left, self.operand())
        return left

    def operand(self) -> Node:
        kind, text = self.take()
        if kind == "attribute":
            return Attribute(text[1:-1].strip())
        if kind == "string":
            return Constant(_unescape(text[1:-1]))
        if kind == "number":
            return Constant(int(text))
        if kind == "name":
            following = self.peek()
            if following and following[1] == "(":
                self.i += 1
                return Call(text, self.arguments())
            return Constant(text)  # a bare word: True, False, vbTextCompare…
        if text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        raise MappingError(f"unexpected {text!r}")

    def arguments(self) -> tuple[Node, ...]:
        args: list[Node] = []
        if self.peek() and self.peek()[1] == ")":  # type: ignore[index]
            self.i += 1
            return ()
        while True:
            token = self.peek()
            if token is None:
                raise MappingError("a '(' is never closed")
            if token[1] in (",", ")"):
                args.append(Missing())
            else:
                args.append(self.expression())
            if self.peek() is None:
                raise MappingError("a '(' is never closed")
            _, text = self.take()
            if text == ")":
                return tuple(args)
            if text != ",":
                raise MappingError(f"expected ',' or ')' between arguments, not {text!r}")


def parse(text: str) -> Node:
    """The syntax tree of an expression (MappingError when it is not one)."""
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise MappingError(f"unexpected {parser.peek()[1]!r} after the end of the expression")  # type: ignore[index]
    return node


# --- value helpers (Entra's string view of values) --------------------------------------------------------------

def text(value: Value) -> str | None:
    """A value as Entra's functions see it: booleans are "True"/"False", None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) if value else None
    return str(value)


def is_empty(value: Value) -> bool:
    return value is None or value == "" or (isinstance(value, tuple | list) and not value)


def truthy(value: Value) -> bool:
    """True for a boolean True, "True" in any case, or a non-zero number (CBool)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lower() in ("true", "false"):
            return stripped.lower() == "true"
        try:
            return float(stripped) != 0
        except ValueError:
            return False
    return False


_NET_GROUP = re.compile(r"\(\?<(?![=!])")
_NET_REFERENCE = re.compile(r"\$\$|\$\{(\w+)\}|\$(\d+)")


def dotnet_regex(pattern: str) -> re.Pattern[str]:
    """.NET named groups `(?<name>…)` in Python spelling; compile errors become MappingError."""
    try:
        return re.compile(_NET_GROUP.sub("(?P<", pattern))
    except re.error as exc:
        raise MappingError(f"invalid regular expression {pattern!r}: {exc}") from None


def dotnet_replacement(template: str) -> str:
    """A .NET replacement (`${name}`, `$1`, `$$`) as a Python `re.sub` template."""
    def convert(match: re.Match[str]) -> str:
        if match.group() == "$$":
            return "$"
        return f"\\g<{match.group(1) or match.group(2)}>"

    escaped = template.replace("\\", "\\\\")
    return _NET_REFERENCE.sub(convert, escaped)


_DIACRITIC_SPECIALS = str.maketrans({
    "æ": "ae", "Æ": "AE", "ǣ": "ae", "Ǣ": "AE", "ø": "oe", "Ø": "OE", "œ": "oe", "Œ": "OE", "ß": "ss",
    "ł": "l", "Ł": "L", "ı": "i", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
})


def normalize_diacritics(value: str) -> str:
    """Entra's NormalizeDiacritics: accents dropped, æ → ae, ø → oe, ß → ss, ł → l."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_DIACRITIC_SPECIALS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- functions --------------------------------------------------------------------------------------------------
# Each entry: (minimum arguments, maximum arguments or None, builder). A builder receives the compiled argument
# evaluators and returns the call's evaluator, so constant work (regexes, arity) happens once.

Builder = Callable[[list[Evaluator], list[Node]], Evaluator]


def _constant_text(node: Node, what: str) -> str | None:
    if isinstance(node, Missing):
        return None
    if isinstance(node, Constant):
        return text(node.value)
    raise MappingError(f"{what} must be a constant")


def _switch(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    if len(args) < 4 or len(args) % 2:
        raise MappingError("Switch needs source, defaultValue and key/value pairs")
    source, default = args[0], args[1]
    pairs = list(zip(args[2::2], args[3::2], strict=True))

    def run(env: Sequence[Value]) -> Value:
        wanted = text(source(env))
        wanted = "" if wanted is None else wanted
        for key, value in pairs:
            candidate = text(key(env))
            if (candidate or "") == wanted:
                return value(env)
        return default(env)
    return run


def _join(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    separator, sources = args[0], args[1:]

    def run(env: Sequence[Value]) -> Value:
        parts: list[str] = []
        for source in sources:
            value = source(env)
            for item in value if isinstance(value, tuple | list) else (value,):
                if not is_empty(item):
                    parts.append(text(item) or "")
        return (text(separator(env)) or "").join(parts)
    return run


def _append(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source, suffix = args

    def run(env: Sequence[Value]) -> Value:
        return (text(source(env)) or "") + (text(suffix(env)) or "")  # .NET concatenation: null is ""
    return run


def _coalesce(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    def run(env: Sequence[Value]) -> Value:
        for arg in args:
            value = arg(env)
            if value is not None and not (isinstance(value, tuple | list) and not value):
                return value
        return None
    return run


def _string_function(function: Callable[[str], Value]) -> Builder:
    """One string argument (extra ones, like a culture, are ignored); None stays None."""
    def build(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
        source = args[0]

        def run(env: Sequence[Value]) -> Value:
            value = text(source(env))
            return None if value is None else function(value)
        return run
    return build


def _integer(node: Node, what: str) -> int:
    value = _constant_text(node, what)
    try:
        return int(value or "")
    except ValueError:
        raise MappingError(f"{what} must be an integer, not {value!r}") from None


def _left(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source, count = args[0], _integer(nodes[1], "Left's NumChars")

    def run(env: Sequence[Value]) -> Value:
        value = text(source(env))
        if value is None or count == 0:
            return ""
        return value if count < 0 else value[:count]
    return run


def _mid(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source = args[0]
    start, length = _integer(nodes[1], "Mid's start"), _integer(nodes[2], "Mid's length")
    begin = max(start, 1) - 1

    def run(env: Sequence[Value]) -> Value:
        value = text(source(env))
        return None if value is None else value[begin: begin + max(length, 0)]
    return run


def _word(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source, number = args[0], _integer(nodes[1], "Word's WordNumber")
    delimiters = _constant_text(nodes[2], "Word's delimiters") or ""
    splitter = re.compile("[" + re.escape(delimiters) + "]+") if delimiters else None

    def run(env: Sequence[Value]) -> Value:
        value = text(source(env))
        if value is None or number < 1:
            return ""
        words = [w for w in (splitter.split(value) if splitter else [value]) if w]
        return words[number - 1] if number <= len(words) else ""
    return run


def _split(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source, delimiter = args

    def run(env: Sequence[Value]) -> Value:
        value, by = text(source(env)), text(delimiter(env))
        if value is None:
            return None
        return tuple(value.split(by)) if by else (value,)
    return run


def _item(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source, index = args[0], _integer(nodes[1], "Item's index")

    def run(env: Sequence[Value]) -> Value:
        value = source(env)
        items = value if isinstance(value, tuple | list) else (() if value is None else (value,))
        return items[index - 1] if 1 <= index <= len(items) else None
    return run


def _count(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source = args[0]

    def run(env: Sequence[Value]) -> Value:
        value = source(env)
        return len(value) if isinstance(value, tuple | list) else (0 if value is None else 1)
    return run


def _iif(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    condition, if_true, if_false = args

    def run(env: Sequence[Value]) -> Value:
        outcome = condition(env)
        if outcome is None:  # a comparison on a null or empty attribute: Entra's condition check fails
            return None
        return if_true(env) if truthy(outcome) else if_false(env)
    return run


def _predicate(function: Callable[[Value], bool]) -> Builder:
    def build(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
        source = args[0]
        return lambda env: function(source(env))
    return build


def _cstr(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source = args[0]
    return lambda env: text(source(env))


def _ignore_flow(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    source = args[0]

    def run(env: Sequence[Value]) -> Value:
        value = source(env)
        return None if is_empty(value) else value
    return run


def _single_app_role(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    if not (isinstance(nodes[0], Attribute) and nodes[0].name.lower() == "approleassignments"):
        raise MappingError("SingleAppRoleAssignment takes [appRoleAssignments]")
    source = args[0]

    def run(env: Sequence[Value]) -> Value:
        roles = source(env)
        return roles[0] if roles else None
    return run


def _replace(args: list[Evaluator], nodes: list[Node]) -> Evaluator:
    """Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template).

    Which of Entra's five behaviours applies is decided by which parameters are present, once, here.
    """
    padded = list(nodes) + [Missing()] * (7 - len(nodes))
    evaluators = list(args) + [lambda env: None] * (7 - len(args))
    present = [not isinstance(n, Missing) for n in padded]
    source, old, _, _, replacement, replacement_attribute, template = evaluators
    pattern_text = _constant_text(padded[2], "Replace's regexPattern") if present[2] else None
    group = _constant_text(padded[3], "Replace's regexGroupName") if present[3] else None
    pattern = dotnet_regex(pattern_text) if pattern_text is not None else None
    if group is not None and pattern is not None and group not in pattern.groupindex:
        raise MappingError(f"Replace's regexGroupName {group!r} is not a group of {pattern_text!r}")

    if present[1] and present[6]:  # oldValue + template: the source goes into the template
        def run(env: Sequence[Value]) -> Value:
            value, shape, marker = text(source(env)), text(template(env)), text(old(env)) or ""
            return None if value is None or shape is None else (shape.replace(marker, value) if marker else shape)
        return run
    if present[1] and present[4]:  # oldValue + replacementValue: plain, case-sensitive
        def run(env: Sequence[Value]) -> Value:
            value, marker = text(source(env)), text(old(env)) or ""
            return None if value is None else (value.replace(marker, text(replacement(env)) or "") if marker
                                               else value)
        return run
    if pattern is not None and group is not None and present[5]:  # fall back to another attribute's group
        def run(env: Sequence[Value]) -> Value:
            value = text(source(env))
            if not is_empty(value):
                return value
            other = text(replacement_attribute(env))
            found = pattern.search(other) if other else None
            return found.group(group) if found else None
        return run
    if pattern is not None and group is not None and present[4]:  # replace only the named group
        def run(env: Sequence[Value]) -> Value:
            value = text(source(env))
            if value is None:
                return None
            new = text(replacement(env)) or ""
            out, last = [], 0
            for found in pattern.finditer(value):
                begin, end = found.span(group)
                if begin < 0:
                    continue
                out.append(value[last:begin] + new)
                last = end
            return "".join(out) + value[last:]
        return run
    if pattern is not None and present[4]:  # regex + replacement template (${name}, $1)
        def run(env: Sequence[Value]) -> Value:
            value = text(source(env))
            if value is None:
                return None
            return pattern.sub(dotnet_replacement(text(replacement(env)) or ""), value)
        return run
    raise MappingError("Replace needs oldValue with replacementValue or template, or regexPattern with "
                       "replacementValue or replacementAttributeName")


FUNCTIONS: dict[str, tuple[int, int | None, Builder]] = {
    "switch": (4, None, _switch),
    "join": (2, None, _join),
    "append": (2, 2, _append),
    "coalesce": (1, None, _coalesce),
    "tolower": (1, 2, _string_function(str.lower)),
    "toupper": (1, 2, _string_function(str.upper)),
    "trim": (1, 1, _string_function(str.strip)),
    "stripspaces": (1, 1, _string_function(lambda s: s.replace(" ", ""))),
    "normalizediacritics": (1, 1, _string_function(normalize_diacritics)),
    "replace": (2, 7, _replace),
    "left": (2, 2, _left),
    "mid": (3, 3, _mid),
    "word": (3, 3, _word),
    "split": (2, 2, _split),
    "item": (2, 2, _item),
    "count": (1, 1, _count),
    "iif": (3, 3, _iif),
    "ispresent": (1, 1, _predicate(lambda v: not is_empty(v))),
    "isnullorempty": (1, 1, _predicate(is_empty)),
    "isnull": (1, 1, _predicate(lambda v: v is None)),
    "not": (1, 1, _predicate(lambda v: not truthy(v))),
    "cbool": (1, 1, _predicate(truthy)),
    "cstr": (1, 1, _cstr),
    "ignoreflowifnullorempty": (1, 1, _ignore_flow),
    "singleapproleassignment": (1, 1, _single_app_role),
}
SUPPORTED_FUNCTIONS: tuple[str, ...] = (
    "Switch", "Join", "Append", "Coalesce", "ToLower", "ToUpper", "Trim", "StripSpaces", "NormalizeDiacritics",
    "Replace", "Left", "Mid", "Word", "Split", "Item", "Count", "IIF", "IsPresent", "IsNullOrEmpty", "IsNull",
    "Not", "CBool", "CStr", "IgnoreFlowIfNullOrEmpty", "SingleAppRoleAssignment",
)


def _number(value: Value) -> float | None:
    try:
        return float(text(value) or "")
    except ValueError:
        return None


def _compare(operator: str, left: Value, right: Value) -> bool | None:
    """IIF's comparisons: case-sensitive strings, numbers when both sides are numbers; None on a null side."""
    a, b = text(left), text(right)
    if is_empty(a) or is_empty(b):
        return None
    if operator == "=":
        return a == b
    if operator == "<>":
        return a != b
    x, y = _number(a), _number(b)
    pair: tuple[Any, Any] = (x, y) if x is not None and y is not None else (a, b)
    return {"<": pair[0] < pair[1], "<=": pair[0] <= pair[1], ">": pair[0] > pair[1],
            ">=": pair[0] >= pair[1]}[operator]


# --- compile ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompiledExpression:
    """An expression parsed once: call `evaluate(values)` with one value per name in `references`."""

    text: str
    references: tuple[str, ...]
    evaluate: Evaluator
    tree: Node

    @property
    def direct(self) -> str | None:
        """The attribute name when the expression is just `[name]`."""
        return self.tree.name if isinstance(self.tree, Attribute) else None

    def __call__(self, values: Sequence[Value]) -> Value:
        return self.evaluate(values)

    def with_names(self, **values: Value) -> Value:
        """Evaluate with keyword values (tests and notebooks: `e.with_names(mail="a@b")`)."""
        return self.evaluate(tuple(values.get(name) for name in self.references))


def _attributes(node: Node, found: dict[str, None]) -> None:
    if isinstance(node, Attribute):
        found.setdefault(node.name, None)
    elif isinstance(node, Call):
        for arg in node.args:
            _attributes(arg, found)
    elif isinstance(node, Comparison):
        _attributes(node.left, found)
        _attributes(node.right, found)


def _compile(node: Node, slots: dict[str, int]) -> Evaluator:
    if isinstance(node, Attribute):
        slot = slots[node.name]
        return lambda env: env[slot]
    if isinstance(node, Constant):
        value = node.value
        return lambda env: value
    if isinstance(node, Missing):
        return lambda env: None
    if isinstance(node, Comparison):
        left, right, operator = _compile(node.left, slots), _compile(node.right, slots), node.operator
        return lambda env: _compare(operator, left(env), right(env))
    spec = FUNCTIONS.get(node.name.lower())
    if spec is None:
        raise MappingError(f"function {node.name} is not supported (rcaudit evaluates "
                           f"{', '.join(SUPPORTED_FUNCTIONS)})")
    low, high, build = spec
    if len(node.args) < low or (high is not None and len(node.args) > high):
        expected = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
        raise MappingError(f"{node.name} takes {expected} arguments, not {len(node.args)}")
    return build([_compile(arg, slots) for arg in node.args], list(node.args))


def compile_expression(expression: str, target: str | None = None) -> CompiledExpression:
    """Parse and compile once; MappingError names the target attribute and the expression."""
    try:
        tree = parse(expression)
        found: dict[str, None] = {}
        _attributes(tree, found)
        names = tuple(found)
        evaluate = _compile(tree, {name: i for i, name in enumerate(names)})
    except MappingError as exc:
        where = f"attribute {target}: " if target else ""
        raise MappingError(f"{where}cannot evaluate {expression!r}: {exc.message}") from None
    return CompiledExpression(expression, names, evaluate, tree)
