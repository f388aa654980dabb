"""`neosafe checklists lint`: every problem in the checklists that the engine would otherwise meet at the bedside.

Each Questionnaire must be valid FHIR R4 (the R4B model) with url and version; linkIds unique; every item a type
the engine draws; every enableWhen and every FHIRPath expression pointing at things that exist (items, the
launch contexts, NeoSafe's variables, the population variables in scope, functions fhirpathpy implements);
min/maxOccurs where they mean something; every extracted question coded so it becomes an Observation; every
SNOMED CT code in fhir_mappings/verified-snomed.toml (and passing its check digit); every other code defined in
NeoSafe's CodeSystem (fhir_mappings/neosafe-checklist-items.json); maxLength only on a question answered by typing,
and (in a checklist in use, not an archived version) declared on every one of them; minValue/maxValue only on a
date question, each a date or today() (+/- a duration), the lower not above the upper. In a checklist in use, no
text a clinician reads (title, description, item text and prefix, help, answer options) holds authoring text: a
proposal for clinical review, a source reference ("Source: SEED R4", "[7]", "Case V", "NICE QS116") or a raw
source-status code; review notes
live in checklists/README.md. The discharge holds
(fhir_mappings/discharge-holds.toml) are expressions over the discharge checklist's answers: each must parse and
name only linkIds that checklist has.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from antlr4.error.ErrorListener import ErrorListener
from fhir.resources.R4B.questionnaire import Questionnaire
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathListener import FHIRPathListener
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser
from pydantic import ValidationError

from app.fhir_systems import SNOMED_SYSTEM

from . import extensions as ext
from .extract import extraction_mode
from .validate import MAX_VALUE, MIN_VALUE, bound_of, without_calculated_bounds

__all__ = [
    "HOLDS",
    "CodeLists",
    "Problem",
    "code_lists",
    "lint_checklists",
    "lint_holds",
    "lint_questionnaire",
    "verhoeff_ok",
]

SNOMED = SNOMED_SYSTEM
ENGINE_VARIABLES = {"picture", "resource", "questionnaire", "context", "findings", "recipients"}  # findings: the
# discharge holds; recipients: whom the handover goes to (app/handover/routes.py recipient_entries)
HOLDS = "discharge-holds.toml"  # in the mappings folder: what holds a discharge (app.checkpoints.holds)
QUESTION_TYPES = {"boolean", "choice", "open-choice", "string", "text", "integer", "decimal", "date", "dateTime"}
OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
ANSWER_TYPES = {
    "answerBoolean": {"boolean"},
    "answerDecimal": {"decimal", "integer"},
    "answerInteger": {"integer", "decimal"},
    "answerDate": {"date", "dateTime"},
    "answerDateTime": {"dateTime", "date"},
    "answerString": {"string", "text", "open-choice"},
    "answerCoding": {"choice", "open-choice"},
}
ROOT_EXTENSIONS = {ext.LAUNCH_CONTEXT, ext.OBSERVATION_EXTRACT, ext.CATEGORY}
ITEM_EXTENSIONS = {
    ext.ENABLE_WHEN_EXPRESSION,
    ext.INITIAL_EXPRESSION,
    ext.ITEM_POPULATION_CONTEXT,
    ext.ITEM_CONTROL,
    ext.HIDDEN,
    ext.MIN_OCCURS,
    ext.MAX_OCCURS,
    ext.OBSERVATION_EXTRACT,
    ext.CATEGORY,
    ext.SIGNATURE_REQUIRED,
    MIN_VALUE,
    MAX_VALUE,
}
POPULATION = {ext.INITIAL_EXPRESSION, ext.ITEM_POPULATION_CONTEXT}  # evaluated while pre-filling only
TYPED = {"string", "text", "open-choice"}  # answered by typing (valueString): each declares its maxLength
LINK_ID_NAMED = re.compile(r"linkId\s*(?:=|~)\s*'((?:[^'\\]|\\.)*)'")
# What a clinician must never read on the form: review notes and references for the clinical safety lead (they live
# in checklists/README.md) and the picture's status codes (the form says them in words, app.forms.readout).
AUTHORING = re.compile(
    r"Proposal for clinical review|for clinical review:|\bSEED\b|(?:\[\d+\])+|\bSource: |\bCase V\b"
    r"|\bNICE (?:QS|PH|NG|CG)\d+|\b(?:none-found|not-configured|not-known)\b"
)


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


@dataclass(frozen=True)
class CodeLists:
    verified_snomed: frozenset[str]
    neosafe_system: str
    neosafe: dict[str, dict[str, Any]]  # code -> concept


def code_lists(mappings_dir: Path) -> CodeLists:
    """The verified SNOMED CT list and NeoSafe's own CodeSystem, from fhir_mappings/."""
    verified = tomllib.loads((mappings_dir / "verified-snomed.toml").read_text(encoding="utf-8"))["concepts"]
    system = json.loads((mappings_dir / "neosafe-checklist-items.json").read_text(encoding="utf-8"))
    return CodeLists(
        verified_snomed=frozenset(verified),
        neosafe_system=system["url"],
        neosafe={c["code"]: c for c in system.get("concept") or []},
    )


def verhoeff_ok(number: str) -> bool:
    """The SNOMED CT check digit (Verhoeff): catches a mistyped or spreadsheet-mangled SCTID."""
    d = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    p = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4]]
    for _ in range(6):
        p.append([p[1][x] for x in p[-1]])
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = d[check][p[i % 8][int(digit)]]
    return number.isdigit() and check == 0


class _Raise(ErrorListener):
    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
        raise SyntaxError(f"at column {column}: {msg}")


class _Names(FHIRPathListener):
    """The %variables and the functions (with their number of arguments) an expression uses."""

    def __init__(self) -> None:
        self.variables: list[str] = []
        self.functions: list[tuple[str, int]] = []

    def enterExternalConstant(self, ctx):
        self.variables.append(ctx.getText()[1:].strip("`'"))

    def enterFunctn(self, ctx):
        params = ctx.paramList()
        self.functions.append((ctx.identifier().getText().strip("`"), len(params.expression()) if params else 0))


def _parse(text: str) -> _Names:
    """fhirpathpy's own parser recovers silently from syntax errors; this one raises, and reads the whole input."""
    lexer = FHIRPathLexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    names = _Names()
    ParseTreeWalker.DEFAULT.walk(names, parser.entireExpression())
    return names


def _items(
    items: list[dict[str, Any]], parent=None, scope=(), extracted=False
) -> Iterator[tuple[dict, Any, tuple, bool]]:
    """(item, parent, population variables its expressions may use, is it extracted) for every item."""
    for item in items or []:
        mode = extraction_mode(item)
        here = extracted if mode is None else bool(mode)
        yield item, parent, scope, here
        inner = scope
        context = ext.expression(item, ext.ITEM_POPULATION_CONTEXT)
        if context and context.get("name"):
            inner = (*scope, context["name"])
        yield from _items(item.get("item") or [], item, inner, here)


def _codings(q: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from (("Questionnaire.code", c) for c in q.get("code") or [])
    for item, *_ in _items(q.get("item") or []):
        where = item.get("linkId", "?")
        yield from ((where, c) for c in item.get("code") or [])
        yield from ((where, o["valueCoding"]) for o in item.get("answerOption") or [] if "valueCoding" in o)
        yield from ((where, w["answerCoding"]) for w in item.get("enableWhen") or [] if "answerCoding" in w)
        yield from ((where, i["valueCoding"]) for i in item.get("initial") or [] if "valueCoding" in i)


def _check_code(where: str, coding: dict[str, Any], codes: CodeLists) -> Iterator[tuple[str, str]]:
    system, code = coding.get("system"), coding.get("code")
    if not system or not code:
        yield where, f"a code needs both system and code, got {coding!r}"
    elif system == SNOMED:
        if code not in codes.verified_snomed:
            yield where, f"SNOMED CT {code} is not in fhir_mappings/verified-snomed.toml"
        elif not verhoeff_ok(code):
            yield where, f"SNOMED CT {code} fails its check digit"
    elif system != codes.neosafe_system:
        yield where, f"code system {system} is neither SNOMED CT nor NeoSafe's ({codes.neosafe_system})"
    elif code not in codes.neosafe:
        yield where, f"{code} is not defined in fhir_mappings/neosafe-checklist-items.json"
    elif coding.get("display") and coding["display"] != codes.neosafe[code].get("display"):
        yield (
            where,
            f"display of {code} is {coding['display']!r}; the CodeSystem says {codes.neosafe[code]['display']!r}",
        )


def _check_expression(where, url, value, *, allowed: set[str], scope, link_ids) -> Iterator[tuple[str, str]]:
    if not isinstance(value, dict) or value.get("language") != "text/fhirpath" or not value.get("expression"):
        yield where, f"{url.rsplit('-', 1)[-1]} must be a text/fhirpath expression"
        return
    text = value["expression"]
    try:
        names = _parse(text)
    except SyntaxError as exc:
        yield where, f"FHIRPath does not parse ({exc}): {text}"
        return
    population = set(scope) if url in POPULATION else set()
    for variable in names.variables:
        if variable not in allowed | population:
            hint = " (population variables exist only while pre-filling)" if variable in scope else ""
            yield where, f"%{variable} is not a launch context, NeoSafe variable or population variable in scope{hint}"
    for function, count in names.functions:
        known = invocation_registry.get(function)
        if known is None:
            yield where, f"FHIRPath function {function}() does not exist in fhirpathpy"
        elif count not in (known.get("arity") or {0: []}):
            yield where, f"FHIRPath function {function}() does not take {count} argument(s)"
    for named in LINK_ID_NAMED.findall(text):
        if named not in link_ids:
            yield where, f"expression names linkId '{named}', which no item has"
    if url == ext.ITEM_POPULATION_CONTEXT and not value.get("name"):
        yield where, "itemPopulationContext needs a name (the variable its children use)"


def _check_enable_when(item, by_id) -> Iterator[tuple[str, str]]:
    where = item["linkId"]
    whens = item.get("enableWhen") or []
    if len(whens) > 1 and item.get("enableBehavior") not in ("any", "all"):
        yield where, "several enableWhen conditions need enableBehavior any or all"
    if whens and ext.expression(item, ext.ENABLE_WHEN_EXPRESSION):
        yield where, "enableWhen and enableWhenExpression cannot both be used (SDC)"
    for when in whens:
        target = by_id.get(when.get("question"))
        answers = [k for k in when if k.startswith("answer")]
        if target is None:
            yield where, f"enableWhen refers to '{when.get('question')}', which no item has"
            continue
        if target.get("type") not in QUESTION_TYPES:
            yield where, f"enableWhen refers to '{when['question']}', a {target.get('type')}, which has no answer"
        if when.get("operator") not in OPERATORS:
            yield where, f"enableWhen operator {when.get('operator')!r} is not one of {' '.join(sorted(OPERATORS))}"
        if len(answers) != 1:
            yield where, "enableWhen needs exactly one answer[x]"
            continue
        if when.get("operator") == "exists":
            if answers[0] != "answerBoolean":
                yield where, "enableWhen 'exists' needs answerBoolean"
            continue
        if target.get("type") not in ANSWER_TYPES.get(answers[0], set()):
            yield where, f"enableWhen {answers[0]} cannot match '{when['question']}', a {target.get('type')}"
        if "answerCoding" in when and target.get("answerOption"):
            options = {(o["valueCoding"].get("system"), o["valueCoding"].get("code")) for o in target["answerOption"]}
            coding = when["answerCoding"]
            if (coding.get("system"), coding.get("code")) not in options:
                yield where, f"enableWhen answer {coding.get('code')} is not an option of '{when['question']}'"


def _check_max_length(item, *, in_use: bool) -> Iterator[tuple[str, str]]:
    where, kind, most = item.get("linkId", "?"), item.get("type"), item.get("maxLength")
    if most is not None and kind not in TYPED:
        yield where, f"maxLength is used only on a question answered by typing ({', '.join(sorted(TYPED))})"
    elif most is not None and most < 1:
        yield where, f"maxLength {most} leaves no room for an answer"
    elif most is None and kind in TYPED and in_use:
        yield where, f"a question of type {kind} needs maxLength: the longest answer, in characters, NeoSafe takes"


def _check_bounds(item) -> Iterator[tuple[str, str]]:
    """minValue/maxValue: on date questions only, readable by the engine, and the lower not above the upper."""
    where, urls = item.get("linkId", "?"), [e.get("url") for e in item.get("extension") or []]
    if not {MIN_VALUE, MAX_VALUE} & set(urls):
        return
    if item.get("type") not in ("date", "dateTime"):
        yield where, "minValue/maxValue are read only on a date or dateTime question"
        return
    try:
        low, high = (bound_of(item, url, date.today()) for url in (MIN_VALUE, MAX_VALUE))
    except ValueError as exc:
        yield where, str(exc)
        return
    if low and high and low[0] > high[0]:
        yield where, "minValue is after maxValue: no date could be entered"


def _shown(item: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(what, text) for every text of the item a clinician reads: its text and prefix, its answer options' words."""
    what = "help" if item.get("type") == "display" else "text"
    yield from (
        (key if key == "prefix" else what, item[key]) for key in ("text", "prefix") if isinstance(item.get(key), str)
    )
    for kind in ("answerOption", "initial"):
        for option in item.get(kind) or []:
            words = (option.get("valueCoding") or {}).get("display") or option.get("valueString")
            if isinstance(words, str):
                yield ("answer option" if kind == "answerOption" else "initial answer"), words


def _check_authoring(where: str, shown: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for what, text in shown:
        found = AUTHORING.search(text)
        if found:
            yield (
                where,
                f"{what} shows clinicians authoring text {found.group(0)!r}: move review notes and references to "
                "checklists/README.md, and say a status in words",
            )


def _check_item(item, extracted) -> Iterator[tuple[str, str]]:
    where, kind = item.get("linkId", "?"), item.get("type")
    if kind not in QUESTION_TYPES | {"group", "display"}:
        yield where, f"type {kind!r} is not one the form can draw"
    for extension in item.get("extension") or []:
        if extension.get("url") not in ITEM_EXTENSIONS:
            yield where, f"extension {extension.get('url')} is not implemented by the form engine"
    if kind == "display":
        if item.get("item"):
            yield where, "display items cannot have items"
        return
    if kind in QUESTION_TYPES and any(c.get("type") != "display" for c in item.get("item") or []):
        yield where, "questions nested under a question are not supported: put them in a group"
    if kind in ("choice", "open-choice") and not item.get("answerOption"):
        yield where, f"a {kind} question needs answerOption (answerValueSet is not supported)"
    minimum, maximum = ext.extension_value(item, ext.MIN_OCCURS), ext.extension_value(item, ext.MAX_OCCURS)
    if minimum is not None and not item.get("required"):
        yield where, "minOccurs is used only on a required item"
    if maximum is not None and not item.get("repeats"):
        yield where, "maxOccurs is used only on a repeating item"
    if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
        yield where, f"minOccurs {minimum} is more than maxOccurs {maximum}"
    prefilled = item.get("initial") or ext.expression(item, ext.INITIAL_EXPRESSION)
    if ext.is_hidden(item) and item.get("required") and not prefilled and kind != "group":
        yield where, "a hidden required item is never pre-filled, and the clinician cannot see it"
    if item.get("readOnly") and not prefilled and kind != "group":
        yield where, "a read-only item is never pre-filled"
    if kind == "group" and item.get("code") and extraction_mode(item) not in ("component", "member"):
        yield where, "a coded group is extracted only with observationExtract 'component' or 'member'"
    if kind in QUESTION_TYPES and extracted and not item.get("code"):
        yield where, "is extracted (observationExtract) but has no code: its answer would not reach the record"


def lint_questionnaire(data: Any, *, name: str, codes: CodeLists, in_use: bool = True) -> list[Problem]:
    """Every problem in one Questionnaire (parsed JSON), each naming the item. An archived version (`in_use`
    False) stays as responses were made on it: it need not declare maxLength (an amendment of a checklist made on
    it is held to DEFAULT_MAX_LENGTH wherever it declares none)."""
    found: list[tuple[str, str]] = []
    try:
        Questionnaire.model_validate(without_calculated_bounds(data) if isinstance(data, dict) else data)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        return [Problem(name, "Questionnaire", f"not a valid FHIR R4 Questionnaire: {place}: {first['msg']}")]
    if not data.get("url") or not data.get("version"):
        found.append(("Questionnaire", "needs both url and version (responses name url|version)"))
    for extension in data.get("extension") or []:
        if extension.get("url") not in ROOT_EXTENSIONS:
            found.append(("Questionnaire", f"extension {extension.get('url')} is not implemented by the form engine"))
    launch = {
        (ext.extension_value(e, "name") or {}).get("code")
        for e in data.get("extension") or []
        if e.get("url") == ext.LAUNCH_CONTEXT
    }
    allowed = ENGINE_VARIABLES | {c for c in launch if c}
    items = list(_items(data.get("item") or [], extracted=bool(extraction_mode(data))))
    link_ids = [item.get("linkId") for item, *_ in items]
    by_id = {item.get("linkId"): item for item, *_ in items}
    for duplicate in sorted({i for i in link_ids if link_ids.count(i) > 1}):
        found.append((duplicate, "linkId is used more than once"))
    if in_use:
        found += _check_authoring(
            "Questionnaire", ((k, data[k]) for k in ("title", "description") if isinstance(data.get(k), str))
        )
    for item, _parent, scope, extracted in items:
        found += _check_item(item, extracted)
        if in_use:
            found += _check_authoring(item.get("linkId", "?"), _shown(item))
        found += _check_max_length(item, in_use=in_use)
        found += _check_bounds(item)
        found += _check_enable_when(item, by_id)
        for extension in item.get("extension") or []:
            if extension.get("url") in (ext.ENABLE_WHEN_EXPRESSION, *POPULATION):
                found += _check_expression(
                    item.get("linkId", "?"),
                    extension["url"],
                    extension.get("valueExpression"),
                    allowed=allowed,
                    scope=scope,
                    link_ids=by_id,
                )
    for where, coding in _codings(data):
        found += _check_code(where, coding, codes)
    return [Problem(name, where, message) for where, message in found]


def lint_holds(path: Path, discharge: dict[str, Any]) -> list[Problem]:
    """Every problem in the discharge holds file against the discharge checklist (parsed JSON): each hold needs a
    unique id, words, and an expression over %resource alone that parses and names only items the checklist has."""
    try:
        holds = tomllib.loads(path.read_text(encoding="utf-8")).get("holds")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [Problem(path.name, "-", f"cannot be read: {exc}")]
    if not isinstance(holds, list) or not all(isinstance(h, dict) for h in holds):
        return [Problem(path.name, "-", "needs [[holds]] tables")]
    link_ids = {item.get("linkId") for item, *_ in _items(discharge.get("item") or [], extracted=False)}
    found: list[tuple[str, str]] = []
    ids = [h.get("id") for h in holds]
    for hold in holds:
        where = str(hold.get("id") or "?")
        if not hold.get("id") or not hold.get("words"):
            found.append((where, "every hold needs an id and words"))
        if ids.count(hold.get("id")) > 1:
            found.append((where, "id is used more than once"))
        found += _check_expression(
            where,
            "holds-expression",
            {"language": "text/fhirpath", "expression": hold.get("expression")},
            allowed={"resource"},
            scope=(),
            link_ids=link_ids,
        )
    return [Problem(path.name, where, message) for where, message in found]


def lint_checklists(checklists_dir: Path, mappings_dir: Path) -> list[Problem]:
    """Every problem in every Questionnaire (*.json, archive included) in `checklists_dir`; empty when all is well."""
    codes = code_lists(mappings_dir)
    problems: list[Problem] = []
    paths = sorted(checklists_dir.rglob("*.json"))  # archived versions too: old responses still use them
    if not paths:
        return [Problem(str(checklists_dir), "-", "no checklists (*.json) found")]
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(Problem(str(path.relative_to(checklists_dir)), "-", f"not JSON: {exc}"))
            continue
        name = str(path.relative_to(checklists_dir))
        problems += lint_questionnaire(data, name=name, codes=codes, in_use=path.parent == checklists_dir)
        if name == "discharge.json" and (mappings_dir / HOLDS).exists():
            problems += lint_holds(mappings_dir / HOLDS, data)
    return problems
