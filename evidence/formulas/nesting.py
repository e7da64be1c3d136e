"""How deeply a formula nests, read from its tokens without recursion, before a parser sees it.

sqlglot's parser and generator, and the engine's rules, are recursive: each level of parentheses, of a
call or of CASE … END costs them about 30 Python frames (measured: 31 for a parenthesis, 32 for a
call, 27 for a CASE). Python stops at its recursion limit (1000 frames by default, counted from the
bottom of the thread, a web request or a worker already deep), so a formula nested about 30 deep
raised RecursionError wherever it happened to be read. Now:

- deeper than MAX_NESTING levels is refused before parsing (`too_deep`, a loop over the tokens), with
  the place where the limit is passed;
- up to MAX_NESTING levels always parses: `ensure_room` raises the recursion limit, never lowers it,
  to leave ROOM frames above the caller, whatever its depth.

Real Beast Modes nest a few levels (a CASE inside an IFNULL inside a SUM); chains of WHEN are flat.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterable

from sqlglot.tokens import Token, TokenType

# Levels of parentheses (calls included) and CASE … END a formula or DataFlow statement may nest.
MAX_NESTING = 30
# Frames above the caller that MAX_NESTING levels need to be parsed, analyzed, translated and shown,
# with room to spare (about 1,000 of them at the limit).
ROOM = MAX_NESTING * 40 + 600

_OPENERS = (TokenType.L_PAREN, TokenType.CASE)
_lock = threading.Lock()


def too_deep(tokens: Iterable[Token]) -> Token | None:
    """The token where the nesting first passes MAX_NESTING, or None."""
    open_: list[TokenType] = []
    for token in tokens:
        kind = token.token_type
        if kind in _OPENERS:
            open_.append(kind)
            if len(open_) > MAX_NESTING:
                return token
        elif kind == TokenType.R_PAREN:
            while open_ and open_.pop() != TokenType.L_PAREN:
                pass  # a CASE left open inside the parenthesis closes with it
        elif kind == TokenType.END and open_ and open_[-1] == TokenType.CASE:
            open_.pop()
    return None


MESSAGE = (
    f"The formula is nested too deeply to be read: more than {MAX_NESTING} levels of parentheses, calls "
    f"and CASE … END, where the console reads at most {MAX_NESTING}"
)


def ensure_room() -> None:
    """Let the caller recurse ROOM frames deeper than it stands (the limit only ever goes up)."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    needed = depth + ROOM
    if sys.getrecursionlimit() < needed:
        with _lock:
            if sys.getrecursionlimit() < needed:
                sys.setrecursionlimit(needed)
