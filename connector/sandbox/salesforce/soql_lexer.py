"""SOQL tokens. Literal forms follow the SOQL reference:
strings in single quotes with the escapes of "Quoted String Escape Sequences"
[DOC: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm];
dates ``YYYY-MM-DD`` and datetimes ``YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm)``, unquoted
[DOC: https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-select-dateformats.md].
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .errors import ApiError

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_LIKE_ESCAPES = {"_", "%"}
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))?")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCT = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", ":": "COLON"}


@dataclass(frozen=True)
class Token:
    kind: str
    """IDENT, STRING, NUMBER, DATE, DATETIME, OP, LPAREN, RPAREN, COMMA, DOT, COLON, EOF"""
    text: str
    pos: int
    value: object = None
    like: re.Pattern | None = None
    """STRING only: the value as a LIKE pattern (unescaped % and _ are wildcards)."""

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.text.upper() in words


def soql_error(code: str, query: str, pos: int, detail: str) -> ApiError:
    """Salesforce's message shape: the query line, a caret, the position, then the reason."""
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    line = query[line_start: line_end if line_end >= 0 else len(query)]
    row = query.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    caret = " " * (column - 1) + "^"
    return ApiError(400, code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}")


def tokenize(query: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(query):
        ch = query[pos]
        if ch.isspace():
            pos += 1
        elif ch == "'":
            token, pos = _string(query, pos)
            tokens.append(token)
        elif ch.isdigit() or (ch == "-" and pos + 1 < len(query) and query[pos + 1].isdigit()):
            token, pos = _number_or_date(query, pos)
            tokens.append(token)
        elif ch.isalpha() or ch == "_":
            match = _IDENT.match(query, pos)
            tokens.append(Token("IDENT", match.group(), pos))
            pos = match.end()
        elif ch in _PUNCT:
            tokens.append(Token(_PUNCT[ch], ch, pos))
            pos += 1
        else:
            op = next((o for o in _OPERATORS if query.startswith(o, pos)), None)
            if op is None:
                raise soql_error("MALFORMED_QUERY", query, pos, f"unexpected token: '{ch}'")
            tokens.append(Token("OP", "!=" if op == "<>" else op, pos))
            pos += len(op)
    tokens.append(Token("EOF", "<EOF>", len(query)))
    return tokens


def _string(query: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    pattern: list[str] = []
    pos = start + 1
    while pos < len(query):
        ch = query[pos]
        if ch == "'":
            value = "".join(chars)
            like = re.compile("".join(pattern), re.IGNORECASE | re.DOTALL)
            return Token("STRING", query[start:pos + 1], start, value, like), pos + 1
        if ch == "\\":
            nxt = query[pos + 1] if pos + 1 < len(query) else ""
            if nxt in _ESCAPES:
                chars.append(_ESCAPES[nxt])
                pattern.append(re.escape(_ESCAPES[nxt]))
            elif nxt in _LIKE_ESCAPES:
                chars.append("\\" + nxt)  # outside LIKE the backslash stays (SOQL reference)
                pattern.append(re.escape(nxt))
            else:
                raise soql_error("MALFORMED_QUERY", query, pos,
                                 f"Invalid string literal '{query[start:pos + 2]}'. Illegal character sequence "
                                 f"'\\{nxt}' in string literal.")
            pos += 2
            continue
        chars.append(ch)
        pattern.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        pos += 1
    raise soql_error("MALFORMED_QUERY", query, start, "unterminated string literal")


def _number_or_date(query: str, start: int) -> tuple[Token, int]:
    match = _DATETIME.match(query, start)
    if match and query[start] != "-":
        text = match.group()
        if match.group(2):
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
            return Token("DATETIME", text, start, stamp), match.end()
        try:
            return Token("DATE", text, start, dt.date.fromisoformat(text)), match.end()
        except ValueError:
            raise soql_error("MALFORMED_QUERY", query, start, f"invalid date: {text}") from None
    match = _NUMBER.match(query, start)
    text = match.group()
    value = float(text) if "." in text else int(text)
    return Token("NUMBER", text, start, value), match.end()
