@noskip
Feature: Least privilege: every policy names its actions and resources

  Scenario: No policy grants a wildcard action
    Given I have aws_iam_policy_document data configured
    Then it must contain statement
    And it must contain actions
    And its value must not match the ".*\*.*" regex

  # Trust policies name principals, not resources.
  @exclude_.*\.data\.aws_iam_policy_document\.assume_.*
  Scenario: No permission policy allows a wildcard resource
    Given I have aws_iam_policy_document data configured
    Then it must contain statement
    And it must contain resources
    And its value must not match the "^\*$" regex

  Scenario: Every function has a role of its own
    Given I have aws_lambda_function defined
    Then it must contain role

  Scenario: Functions run from container images with reserved concurrency
    Given I have aws_lambda_function defined
    Then it must contain package_type
    And its value must be Image

  Scenario: Functions reserve their concurrency
    Given I have aws_lambda_function defined
    Then it must contain reserved_concurrent_executions
    And its value must be greater than 0
