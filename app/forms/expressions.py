"""Evaluate checklist FHIRPath with fhirpathpy. A broken expression is reported, never silently ignored.

Why the memo: fhirpathpy walks its input afresh for every expression, and the checklists repeat the same walks
in many expressions: `%questionnaire.repeat(item).where(linkId = ...)` for every group instance populated, and
`%resource.repeat(item)` in every enableWhenExpression of every round. Profiled, those walks were nearly all of
the time a populated checklist took. So each expression is compiled once into a tree in which every chain that
reads only %variables (`%x.a.where(...)`: no input focus, no now()/today()/trace()) is a shared sub-result,
computed once for the same variable values and reused by every expression that holds the same chain.

Results stay exactly fhirpathpy's: a sub-result is what fhirpathpy's own evaluator returns for that chain, and it
is taken only where nothing can tell the difference. fhirpathpy leaves `$this` set after a macro, so an
expression that could read it (`$this`, `$index`, `$total`, or a function argument that reads the input focus,
e.g. `union(item)`) is evaluated as written, without sub-results. Chains over the checklist alone are kept for
the process, keyed by the checklist's content; chains over anything else (patient data, the response) live only
as long as one `prepared()` block, or one evaluation outside any.

One shape is answered from an index: a shared chain filtered by `.where(linkId = 'literal')` (enableWhenExpression's
`%resource.repeat(item).where(linkId = ...)`, one for every question it reads). fhirpathpy tests every item of the
walk against the literal, a few ms each time; the index puts the walk's items under their linkId once per result,
in their order, so each lookup is the items fhirpathpy's `where` keeps, the same objects in the same order. It is
used only where that is certain: every item a JSON object whose linkId, if any, is a plain string with no `_linkId`
beside it; otherwise the chain is evaluated by fhirpathpy as written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache, reduce
from typing import Any

from fhirpathpy.engine import do_eval
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.invocations.constants import constants
from fhirpathpy.engine.nodes import FP_Type
from fhirpathpy.engine.util import arraify, get_data
from fhirpathpy.models import models
from fhirpathpy.parser import parse

__all__ = ["ExpressionError", "evaluate", "prepared"]

log = logging.getLogger(__name__)
R4 = models["r4"]
UCUM = "http://unitsofmeasure.org"
IMPURE = frozenset({"now", "today", "timeOfDay", "trace"})  # a different answer, or a side effect, each call
FOCUS_READERS = frozenset({"ThisInvocation", "IndexInvocation", "TotalInvocation"})
UNEVALUATED = frozenset({"Identifier", "TypeSpecifier"})  # argument kinds fhirpathpy reads as names, not values
CHECKLIST_VARIABLE = "questionnaire"  # checklist data, the same for everyone: its chains are kept for the process
KEPT = 256  # chains over checklists kept: a few dozen per checklist version


class ExpressionError(ValueError):
    """A checklist expression failed; the message names the expression, never patient data."""


class _Unshareable(Exception):
    """The expression could read fhirpathpy's leftover `$this`: evaluate it as written."""


@dataclass(frozen=True)
class _Needs:
    """What a piece of an expression reads: %variables, the input focus, and whether it is the same each call."""

    names: frozenset[str] = frozenset()
    focus: bool = False
    pure: bool = True

    def __or__(self, other: _Needs) -> _Needs:
        return _Needs(self.names | other.names, self.focus or other.focus, self.pure and other.pure)


@dataclass(frozen=True)
class _Chain:
    """A shared sub-result: its tree (itself with shared chains inside) and the %variables it reads. `lookup`, for
    `<shared chain>.where(linkId = 'literal')`: the inner chain's name and the literal, answered from an index."""

    name: str
    tree: dict[str, Any]
    names: tuple[str, ...]
    lookup: tuple[str, str] | None = None


@dataclass(frozen=True)
class _Compiled:
    tree: dict[str, Any]


_chains: dict[str, _Chain] = {}  # by the chain's whole parse tree, so only identical chains are shared
_by_name: dict[str, _Chain] = {}
_numbers = itertools.count()
_kept: OrderedDict[tuple[str, bytes], list[Any]] = OrderedDict()
_kept_lock = threading.Lock()


def _identifier(node: dict[str, Any]) -> str:
    while node.get("type") != "Identifier":
        node = node["children"][0]
    return str(node["text"]).strip('"').replace("`", "")


def _call(node: dict[str, Any]) -> _Needs:
    """What a function call reads besides its input: its arguments (a macro's are read per item, not focus)."""
    functn = node["children"][0]
    name = _identifier(functn["children"][0])
    params = functn["children"][1]["children"] if len(functn["children"]) > 1 else []
    invocation = invocation_registry.get(name)
    if invocation is None:
        raise _Unshareable(name)  # fhirpathpy will say it has no such function
    if "variadic" in invocation:
        kinds = [invocation["variadic"]] * len(params)
    else:
        kinds = (invocation.get("arity") or {0: []}).get(len(params))
        if kinds is None:
            raise _Unshareable(name)
    needs = _Needs(pure=name not in IMPURE)
    for param, kind in zip(params, kinds, strict=True):
        if kind in UNEVALUATED:
            continue
        read = _needs(param)
        if read.focus and kind != "Expr":
            raise _Unshareable(name)  # fhirpathpy evaluates it against a `$this` a macro may have left
        needs |= _Needs(read.names, False, read.pure)
    return needs


def _needs(node: dict[str, Any]) -> _Needs:
    kind = node.get("type")
    if kind in FOCUS_READERS:
        raise _Unshareable(kind)
    if kind == "ExternalConstantTerm":
        return _Needs(names=frozenset({_identifier(node)}))
    if kind == "MemberInvocation":
        return _Needs(focus=True)
    if kind == "FunctionInvocation":
        return _call(node) | _Needs(focus=True)
    if kind == "InvocationExpression":  # the right side reads what the left side gave, not the focus
        left, right = node["children"]
        after = {"MemberInvocation": _Needs, "FunctionInvocation": lambda: _call(right)}.get(right["type"])
        return _needs(left) | (after() if after else _needs(right))
    return reduce(lambda a, b: a | b, (_needs(c) for c in node.get("children") or []), _Needs())


def _reference(name: str, text: str) -> dict[str, Any]:
    """A parse tree node reading %name, where the chain was."""
    identifier = {"type": "Identifier", "terminalNodeText": [name], "text": name}
    constant = {"type": "ExternalConstant", "terminalNodeText": ["%"], "children": [identifier]}
    term = {"type": "ExternalConstantTerm", "terminalNodeText": [], "children": [constant]}
    return {"type": "TermExpression", "terminalNodeText": [], "text": text, "children": [term]}


def _link_id_lookup(rewritten: dict[str, Any]) -> tuple[str, str] | None:
    """(inner chain's name, literal) if `rewritten` is `<shared chain>.where(linkId = 'literal')`, else None."""
    left, right = rewritten["children"]
    try:
        constant = left["children"][0]["children"][0]
        inner = _identifier(constant)
        functn = right["children"][0]
        params = functn["children"][1]["children"]
        (condition,) = params
        member, literal = condition["children"]
        shapes = (
            left["type"] == "TermExpression" and constant["type"] == "ExternalConstant",
            right["type"] == "FunctionInvocation" and _identifier(functn["children"][0]) == "where",
            condition["type"] == "EqualityExpression" and condition["terminalNodeText"] == ["="],
            member["type"] == "TermExpression" and member["children"][0]["type"] == "InvocationTerm",
            member["children"][0]["children"][0]["type"] == "MemberInvocation",
            _identifier(member) == "linkId",
            literal["type"] == "TermExpression" and literal["children"][0]["type"] == "LiteralTerm",
            literal["children"][0]["children"][0]["type"] == "StringLiteral",
        )
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not all(shapes) or inner not in _by_name:
        return None
    ctx = {"dataRoot": [], "vars": {}, "model": R4, "userInvocationTable": {}}
    value = do_eval(ctx, [], literal)  # fhirpathpy's own reading of the literal (escapes and all)
    if len(value) != 1 or not isinstance(value[0], str):
        return None
    return inner, value[0]


def _by_link_id(items: list[Any]) -> dict[str, list[Any]] | None:
    """The items under their linkId, in order; None unless fhirpathpy's `linkId = 'x'` is plainly `linkId == 'x'`
    for every one (a JSON object, its linkId absent or a string, no `_linkId` extension beside it)."""
    index: dict[str, list[Any]] = {}
    for item in items:
        data = get_data(item)
        if not isinstance(data, dict) or isinstance(data, FP_Type) or "_linkId" in data:
            return None
        link_id = data.get("linkId")
        if link_id is None and "linkId" not in data:
            continue
        if not isinstance(link_id, str):
            return None
        index.setdefault(link_id, []).append(item)
    return index


def _share(node: dict[str, Any]) -> dict[str, Any]:
    """The tree with every chain that reads only %variables (always the same for the same values) shared."""
    rewritten = {**node, "children": [_share(c) for c in node["children"]]} if node.get("children") else node
    if node.get("type") != "InvocationExpression":
        return rewritten
    needs = _needs(node)
    if needs.focus or not needs.pure or not needs.names:
        return rewritten
    key = json.dumps(node, sort_keys=True)
    chain = _chains.get(key)
    if chain is None:
        name, names = f"\x00chain{next(_numbers)}", tuple(sorted(needs.names))
        chain = _Chain(name=name, tree=rewritten, names=names, lookup=_link_id_lookup(rewritten))
        _chains[key] = _by_name[chain.name] = chain
    return _reference(chain.name, str(node.get("text", "")))


@lru_cache(maxsize=512)
def _compiled(text: str) -> _Compiled:
    try:
        tree = parse(text)
    except Exception as exc:  # fhirpathpy raises assorted errors on bad syntax
        raise ExpressionError(f"cannot parse FHIRPath {text!r}: {type(exc).__name__}") from exc
    try:
        return _Compiled(tree=_share(tree))
    except (_Unshareable, LookupError, TypeError, ValueError):  # or a tree the parser got wrong: fhirpathpy says
        return _Compiled(tree=tree)


@dataclass
class _Scope:
    """Sub-results over values that do not change while the scope lasts; it holds the values, so ids stay theirs."""

    held: dict[int, Any] = field(default_factory=dict)
    results: dict[tuple[str, tuple[int, ...]], list[Any]] = field(default_factory=dict)
    indexes: dict[tuple[str, tuple[int, ...]], dict[str, list[Any]] | None] = field(default_factory=dict)
    digests: dict[int, bytes | None] = field(default_factory=dict)

    def digest(self, value: Any) -> bytes | None:
        """The checklist's content as a key (type, order and all: pickled), or None if it cannot be pickled."""
        if id(value) not in self.digests:
            self.held[id(value)] = value
            try:
                self.digests[id(value)] = hashlib.blake2b(pickle.dumps(value, protocol=5), digest_size=16).digest()
            except (pickle.PicklingError, TypeError, AttributeError):
                self.digests[id(value)] = None
        return self.digests[id(value)]


_scope: ContextVar[_Scope | None] = ContextVar("neosafe_fhirpath_scope", default=None)


@contextmanager
def prepared() -> Iterator[None]:
    """Share sub-results between the evaluations in the block. Promise: nothing handed to `evaluate` inside it
    (resources, %variables' values) is changed until the block ends."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set(_Scope())
    try:
        yield
    finally:
        _scope.reset(token)


class _Variables(dict):
    """The %variables of one evaluation; a shared chain's name reads its sub-result, computed on first use."""

    def __init__(self, values: dict[str, Any], root: list[Any], scope: _Scope) -> None:
        super().__init__(values)
        self.root, self.scope = root, scope

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in _by_name

    def __missing__(self, name: str) -> list[Any]:
        chain = _by_name[name]
        if not all(dict.__contains__(self, n) for n in chain.names):
            return self._compute(chain)  # fhirpathpy says which variable is undefined
        values = [dict.__getitem__(self, n) for n in chain.names]
        if chain.names == (CHECKLIST_VARIABLE,) and (digest := self.scope.digest(values[0])) is not None:
            return self._checklist_chain(chain, digest)
        for value in values:
            self.scope.held[id(value)] = value
        key = (chain.name, tuple(id(v) for v in values))
        if key not in self.scope.results:
            self.scope.results[key] = self._looked_up(chain) if chain.lookup else self._compute(chain)
        return list(self.scope.results[key])  # a copy: fhirpathpy changes some lists it is given

    def _looked_up(self, chain: _Chain) -> list[Any]:
        """`<inner>.where(linkId = 'literal')` from the index of the inner chain's result, else by fhirpathpy."""
        inner, literal = chain.lookup or ("", "")
        base = _by_name[inner]
        if not all(dict.__contains__(self, n) for n in base.names):
            return self._compute(chain)
        key = (inner, tuple(id(dict.__getitem__(self, n)) for n in base.names))
        if key not in self.scope.indexes:
            self.scope.indexes[key] = _by_link_id(self[inner])
        index = self.scope.indexes[key]
        if index is None:
            return self._compute(chain)
        return list(index.get(literal, []))

    def _checklist_chain(self, chain: _Chain, digest: bytes) -> list[Any]:
        key = (chain.name, digest)
        with _kept_lock:
            found = _kept.get(key)
            if found is not None:
                _kept.move_to_end(key)
                return list(found)
        found = self._compute(chain)
        with _kept_lock:
            _kept[key] = found
            while len(_kept) > KEPT:
                _kept.popitem(last=False)
        return list(found)

    def _compute(self, chain: _Chain) -> list[Any]:
        ctx = {"dataRoot": self.root, "vars": self, "model": R4, "userInvocationTable": {}}
        return do_eval(ctx, self.root, chain.tree)


def _plain(node: Any) -> Any:
    """fhirpathpy's own conversion of a result to plain data (`apply_parsed_path`'s `visit`)."""
    data = get_data(node)
    if isinstance(node, list):
        items = [_plain(item) for item in data]
        return [i for i in items if not (isinstance(i, dict) and list(i) == ["extension"])]
    if isinstance(data, dict) and not isinstance(data, FP_Type):
        return {key: _plain(value) for key, value in data.items()}
    return data


def _run(compiled: _Compiled, resource: dict[str, Any], env: dict[str, Any]) -> list[Any]:
    """fhirpathpy's `apply_parsed_path`, with %variables that know the shared chains."""
    constants.reset()
    root = arraify(resource)
    variables = _Variables({"context": resource, "ucum": UCUM, **env}, root, _scope.get() or _Scope())
    ctx = {"dataRoot": root, "vars": variables, "model": R4, "userInvocationTable": {}}
    return _plain(do_eval(ctx, root, compiled.tree["children"][0]))


def evaluate(text: str, *, resource: dict[str, Any], env: dict[str, Any]) -> list[Any]:
    """Evaluate `text` against `resource` (the QuestionnaireResponse) with %variables from `env`."""
    compiled = _compiled(text)
    try:
        return _run(compiled, resource, {"resource": resource, **env})
    except Exception as exc:
        log.warning("checklist expression failed: %s (%s)", text, type(exc).__name__)
        raise ExpressionError(f"FHIRPath {text!r} failed: {type(exc).__name__}") from exc
