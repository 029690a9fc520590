@prod @noskip
Feature: Production is stricter than dev

  Scenario: Every API route but CORS preflight requires an API key
    Given I have aws_api_gateway_method defined
    When its http_method is not OPTIONS
    Then it must contain api_key_required
    And its value must be true

  Scenario: Image tags are immutable
    Given I have aws_ecr_repository defined
    Then it must contain image_tag_mutability
    And its value must be IMMUTABLE

  Scenario: Logs are kept for a year
    Given I have aws_cloudwatch_log_group defined
    Then it must contain retention_in_days
    And its value must be greater than 364

  Scenario: Browser origins are named, never a wildcard
    Given I have aws_s3_bucket_cors_configuration defined
    Then it must contain cors_rule
    And it must contain allowed_origins
    And its value must not match the "\*" regex

  Scenario: The jobs table cannot be deleted by accident
    Given I have aws_dynamodb_table defined
    Then it must contain deletion_protection_enabled
    And its value must be true
