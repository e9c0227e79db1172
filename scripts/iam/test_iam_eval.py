"""The evaluator's own cases, each a rule of AWS's documented evaluation logic."""
import unittest

from iam_eval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, NO_RESOURCE, UnsupportedPolicy, arn_matches, evaluate

SERVICE = "arn:aws:ecs:eu-west-1:123456789012:service/redash/redash-adhoc-worker"
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/redash"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, resources, condition=None, sid="S"):
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


class Decisions(unittest.TestCase):
    def decide(self, document, action, resource, context=None):
        return evaluate(document, action, resource, context)[0]

    def test_nothing_matches_is_an_implicit_deny(self):
        self.assertEqual(self.decide(policy(allow(["ecs:DescribeServices"], SERVICE)), "ecs:UpdateService", SERVICE), IMPLICIT_DENY)

    def test_an_allow_that_matches_allows(self):
        self.assertEqual(self.decide(policy(allow(["ecs:DescribeServices"], SERVICE)), "ecs:DescribeServices", SERVICE), ALLOW)

    def test_an_explicit_deny_beats_any_allow(self):
        document = policy(allow("ecs:*", "*"), {"Effect": "Deny", "Action": "ecs:UpdateService", "Resource": SERVICE})
        self.assertEqual(self.decide(document, "ecs:UpdateService", SERVICE), EXPLICIT_DENY)
        self.assertEqual(self.decide(document, "ecs:DescribeServices", SERVICE), ALLOW)

    def test_a_deny_in_another_document_still_wins(self):
        documents = [policy(allow("ecs:UpdateService", SERVICE)), policy({"Effect": "Deny", "Action": "*", "Resource": "*"})]
        self.assertEqual(self.decide(documents, "ecs:UpdateService", SERVICE), EXPLICIT_DENY)

    def test_actions_ignore_case_and_take_wildcards(self):
        self.assertEqual(self.decide(policy(allow("ECS:describe*", "*")), "ecs:DescribeTasks", NO_RESOURCE), ALLOW)
        self.assertEqual(self.decide(policy(allow("ecs:Describe?asks", "*")), "ecs:DescribeTasks", NO_RESOURCE), ALLOW)
        self.assertEqual(self.decide(policy(allow("ecs:Describe*", "*")), "ecs:UpdateService", NO_RESOURCE), IMPLICIT_DENY)

    def test_not_action_allows_everything_else(self):
        document = policy({"Effect": "Allow", "NotAction": "ecs:Update*", "Resource": "*"})
        self.assertEqual(self.decide(document, "ecs:DescribeServices", SERVICE), ALLOW)
        self.assertEqual(self.decide(document, "ecs:UpdateService", SERVICE), IMPLICIT_DENY)

    def test_not_resource_excludes_the_listed_resources(self):
        document = policy({"Effect": "Allow", "Action": "ecs:UpdateService", "NotResource": SERVICE})
        self.assertEqual(self.decide(document, "ecs:UpdateService", SERVICE), IMPLICIT_DENY)
        self.assertEqual(self.decide(document, "ecs:UpdateService", SERVICE.replace("adhoc", "scheduled")), ALLOW)

    def test_a_missing_action_or_resource_element_is_refused(self):
        with self.assertRaises(UnsupportedPolicy):
            evaluate(policy({"Effect": "Allow", "Resource": "*"}), "ecs:ListTasks", NO_RESOURCE)
        with self.assertRaises(UnsupportedPolicy):
            evaluate(policy({"Effect": "Allow", "Action": "*"}), "ecs:ListTasks", NO_RESOURCE)

    def test_an_old_policy_version_is_refused(self):
        with self.assertRaises(UnsupportedPolicy):
            evaluate({"Version": "2008-10-17", "Statement": [allow("*", "*")]}, "ecs:ListTasks", NO_RESOURCE)


class Resources(unittest.TestCase):
    def test_exact_arn(self):
        self.assertTrue(arn_matches(SERVICE, SERVICE))
        self.assertFalse(arn_matches(SERVICE, SERVICE + "-2"))

    def test_arns_are_case_sensitive(self):
        self.assertFalse(arn_matches(SERVICE, SERVICE.replace("redash-adhoc", "Redash-adhoc")))

    def test_a_wildcard_in_the_resource_part_spans_slashes(self):
        self.assertTrue(arn_matches("arn:aws:ecs:eu-west-1:123456789012:task/redash/*", "arn:aws:ecs:eu-west-1:123456789012:task/redash/0a1b2c"))
        self.assertFalse(arn_matches("arn:aws:ecs:eu-west-1:123456789012:task/redash/*", "arn:aws:ecs:eu-west-1:123456789012:task/other/0a1b2c"))

    def test_a_wildcard_stays_within_its_part(self):
        # "*" in the region part cannot swallow the account part.
        self.assertFalse(arn_matches("arn:aws:ecs:*:service/redash/x", "arn:aws:ecs:eu-west-1:123456789012:service/redash/x"))
        self.assertTrue(arn_matches("arn:aws:ecs:*:*:service/redash/x", "arn:aws:ecs:eu-west-1:123456789012:service/redash/x"))

    def test_another_account_or_region_does_not_match(self):
        self.assertFalse(arn_matches(SERVICE, SERVICE.replace("123456789012", "210987654321")))
        self.assertFalse(arn_matches(SERVICE, SERVICE.replace("eu-west-1", "us-east-1")))

    def test_a_call_without_a_resource_needs_a_star(self):
        self.assertTrue(arn_matches("*", NO_RESOURCE))
        self.assertFalse(arn_matches("arn:aws:ecs:eu-west-1:123456789012:container-instance/redash/*", NO_RESOURCE))


class Conditions(unittest.TestCase):
    def decide(self, condition, context):
        return evaluate(policy(allow("ecs:ListTasks", "*", condition)), "ecs:ListTasks", NO_RESOURCE, context)[0]

    def test_arn_equals_on_the_cluster(self):
        condition = {"ArnEquals": {"ecs:cluster": CLUSTER}}
        self.assertEqual(self.decide(condition, {"ecs:cluster": CLUSTER}), ALLOW)
        self.assertEqual(self.decide(condition, {"ecs:cluster": CLUSTER.replace("redash", "staging")}), IMPLICIT_DENY)

    def test_a_missing_key_fails_a_positive_operator(self):
        self.assertEqual(self.decide({"ArnEquals": {"ecs:cluster": CLUSTER}}, {}), IMPLICIT_DENY)

    def test_if_exists_passes_when_the_key_is_missing(self):
        self.assertEqual(self.decide({"ArnEqualsIfExists": {"ecs:cluster": CLUSTER}}, {}), ALLOW)
        self.assertEqual(self.decide({"ArnEqualsIfExists": {"ecs:cluster": CLUSTER}}, {"ecs:cluster": "arn:aws:ecs:eu-west-1:1:cluster/x"}), IMPLICIT_DENY)

    def test_a_negated_operator_passes_when_the_key_is_missing(self):
        self.assertEqual(self.decide({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}, {}), ALLOW)
        self.assertEqual(self.decide({"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}, {"aws:RequestedRegion": "us-east-1"}), IMPLICIT_DENY)

    def test_values_of_one_key_are_ored(self):
        condition = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "ap-northeast-1"]}}
        self.assertEqual(self.decide(condition, {"aws:RequestedRegion": "ap-northeast-1"}), ALLOW)

    def test_keys_and_operators_are_anded(self):
        condition = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}, "ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/redash"}}
        self.assertEqual(self.decide(condition, {"aws:RequestedRegion": "eu-west-1", "ecs:cluster": CLUSTER}), ALLOW)
        self.assertEqual(self.decide(condition, {"aws:RequestedRegion": "eu-west-1"}), IMPLICIT_DENY)

    def test_string_like_and_ignore_case(self):
        self.assertEqual(self.decide({"StringLike": {"aws:RequestedRegion": "eu-*"}}, {"aws:RequestedRegion": "eu-west-1"}), ALLOW)
        self.assertEqual(self.decide({"StringEquals": {"aws:RequestedRegion": "EU-WEST-1"}}, {"aws:RequestedRegion": "eu-west-1"}), IMPLICIT_DENY)
        self.assertEqual(self.decide({"StringEqualsIgnoreCase": {"aws:RequestedRegion": "EU-WEST-1"}}, {"aws:RequestedRegion": "eu-west-1"}), ALLOW)

    def test_null_checks_presence(self):
        self.assertEqual(self.decide({"Null": {"ecs:cluster": "false"}}, {"ecs:cluster": CLUSTER}), ALLOW)
        self.assertEqual(self.decide({"Null": {"ecs:cluster": "false"}}, {}), IMPLICIT_DENY)
        self.assertEqual(self.decide({"Null": {"ecs:cluster": "true"}}, {}), ALLOW)

    def test_bool(self):
        self.assertEqual(self.decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}), ALLOW)
        self.assertEqual(self.decide({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": False}), IMPLICIT_DENY)

    def test_unknown_operators_and_set_operators_are_refused(self):
        for operator in ["NumericLessThan", "ForAnyValue:StringEquals"]:
            with self.assertRaises(UnsupportedPolicy):
                self.decide({operator: {"aws:RequestedRegion": "1"}}, {"aws:RequestedRegion": "1"})

    def test_policy_variables_are_refused(self):
        with self.assertRaises(UnsupportedPolicy):
            self.decide({"StringLike": {"aws:RequestedRegion": "${aws:username}"}}, {"aws:RequestedRegion": "x"})


if __name__ == "__main__":
    unittest.main()
