"""A small evaluator of IAM identity policies, written from AWS's documented evaluation logic
(IAM User Guide: "Policy evaluation logic", "IAM JSON policy elements: Condition operators"),
for the parts this project's policies use: Effect, Action/NotAction, Resource/NotResource and
Condition with the String, Arn, Bool and Null operators and their IfExists forms.

No policy evaluator on PyPI evaluates one request (action, resource, context) against a policy
with conditions: the ones there expand policies, lint them, or simulate Deny-only SCPs and skip
unknown condition keys. So this is ours, and test_iam_eval.py holds its own cases.

Rules, as AWS documents them for a request within one account and identity policies only:
- an explicit Deny in any matching statement wins;
- else an Allow in any matching statement allows;
- else the request is implicitly denied.
A statement matches when its action, its resource and every one of its conditions match.
Anything this evaluator does not understand (an unknown operator, ForAnyValue/ForAllValues, a
policy variable) raises UnsupportedPolicy instead of guessing.
"""
import fnmatch
import re

ALLOW, IMPLICIT_DENY, EXPLICIT_DENY = "Allow", "ImplicitDeny", "ExplicitDeny"

# The request's resource when the action supports no resource-level permission (the Service
# Authorization Reference lists no resource type for it), or when the call names none: only a
# statement whose Resource is "*" covers it.
NO_RESOURCE = None


class UnsupportedPolicy(Exception):
    """The policy uses something this evaluator does not implement."""


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _glob(pattern, value, ignore_case):
    """IAM's wildcards: * any run of characters, ? one character; nothing else is special."""
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variables are not supported: {pattern}")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def action_matches(pattern, action):
    """Actions are `service:Name`, compared without regard to case."""
    return _glob(pattern, action, ignore_case=True)


def arn_matches(pattern, arn):
    """ARNs match part by part (arn:partition:service:region:account:resource): a wildcard
    stays within its part, except in the last one, which may itself hold colons and slashes.
    Case matters."""
    if pattern == "*":
        return True
    if arn is NO_RESOURCE:
        return False
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(_glob(p, a, ignore_case=False) for p, a in zip(pattern_parts, arn_parts))


def _string_equals(policy_value, value, ignore_case=False):
    return policy_value.lower() == value.lower() if ignore_case else policy_value == value


_OPERATORS = {
    # name: (compare(policy value, request value) -> bool, negated)
    "StringEquals": (lambda p, v: _string_equals(p, v), False),
    "StringNotEquals": (lambda p, v: _string_equals(p, v), True),
    "StringEqualsIgnoreCase": (lambda p, v: _string_equals(p, v, ignore_case=True), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: _string_equals(p, v, ignore_case=True), True),
    "StringLike": (lambda p, v: _glob(p, v, ignore_case=False), False),
    "StringNotLike": (lambda p, v: _glob(p, v, ignore_case=False), True),
    # AWS documents ArnEquals and ArnLike as the same comparison, wildcards included.
    "ArnEquals": (arn_matches, False),
    "ArnLike": (arn_matches, False),
    "ArnNotEquals": (arn_matches, True),
    "ArnNotLike": (arn_matches, True),
    "Bool": (lambda p, v: str(p).lower() == str(v).lower(), False),
}


def condition_matches(operator, key, policy_values, context):
    """One operator on one key. Several policy values for a key: any may match (OR). A key
    missing from the request: false, except for IfExists (true) and the negated operators (true)."""
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        raise UnsupportedPolicy(f"set operators are not supported: {operator}")
    if operator == "Null":
        wants_missing = [str(v).lower() == "true" for v in _as_list(policy_values)]
        return (key not in context) in wants_missing
    if_exists = operator.endswith("IfExists")
    name = operator[: -len("IfExists")] if if_exists else operator
    if name not in _OPERATORS:
        raise UnsupportedPolicy(f"condition operator {operator} is not supported")
    compare, negated = _OPERATORS[name]
    if key not in context:
        return if_exists or negated
    request_values = _as_list(context[key])
    matched = any(compare(str(p), str(v)) for p in _as_list(policy_values) for v in request_values)
    return not matched if negated else matched


def statement_matches(statement, action, resource, context):
    if "Principal" in statement or "NotPrincipal" in statement:
        raise UnsupportedPolicy("resource-based policies (Principal) are not supported")
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        raise UnsupportedPolicy("a statement without Action or NotAction")
    if "Resource" in statement:
        if not any(arn_matches(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(arn_matches(p, resource) for p in _as_list(statement["NotResource"])):
            return False
    else:
        raise UnsupportedPolicy("a statement without Resource or NotResource")
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            if not condition_matches(operator, key, values, context):
                return False
    return True


def evaluate(documents, action, resource, context=None):
    """The decision for one request: ALLOW, IMPLICIT_DENY or EXPLICIT_DENY, and the Sids of the
    statements that decided it."""
    context = context or {}
    allowed_by, denied_by = [], []
    for document in _as_list(documents):
        if document.get("Version") != "2012-10-17":
            raise UnsupportedPolicy(f"policy version {document.get('Version')!r}: only 2012-10-17 has these rules")
        for statement in _as_list(document["Statement"]):
            if statement_matches(statement, action, resource, context):
                effect = statement["Effect"]
                if effect not in ("Allow", "Deny"):
                    raise UnsupportedPolicy(f"effect {effect!r}")
                (denied_by if effect == "Deny" else allowed_by).append(statement.get("Sid", "?"))
    if denied_by:
        return EXPLICIT_DENY, denied_by
    if allowed_by:
        return ALLOW, allowed_by
    return IMPLICIT_DENY, []
