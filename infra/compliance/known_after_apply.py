"""Mark values Terraform only knows after apply, so terraform-compliance can see they are set.

`terraform show -json` leaves such values out of `after` and flags them in `after_unknown`;
terraform-compliance reads only `after`, so an encryption key that is created in the same
plan (its ARN unknown until apply) would look "not set". This fills each unknown value with
the placeholder "(known after apply)": an attribute that is not configured at all stays
absent and still fails the rules.

Usage: python known_after_apply.py plan.json > plan.compliance.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

PLACEHOLDER = "(known after apply)"


def fill(after: Any, unknown: Any) -> Any:
    """Return ``after`` with every value flagged in ``unknown`` replaced by the placeholder."""
    if unknown is True:
        return PLACEHOLDER if after is None else after
    if isinstance(unknown, dict):
        merged = dict(after) if isinstance(after, dict) else {}
        for key, flag in unknown.items():
            merged[key] = fill(merged.get(key), flag)
        return merged
    if isinstance(unknown, list):
        items = list(after) if isinstance(after, list) else []
        items += [None] * (len(unknown) - len(items))
        return [fill(item, flag) for item, flag in zip(items, unknown)] + items[len(unknown):]
    return after


def mark_plan(plan: dict[str, Any]) -> dict[str, Any]:
    for change in plan.get("resource_changes", []):
        details = change.get("change", {})
        if details.get("after") is not None or details.get("after_unknown"):
            details["after"] = fill(details.get("after") or {}, details.get("after_unknown") or {})
    return plan


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        plan = json.load(handle)
    json.dump(mark_plan(plan), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
