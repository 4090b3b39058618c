"""Model prices as PromQL: spend is computed by Prometheus from token counters and the staff price table.

`price_vector("input")` is a PromQL expression without any selector, one sample per priced model labelled
`gen_ai_request_model`, valued at USD per 1,000 tokens, so

    sum by (gen_ai_request_model) (increase(gen_ai_client_token_usage_sum{gen_ai_token_type="input"}[1d]))
      / 1000 * on (gen_ai_request_model) group_left $__price_per_1k(input)

is the day's spend on input tokens per model. Having no selector, it carries nothing of any org and the
org enforcer (metrics_app/promql.py) prints it back unchanged; the price table itself is public to members.

The expression is printed exactly as the enforcer prints (numbers as `promql._number`, strings JSON-quoted,
every compound operand parenthesised), and the `or` chain is a balanced tree so that its nesting depth grows
with log2 of the number of models, far below the enforcer's nesting limit.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

from dashboards_app.models import ModelPrice
from portal.errors import ServiceError

MODEL_LABEL = "gen_ai_request_model"
TOKEN_TYPES = ("input", "output")
# A model name is a label value we write into PromQL strings; keep it to what model ids look like.
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}\Z")
MAX_USD_PER_1K = Decimal("1000")

NO_PRICES_MESSAGE = ("No prices set: spend needs the model price table, which is empty. Platform staff set "
                     "USD per 1k tokens per model under Platform → Model prices.")


class NoPricesSet(ServiceError):
    """The price table is empty, so no spend can be computed (a 409: the state, not the query, is missing)."""

    def __init__(self) -> None:
        super().__init__(409, "no_prices", NO_PRICES_MESSAGE)


def _field(token_type: str) -> str:
    if token_type not in TOKEN_TYPES:
        raise ValueError(f"token type must be one of {', '.join(TOKEN_TYPES)}, not {token_type!r}")
    return f"usd_per_1k_{token_type}"


def prices() -> list[ModelPrice]:
    return list(ModelPrice.objects.order_by("model"))


def number(value: Decimal | float) -> str:
    """A PromQL number literal, printed as the enforcer prints numbers (so the expression round-trips)."""
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        raise ValueError("a price must be a finite number")
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _sample(model: str, price: Decimal) -> str:
    return f"label_replace(vector({number(price)}), {json.dumps(MODEL_LABEL)}, {json.dumps(model)}, \"\", \"\")"


def _or_tree(terms: list[str]) -> str:
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    left, right = _or_tree(terms[:mid]), _or_tree(terms[mid:])
    return f"{_paren(left, mid)} or {_paren(right, len(terms) - mid)}"


def _paren(text: str, count: int) -> str:
    return f"({text})" if count > 1 else text


def price_vector(token_type: str) -> str:
    """The price per 1k tokens of `token_type` ("input" or "output") of every priced model, as selector-free
    PromQL that is a single operand (it can be put after any operator); NoPricesSet when the table is empty."""
    field = _field(token_type)
    rows = [(p.model, getattr(p, field)) for p in prices()]
    if not rows:
        raise NoPricesSet()
    # Wrapped in an aggregation (the identity here: one sample per model) rather than in parentheses, so
    # that it is one operand wherever it is put, even right after `group_left`, where a parenthesis would
    # be read as group_left's label list.
    return f"sum by ({MODEL_LABEL}) ({_or_tree([_sample(model, price) for model, price in rows])})"
