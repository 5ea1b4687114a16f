"""Which line of a TOML text defines a key: tomllib reports no positions, so this finds them.

It runs only on text tomllib accepted (and only when there is an error to report), so it
need not judge syntax: one regular expression splits the text into strings, comments,
brackets and words, and a table header or a ``key =`` counts only at the start of a line
outside any array or inline table.  A path is written as msgspec writes it in an error
(``("radar", 1, "lat")`` for the second ``[[radar]]``'s ``lat``); a key without a line of its
own (inside an inline table) is reported at the line of the nearest enclosing key.
(tomlkit keeps no positions either, and takes seconds where tomllib takes milliseconds.)
"""

from __future__ import annotations

import re
import tomllib

Path = tuple[str | int, ...]

_STRING = "|".join([
    r'"""(?:\\.|[^\\])*?"""(?!")',  # multi-line basic: may end in up to two more quotes
    r"'''.*?'''(?!')",  # multi-line literal, likewise
    r'"(?:\\.|[^"\\\n])*"',
    r"'[^'\n]*'",
])
_PART = r'[A-Za-z0-9_-]+|"(?:\\.|[^"\\\n])*"|\'[^\'\n]*\''
_KEYS = rf"(?:{_PART})(?:[ \t]*\.[ \t]*(?:{_PART}))*"
# Where a statement may start: a blank or comment line, a table header or a key.
_STATEMENT = re.compile(rf"""[ \t\r]*(?:
    (?P<blank>(?:\#[^\n]*)?(?:\n|\Z))
  | (?P<open>\[\[?)[ \t]*(?P<header>{_KEYS})[ \t]*\]\]?
  | (?P<key>{_KEYS})[ \t]*=)""", re.VERBOSE)
# In a value (to the end of its line, or of its array or inline table): only what can
# contain a newline or nest matters, and a search skips the rest.
_VALUE = re.compile(rf"(?P<newline>\n)|\#[^\n]*|(?P<string>{_STRING})|[\[\]{{}}]", re.DOTALL)


def _part(token: str) -> str:
    """A key part as TOML reads it: quotes removed, escapes resolved."""
    if token[0] == "'":
        return token[1:-1]
    if token[0] == '"':
        return next(iter(tomllib.loads(f"{token} = 0")))
    return token


def find_line(text: str, path: Path) -> int | None:
    """The line (1-based) that defines ``path``, else its nearest enclosing key or table."""
    found: dict[Path, int] = {}
    counts: dict[Path, int] = {}  # arrays of tables: how many seen so far, by plain path
    table: Path = ()
    line, pos, depth = 1, 0, 0
    while pos < len(text):
        if depth == 0:  # a statement
            m = _STATEMENT.match(text, pos)
            if m is None:
                break  # not TOML after all: say what was found so far
            pos = m.end()
            if m["blank"] is not None:
                line += 1
                continue
            keys = [_part(k) for k in re.findall(_PART, m["header"] or m["key"])]
            if m["header"]:
                defined = table = _resolve(keys, counts, array=m["open"] == "[[")
            else:
                defined = _resolve(keys, counts, base=table)
            for n in range(1, len(defined) + 1):
                if found.setdefault(defined[:n], line) == line and defined[:n] == path:
                    return line
        while (v := _VALUE.search(text, pos)) is not None:  # the rest of the statement
            pos = v.end()
            if v["newline"] is not None:
                line += 1
                if depth == 0:
                    break
            elif v["string"] is not None:
                line += v.group().count("\n")
            elif v.group() in "[{":
                depth += 1
            elif v.group() in "]}":
                depth -= 1
        else:
            break
    for n in range(len(path), 0, -1):
        if path[:n] in found:
            return found[path[:n]]
    return None


def _resolve(keys: list[str], counts: dict[Path, int], *, array: bool = False,
             base: Path = ()) -> Path:
    """A header's or key's parts as a path, with the current index of each array of
    tables it passes through; a ``[[header]]`` starts the next table of its array."""
    plain: Path = ()
    full: Path = base
    for n, key in enumerate(keys, 1):
        plain += (key,)
        full += (key,)
        if not base:
            if array and n == len(keys):
                counts[plain] = counts.get(plain, 0) + 1
            if plain in counts:
                full += (counts[plain] - 1,)
    return full
