"""A site file's bytes -> its YAML tree, within limits; every failure is a located error.

Whoever can write the site file (a person, a careless copy, an attacker with a foothold in
``/etc/gtb``) must get ``FILE:LINE: message``, or ``FILE: message`` for the file as a
whole, and never a traceback, a hung read or a process out of memory. In order:

1. the path is a regular file, checked before it is opened and again on what was opened
   (without blocking): a FIFO would block the read forever, ``/dev/zero`` never ends;
2. at most ``MAX_BYTES`` are read;
3. the bytes are UTF-8 (a byte-order mark is allowed), without NUL and without the control
   characters YAML forbids;
4. libyaml's event stream, which it produces without recursion, is walked for the nesting
   depth and for the number of values aliases expand to, before any tree is built:
   ruamel's C composer recurses once per level and crashes the process (SIGSEGV) near
   50,000 levels, and ten nested aliases of ten items each are ten billion values;
5. ruamel's safe loader builds the tree; a value it cannot build (31 February, an integer
   of 5,000 digits) is found again node by node, for its line.

The walk of step 4 costs about 6 % of ``load_site`` on a valid 10,000-point file (0.25 s of
4.8 s, pydantic and the safe loader's constructor taking the rest); ``value_lines`` walks
the events again on the error path only, to find the line of each value named by an error:
at an alias, the line that uses it, with the line of its anchor.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import Node, ScalarNode

MAX_BYTES = 5_000_000
"""The largest site file read: a syndicate's 25,000 points in the demo's one-line style
(about 190 bytes each), 12,000 written out key by key; a commune has a few hundred."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists: a valid site file needs 9 (a point's watch)."""
MAX_VALUES = 1_000_000
"""Most values (scalars, mappings and lists) once aliases are expanded: a 10,000-point
file has 270,000."""

Loc = tuple[str | int, ...]

# YAML 1.2's printable characters (c-printable): tab, line breaks and the printable planes.
_NOT_PRINTABLE = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_VALUE_CHARS = 60


@dataclass(frozen=True)
class SiteError:
    """One problem in a site file, where it is and what is wrong; line 0: the whole file."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        at = f":{self.line}" if self.line else ""
        return f"{self.file}{at}: {where}{self.message}"


class SiteFileError(Exception):
    """A site file that cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[SiteError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def _fail(name: str, line: int, message: str) -> SiteFileError:
    return SiteFileError([SiteError(name, line, "", message)])


def _shortened(value: object) -> str:
    """``repr(value)``, cut to a length that fits in a message (a 5 MB key stays out)."""
    text = repr(value)
    if len(text) <= _MESSAGE_VALUE_CHARS:
        return text
    return f"{text[:_MESSAGE_VALUE_CHARS]}… ({len(text):,} characters)"


# --- bytes -> text ---------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The text of the site file at ``path``, checked as the module docstring says."""
    name = str(path)
    try:
        _small_regular_file(name, os.stat(path))
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _fail(name, 0, f"cannot read: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        try:
            _small_regular_file(name, os.fstat(file.fileno()))  # replaced since?
            data = file.read(MAX_BYTES + 1)
        except OSError as exc:
            raise _fail(name, 0, f"cannot read: {exc.strerror}") from None
    _small(name, len(data))  # grown since
    return _decoded(data, name)


def _small_regular_file(name: str, info: os.stat_result) -> None:
    _regular(name, info)
    _small(name, info.st_size)


def _small(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise _fail(name, 0, f"larger than {MAX_BYTES:,} bytes: not a site file (25,000 "
                    "points hold in 5 MB)")


def _regular(name: str, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        return
    kind = ("a directory" if stat.S_ISDIR(info.st_mode) else
            "a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
            "a socket" if stat.S_ISSOCK(info.st_mode) else "something else")
    raise _fail(name, 0, f"{kind}, not a regular file: a site file is a YAML text file")


def _decoded(data: bytes, name: str) -> str:
    """UTF-8 text without NUL, else the line of the first fault."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(name, 1, "UTF-16 text (it starts with UTF-16's byte-order mark): save "
                    "the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise _fail(name, data.count(b"\n", 0, nul) + 1,
                    f"NUL byte at byte {nul}: a binary file, not YAML text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(name, line, f"not UTF-8 at byte {exc.start} (0x{data[exc.start]:02x}): "
                    "save the file as UTF-8 (a Latin-1 « é » is one byte, 0xe9)") from None
    return text


def _check_characters(text: str, name: str) -> None:
    """Only the characters YAML allows: a raw control character is named with its line."""
    fault = _NOT_PRINTABLE.search(text)
    if fault is not None:
        start = fault.start()
        column = start - text.rfind("\n", 0, start)
        raise _fail(name, _line_at(text, start),
                    f"character U+{ord(fault.group()):04X} at column {column} is a control "
                    "character, which YAML does not allow: remove it (in double quotes, "
                    "write it as an escape such as \\x01)")


def _line_at(text: str, index: int) -> int:
    """1-based line of the character at ``index``."""
    return text.count("\n", 0, index) + 1


# --- text -> tree ------------------------------------------------------------------------------


def load_tree(text: str, name: str) -> Any:
    """The YAML tree of ``text`` (None for an empty file), once its shape is checked."""
    _check_characters(text, name)
    try:
        _check_shape(text, name)
        return YAML(typ="safe").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        context = (exc.context or "").strip()
        if exc.problem and context and not context.startswith("while") and exc.context_mark:
            # "found duplicate anchor; first occurrence" ... "second occurrence"
            problem = f"{context} on line {exc.context_mark.line + 1}, {problem}"
        raise _fail(name, line, f"YAML: {problem}") from None
    except YAMLError as exc:  # a reader's error; its characters were checked already
        raise _fail(name, 0, f"YAML: {str(exc).splitlines()[0]}") from None
    except (ValueError, ArithmeticError) as exc:  # a scalar its tag cannot read
        raise _unreadable_value(text, name, exc) from None


def _check_shape(text: str, name: str) -> None:
    """Nesting at most ``MAX_DEPTH`` deep, at most ``MAX_VALUES`` values with aliases
    expanded; a parser's error is raised as it is. The loop is the cost on a valid
    file: a scalar, most events, only counts."""
    reached: list[int] = []  # per open collection: the deepest level reached inside it
    opened: list[tuple[int, str | None, Any]] = []  # per open collection: total before it,
    # its anchor, its mark
    anchored: dict[str, tuple[int, int, int]] = {}  # anchor -> values, height, line
    total = 0
    for event in YAML(typ="safe").parse(text):
        kind = event.__class__
        if kind is ScalarEvent:
            total += 1
            if event.anchor is not None:
                anchored[event.anchor] = (1, 0, event.start_mark.line + 1)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if len(reached) >= MAX_DEPTH:
                raise _fail(name, event.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} "
                            "levels (a site file needs 9)")
            reached.append(len(reached) + 1)
            opened.append((total, event.anchor, event.start_mark))
            total += 1
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            deepest = reached.pop()
            before, anchor, mark = opened.pop()
            if anchor is not None:
                anchored[anchor] = (total - before, deepest - len(reached), mark.line + 1)
            if reached and deepest > reached[-1]:
                reached[-1] = deepest
        elif kind is AliasEvent:
            values, height, anchor_line = anchored.get(event.anchor, (1, 0, 0))
            deepest = len(reached) + height
            if deepest > MAX_DEPTH:
                raise _fail(name, event.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} "
                            f"levels through alias *{event.anchor} (anchored at line "
                            f"{anchor_line})")
            if reached and deepest > reached[-1]:
                reached[-1] = deepest
            total += values
        if total > MAX_VALUES:
            raise _fail(name, event.start_mark.line + 1, f"more than {MAX_VALUES:,} values "
                        "(an alias counts for what it repeats): not a site file")


def _unreadable_value(text: str, name: str, exc: Exception) -> SiteFileError:
    """The line of the first scalar the safe loader cannot build (its error has none)."""
    loader = YAML(typ="safe")
    node = loader.compose(text)
    constructor = loader.constructor
    for scalar in _scalars(node):
        try:
            constructor.construct_object(scalar, deep=True)
        except (ValueError, ArithmeticError) as problem:
            reason = str(problem).split(";")[0]
            kind = str(scalar.tag).rsplit(":", 1)[-1]
            return _fail(name, scalar.start_mark.line + 1,
                         f"YAML: cannot read {_shortened(scalar.value)} as {kind}: {reason}")
    return _fail(name, 0, f"YAML: {str(exc).split(';')[0]}")


def _scalars(root: Node | None) -> Iterator[ScalarNode]:
    """Every scalar node under ``root`` in the file's order, each once (aliases share)."""
    seen: set[int] = set()
    todo = [root] if root is not None else []
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            yield node
        elif isinstance(node.value, list):
            children = [part for item in node.value for part in (
                item if isinstance(item, tuple) else (item,))]
            todo.extend(reversed(children))


# --- where a value is --------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a value stands in the file: the line of its key (or of its item), and, when
    it is reached through an alias, the line of the anchor it repeats."""

    line: int
    anchor_line: int | None = None


def value_lines(text: str, wanted: Iterable[Loc]) -> dict[Loc, Place]:
    """The place of each loc of ``wanted``, and of each of their prefixes, that the file
    has, read from the events. An alias is not followed: a loc that goes through one is
    at the alias's place. For text whose shape was checked (``load_tree``)."""
    prefixes = {loc[:n] for loc in wanted for n in range(1, len(loc) + 1)}
    places: dict[Loc, Place] = {}
    anchors: dict[str, int] = {}
    stack: list[_Open] = []
    for event in YAML(typ="safe").parse(text):
        if isinstance(event, MappingEndEvent | SequenceEndEvent):
            stack.pop()
            continue
        if not isinstance(event, (CollectionStartEvent, ScalarEvent, AliasEvent)):
            continue
        line = event.start_mark.line + 1
        if not isinstance(event, AliasEvent) and event.anchor is not None:
            anchors[event.anchor] = line
        loc: Loc | None = ()
        if stack:
            parent = stack[-1]
            if parent.mapping and parent.key is _KEY:
                parent.key = event.value if isinstance(event, ScalarEvent) else None
                parent.key_line = line
                if isinstance(event, CollectionStartEvent):  # a complex key: not wanted
                    stack.append(_Open(None, isinstance(event, MappingStartEvent)))
                continue
            loc, line = parent.next_child(line)
            if loc is not None and loc not in prefixes:
                loc = None
            if loc is not None:
                anchor_line = anchors.get(event.anchor) if isinstance(event, AliasEvent) else None
                places[loc] = Place(line, anchor_line)
        if isinstance(event, CollectionStartEvent):
            stack.append(_Open(loc, isinstance(event, MappingStartEvent)))
    return places


_KEY = object()
"""What a mapping waits for when its next node is a key."""


@dataclass
class _Open:
    """A mapping or a list being read by ``value_lines``; ``loc`` None: not wanted."""

    loc: Loc | None
    mapping: bool
    index: int = 0
    key: object = _KEY
    key_line: int = 0

    def next_child(self, line: int) -> tuple[Loc | None, int]:
        """The loc of the value starting at ``line`` in this collection, and its place's
        line: its key's for a mapping, its own for a list."""
        if self.mapping:
            key, self.key = self.key, _KEY
            if self.loc is None or not isinstance(key, str):
                return None, self.key_line
            return (*self.loc, key), self.key_line
        self.index += 1
        return (None if self.loc is None else (*self.loc, self.index - 1)), line
