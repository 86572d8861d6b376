"""A recursive-descent parser for the SOQL subset integrations use.

    query      := SELECT select (',' select)* FROM name [WHERE cond] [ORDER BY order (',' order)*]
                  [LIMIT n] [OFFSET n]
    select     := COUNT '(' ')' | path | '(' query ')'            -- a child-relationship subquery
    cond       := unary ((AND unary)* | (OR unary)*)               -- mixing AND/OR needs parentheses
    unary      := NOT unary | '(' cond ')' | operand op value | operand [NOT] IN '(' value (',' value)* ')'
                | operand LIKE string
    operand    := path | DATE_FUNCTION '(' (path | convertTimezone '(' path ')') ')'
    value      := string | number | date | datetime | TRUE | FALSE | NULL | DATE_LITERAL [':' n]
    order      := path [ASC|DESC] [NULLS (FIRST|LAST)]

Child subqueries nest: up to five levels of parent-to-child relationships (the outer query is the
first) from API version 58.0, one level of subquery before it
[DOC: soql_sosl "Understanding Relationship Query Limitations"].

Syntax errors are 400 MALFORMED_QUERY (facts §4) with Salesforce's "ERROR at Row:r:Column:c" text.
SOQL the sandbox does not model (FIELDS(), TYPEOF, aggregates other than COUNT(), GROUP BY, semi-
and anti-joins, ...) is a MALFORMED_QUERY saying "not supported by this sandbox" and naming the
construct, so a client never mistakes it for its own syntax error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import soql_dates as dates
from .soql_lexer import Token, soql_error, tokenize

MAX_LEVELS = 5
LEVELS_BEFORE_V58 = 2
AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
SELECT_FUNCTIONS = {"TOLABEL", "FORMAT", "CONVERTCURRENCY", "CONVERTTIMEZONE", "GROUPING", "DISTANCE",
                    "GEOLOCATION"} | dates.FUNCTIONS
CLAUSES_NOT_MODELLED = {"GROUP": "GROUP BY", "HAVING": "HAVING", "WITH": "WITH (security, data categories)",
                        "FOR": "FOR VIEW / FOR REFERENCE / FOR UPDATE", "USING": "USING SCOPE",
                        "UPDATE": "UPDATE TRACKING / VIEWSTAT"}
RESERVED = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "OFFSET",
            "ASC", "DESC", "NULLS", "FIRST", "LAST", "GROUP", "HAVING", "WITH", "FOR", "USING", "INCLUDES",
            "EXCLUDES", "TYPEOF", "NULL", "TRUE", "FALSE"}


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str
    """string, number, date, datetime, boolean, null, date_function"""
    value: object
    pos: int
    like: object = None
    n: int | None = None


@dataclass(frozen=True)
class DateFunction:
    """``name(path)`` or ``name(convertTimezone(path))`` on the left of a comparison."""

    name: str
    path: Path
    convert: bool
    pos: int


@dataclass(frozen=True)
class Comparison:
    path: Path | DateFunction
    op: str
    """= != < <= > >= IN NOT_IN LIKE"""
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Logical:
    op: str
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    sobject: str
    sobject_pos: int
    fields: list = field(default_factory=list)
    """Path or Query (a child subquery) in select order."""
    where: object = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    count_only: bool = False


class Parser:
    def __init__(self, text: str, max_levels: int = MAX_LEVELS):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.max_levels = max_levels

    # ------------------------------------------------------------ helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, token: Token | None = None, detail: str | None = None):
        token = token or self.tok
        return soql_error("MALFORMED_QUERY", self.text, token.pos, detail or f"unexpected token: {token.text}")

    def expect_keyword(self, *words: str) -> Token:
        if not self.tok.is_keyword(*words):
            raise self.error()
        return self.advance()

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            raise self.error()
        return self.advance()

    def not_supported(self, token: Token, construct: str):
        return soql_error("MALFORMED_QUERY", self.text, token.pos,
                          f"not supported by this sandbox: {construct} (docs/salesforce-api-notes.md lists the "
                          "SOQL it models)")

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def accept_keyword(self, *words: str) -> bool:
        if self.tok.is_keyword(*words):
            self.advance()
            return True
        return False

    # ------------------------------------------------------------ grammar
    def parse(self) -> Query:
        query = self.query()
        self.refuse_clauses_not_modelled()
        if self.tok.kind != "EOF":
            raise self.error()
        return query

    def refuse_clauses_not_modelled(self) -> None:
        if self.tok.kind == "IDENT" and self.tok.text.upper() in CLAUSES_NOT_MODELLED:
            raise self.not_supported(self.tok, CLAUSES_NOT_MODELLED[self.tok.text.upper()])

    def query(self, level: int = 1) -> Query:
        self.expect_keyword("SELECT")
        items = [self.select_item(level)]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.select_item(level))
        self.expect_keyword("FROM")
        name = self.expect("IDENT")
        if name.text.upper() in RESERVED:
            raise self.error(name)
        query = Query(sobject=name.text, sobject_pos=name.pos)
        self._set_fields(query, items)
        if self.tok.is_keyword("USING"):
            raise self.not_supported(self.tok, "USING SCOPE")
        if self.accept_keyword("WHERE"):
            query.where = self.condition()
        self.refuse_clauses_not_modelled()
        if self.accept_keyword("ORDER"):
            self.expect_keyword("BY")
            query.order_by = [self.order_item()]
            while self.tok.kind == "COMMA":
                self.advance()
                query.order_by.append(self.order_item())
        if self.accept_keyword("LIMIT"):
            query.limit = self.non_negative_int()
        if self.accept_keyword("OFFSET"):
            query.offset = self.non_negative_int()
        return query

    def _set_fields(self, query: Query, items: list) -> None:
        counts = [i for i in items if i == "COUNT()"]
        if counts and len(items) > 1:
            raise soql_error("MALFORMED_QUERY", self.text, query.sobject_pos,
                             "COUNT() must be the only element in the SELECT list")
        query.count_only = bool(counts)
        query.fields = [] if counts else items

    def select_item(self, level: int):
        if self.tok.kind == "LPAREN":
            self.check_nesting(self.tok, level + 1)
            self.advance()
            sub = self.query(level + 1)
            self.expect("RPAREN")
            return sub
        word = self.tok.text.upper() if self.tok.kind == "IDENT" else ""
        if word == "TYPEOF":
            raise self.not_supported(self.tok, "TYPEOF")
        if self.peek().kind == "LPAREN":
            return self.select_function(word)
        return self.path()

    def check_nesting(self, token: Token, level: int) -> None:
        if level > MAX_LEVELS:
            raise self.error(token, f"SOQL supports at most {MAX_LEVELS} levels of parent-to-child relationships "
                                    "(the outer query is the first)")
        if level > self.max_levels:
            raise self.error(token, "nested parent-to-child subqueries need API version 58.0 or later; "
                                    "before it a subquery cannot contain another")

    def select_function(self, word: str):
        token = self.tok
        if word == "COUNT" and self.peek(2).kind == "RPAREN":
            self.i += 3
            return "COUNT()"
        if word == "FIELDS":
            raise self.not_supported(token, "FIELDS()")
        if word in AGGREGATES:
            raise self.not_supported(token, f"aggregate function {word}() (only COUNT() is modelled)")
        if word in SELECT_FUNCTIONS:
            raise self.not_supported(token, f"{token.text}() in the SELECT list")
        raise self.error(token)

    def path(self) -> Path:
        first = self.expect("IDENT")
        if first.text.upper() in RESERVED:
            raise self.error(first)
        parts = [first.text]
        while self.tok.kind == "DOT":
            self.advance()
            parts.append(self.expect("IDENT").text)
        return Path(tuple(parts), first.pos)

    def non_negative_int(self) -> int:
        token = self.expect("NUMBER")
        if not isinstance(token.value, int) or token.value < 0:
            raise self.error(token)
        return token.value

    def condition(self):
        first = self.unary()
        if not self.tok.is_keyword("AND", "OR"):
            return first
        op = self.tok.text.upper()
        items = [first]
        while self.tok.is_keyword("AND", "OR"):
            if self.tok.text.upper() != op:
                # "Parentheses are required whenever you mix the operators" (SOQL logical operators doc).
                raise self.error()
            self.advance()
            items.append(self.unary())
        return Logical(op, tuple(items))

    def unary(self):
        if self.accept_keyword("NOT"):
            return Not(self.unary())
        if self.tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN")
            return inner
        return self.comparison()

    def operand(self):
        token = self.tok
        word = token.text.upper() if token.kind == "IDENT" else ""
        if self.peek().kind != "LPAREN":
            return self.path()
        if word not in dates.FUNCTIONS:
            construct = f"{token.text}() in WHERE" if word in SELECT_FUNCTIONS | AGGREGATES else None
            if construct:
                raise self.not_supported(token, construct)
            raise self.error(token)
        self.i += 2
        convert = self.tok.is_keyword("CONVERTTIMEZONE") and self.peek().kind == "LPAREN"
        if convert:
            self.i += 2
        path = self.path()
        self.expect("RPAREN")
        if convert:
            self.expect("RPAREN")
        return DateFunction(word, path, convert, token.pos)

    def comparison(self) -> Comparison:
        path = self.operand()
        if self.tok.is_keyword("INCLUDES", "EXCLUDES"):
            raise self.not_supported(self.tok, "INCLUDES / EXCLUDES (multi-select picklists)")
        if self.tok.kind == "OP":
            op = self.advance().text
            return Comparison(path, op, self.value())
        if self.accept_keyword("LIKE"):
            value = self.value()
            if value.kind != "string":
                raise self.error(detail="LIKE needs a string literal")
            return Comparison(path, "LIKE", value)
        negated = self.accept_keyword("NOT")
        if self.accept_keyword("IN"):
            if self.tok.kind == "LPAREN" and self.peek().is_keyword("SELECT"):
                raise self.not_supported(self.peek(), "semi-joins and anti-joins (IN / NOT IN a subquery)")
            return Comparison(path, "NOT_IN" if negated else "IN", self.value_list())
        raise self.error()

    def value_list(self) -> tuple[Literal, ...]:
        self.expect("LPAREN")
        values = [self.value()]
        while self.tok.kind == "COMMA":
            self.advance()
            values.append(self.value())
        self.expect("RPAREN")
        return tuple(values)

    def value(self) -> Literal:
        token = self.advance()
        if token.kind == "STRING":
            return Literal("string", token.value, token.pos, like=token.like)
        if token.kind in ("NUMBER", "DATE", "DATETIME"):
            return Literal(token.kind.lower(), token.value, token.pos)
        if token.is_keyword("TRUE", "FALSE"):
            return Literal("boolean", token.text.upper() == "TRUE", token.pos)
        if token.is_keyword("NULL"):
            return Literal("null", None, token.pos)
        if token.kind == "IDENT" and token.text.upper() in dates.PLAIN_LITERALS | dates.N_LITERALS:
            return self.date_literal(token)
        if token.kind == "COLON":
            raise self.not_supported(token, "bind variables (:name, an Apex feature)")
        raise self.error(token)

    def date_literal(self, token: Token) -> Literal:
        name = token.text.upper()
        if name not in dates.N_LITERALS:
            return Literal("date_function", name, token.pos)
        if self.tok.kind != "COLON":
            raise self.error(token, f"date literal {name} needs a number: {name}:n")
        self.advance()
        n = self.non_negative_int()
        return Literal("date_function", name, token.pos, n=n)

    def order_item(self) -> OrderItem:
        if self.peek().kind == "LPAREN":
            raise self.not_supported(self.tok, f"{self.tok.text}() in ORDER BY")
        path = self.path()
        descending = False
        if self.tok.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_first = True  # "By default, null values are sorted first." (SOQL ORDER BY reference)
        if self.accept_keyword("NULLS"):
            nulls_first = self.expect_keyword("FIRST", "LAST").text.upper() == "FIRST"
        return OrderItem(path, descending, nulls_first)


def parse(text: str, *, max_levels: int = MAX_LEVELS) -> Query:
    return Parser(text, max_levels).parse()
