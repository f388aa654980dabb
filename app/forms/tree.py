"""Walk a QuestionnaireResponse beside its Questionnaire: each answerable item, its path and its parents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .extensions import is_help

__all__ = ["Node", "child_definitions", "definitions", "find_answers", "walk"]


@dataclass(frozen=True)
class Node:
    """One item instance of the response. `path` is unique: linkId~index segments joined by '/'."""

    q: dict[str, Any]
    r: dict[str, Any]
    path: str
    parents: tuple[dict[str, Any], ...]  # enclosing response items, nearest last

    @property
    def is_group(self) -> bool:
        return self.q.get("type") == "group"


def child_definitions(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Questionnaire children that appear in a response (help texts and displays do not)."""
    return [c for c in item.get("item") or [] if c.get("type") != "display"]


def definitions(questionnaire: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Questionnaire item, depth first, help texts included."""
    stack = list(reversed(questionnaire.get("item") or []))
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(item.get("item") or []))


def _shown_displays(q_items: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Display items that are body text of their group (not help), with their place among the siblings."""
    return [(i, q) for i, q in enumerate(q_items) if q.get("type") == "display" and not is_help(q)]


def _walk(
    q_items: list[dict[str, Any]],
    r_items: list[dict[str, Any]],
    prefix: str,
    parents: tuple[dict[str, Any], ...],
    displays: bool,
) -> Iterator[Node]:
    answerable = child_definitions({"item": q_items})
    by_link = {q["linkId"]: q for q in answerable}
    order = {q["linkId"]: i for i, q in enumerate(q_items)}
    pending = _shown_displays(q_items) if displays else []

    def displays_before(position: int) -> Iterator[Node]:
        while pending and pending[0][0] < position:
            q = pending.pop(0)[1]
            yield Node(q=q, r={"linkId": q["linkId"]}, path=f"{prefix}{q['linkId']}~0", parents=parents)

    counts: dict[str, int] = {}
    for r in r_items:
        q = by_link.get(r.get("linkId", ""))
        if q is None:
            continue
        yield from displays_before(order[q["linkId"]])
        index = counts.get(q["linkId"], 0)
        counts[q["linkId"]] = index + 1
        node = Node(q=q, r=r, path=f"{prefix}{q['linkId']}~{index}", parents=parents)
        yield node
        if node.is_group:
            yield from _walk(q.get("item") or [], r.get("item") or [], node.path + "/", (*parents, r), displays)
    yield from displays_before(len(q_items))


def walk(questionnaire: dict[str, Any], response: dict[str, Any], *, displays: bool = False) -> Iterator[Node]:
    """Every item instance of the response that the Questionnaire defines, depth first.

    With `displays`, display items that are not help text come too, in their place, each once per instance of
    its group (they are not in the response: their `r` is a stand-in).
    """
    yield from _walk(questionnaire.get("item") or [], response.get("item") or [], "", (), displays)


def _subtree_answers(items: list[dict[str, Any]], link_id: str) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] | None = None
    for item in items:
        if item.get("linkId") == link_id:
            found = (found or []) + list(item.get("answer") or [])
        deeper = _subtree_answers(item.get("item") or [], link_id)
        if deeper is not None:
            found = (found or []) + deeper
    return found


def find_answers(link_id: str, node: Node, response: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers of `link_id` as seen from `node`: the nearest enclosing group instance that holds it wins."""
    for container in (*reversed(node.parents), response):
        found = _subtree_answers(container.get("item") or [], link_id)
        if found is not None:
            return found
    return []
