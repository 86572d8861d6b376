"""A recursive-descent parser for the SOQL subset integrations use.

    query      := SELECT select (',' select)* FROM name [WHERE cond] [ORDER BY order (',' order)*]
                  [LIMIT n] [OFFSET n]
    select     := COUNT '(' ')' | path | '(' query ')'            -- a child-relationship subquery
    cond       := unary ((AND unary)* | (OR unary)*)               -- mixing AND/OR needs parentheses
    unary      := NOT unary | '(' cond ')' | path op value | path [NOT] IN '(' value (',' value)* ')'
                | path LIKE string
    value      := string | number | date | datetime | TRUE | FALSE | NULL | DATE_LITERAL [':' n]
    order      := path [ASC|DESC] [NULLS (FIRST|LAST)]

Syntax errors are 400 MALFORMED_QUERY (facts §4) with Salesforce's "ERROR at Row:r:Column:c" text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .soql_lexer import Token, soql_error, tokenize

DATE_FUNCTIONS = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO",
                  "THIS_MONTH", "LAST_MONTH"}
DATE_FUNCTIONS_WITH_N = {"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"}
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
class Comparison:
    path: Path
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
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

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

    def accept_keyword(self, *words: str) -> bool:
        if self.tok.is_keyword(*words):
            self.advance()
            return True
        return False

    # ------------------------------------------------------------ grammar
    def parse(self) -> Query:
        query = self.query()
        if self.tok.kind != "EOF":
            raise self.error()
        return query

    def query(self, nested: bool = False) -> Query:
        self.expect_keyword("SELECT")
        items = [self.select_item(nested)]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.select_item(nested))
        self.expect_keyword("FROM")
        name = self.expect("IDENT")
        if name.text.upper() in RESERVED:
            raise self.error(name)
        query = Query(sobject=name.text, sobject_pos=name.pos)
        self._set_fields(query, items)
        if self.accept_keyword("WHERE"):
            query.where = self.condition()
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

    def select_item(self, nested: bool):
        if self.tok.kind == "LPAREN":
            if nested:
                raise self.error(detail="unexpected token: '(' (nested subqueries are one level deep)")
            self.advance()
            sub = self.query(nested=True)
            self.expect("RPAREN")
            return sub
        if self.tok.is_keyword("COUNT") and self.tokens[self.i + 1].kind == "LPAREN":
            self.advance()
            self.advance()
            if self.tok.kind != "RPAREN":
                raise self.error(detail="sandbox: only COUNT() is supported among aggregate functions")
            self.advance()
            return "COUNT()"
        return self.path()

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

    def comparison(self) -> Comparison:
        path = self.path()
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
        if token.kind == "IDENT" and token.text.upper() in DATE_FUNCTIONS:
            return self.date_function(token)
        raise self.error(token)

    def date_function(self, token: Token) -> Literal:
        name = token.text.upper()
        if name not in DATE_FUNCTIONS_WITH_N:
            return Literal("date_function", name, token.pos)
        self.expect("COLON")
        n = self.non_negative_int()
        return Literal("date_function", name, token.pos, n=n)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.tok.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_first = True  # "By default, null values are sorted first." (SOQL ORDER BY reference)
        if self.accept_keyword("NULLS"):
            nulls_first = self.expect_keyword("FIRST", "LAST").text.upper() == "FIRST"
        return OrderItem(path, descending, nulls_first)


def parse(text: str) -> Query:
    return Parser(text).parse()
