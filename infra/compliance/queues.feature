@noskip
Feature: No job is ever lost: dead-letter queue, redrive and visibility

  Scenario: The jobs queue sends failing messages to its dead-letter queue
    Given I have aws_sqs_queue defined
    When its name is not ".*-dlq$" regex
    Then it must contain redrive_policy
    And it must contain deadLetterTargetArn
    And its value must match the ".*-dlq$" regex

  Scenario: Failing messages are retried a bounded number of times
    Given I have aws_sqs_queue defined
    When its name is not ".*-dlq$" regex
    Then it must contain redrive_policy
    And it must contain maxReceiveCount
    And its value must be greater than 0

  Scenario: A dead-letter queue exists
    Given I have aws_sqs_queue defined
    When its name is ".*-dlq$" regex
    Then it must contain message_retention_seconds
    And its value must be greater than 345600

  Scenario: The jobs queue's visibility timeout is at least six worker timeouts (6 x 900 s)
    Given I have aws_sqs_queue defined
    When its name is ".*-jobs$" regex
    Then it must contain visibility_timeout_seconds
    And its value must be greater than 5399

  Scenario: The dead-letter queue's visibility timeout outlasts a worker (its consumer's is 6 x 180 s)
    Given I have aws_sqs_queue defined
    When its name is ".*-dlq$" regex
    Then it must contain visibility_timeout_seconds
    And its value must be greater than 899

  Scenario: Only S3 may send to the jobs queue
    Given I have aws_sqs_queue_policy defined
    Then it must contain policy
    And it must contain Statement
    And it must contain Principal
    And it must contain Service
    And its value must be s3.amazonaws.com

  Scenario: Only the input bucket may send to the jobs queue
    Given I have aws_sqs_queue_policy defined
    Then it must contain policy
    And it must contain Statement
    And it must contain Condition
    And it must contain ArnEquals
    And it must contain aws:SourceArn
    And its value must match the "^arn:aws:s3:::anemonefish-[a-z]+-input" regex

  Scenario: Only the input bucket of this account may send to the jobs queue
    Given I have aws_sqs_queue_policy defined
    Then it must contain policy
    And it must contain Statement
    And it must contain Condition
    And it must contain StringEquals
    And it must contain aws:SourceAccount
    And its value must match the "^[0-9]{12}$" regex

  Scenario: The worker reports partial batch failures
    Given I have aws_lambda_event_source_mapping defined
    Then it must contain function_response_types
    And its value must contain ReportBatchItemFailures

  Scenario: The worker's concurrency is capped by the event source
    Given I have aws_lambda_event_source_mapping defined
    Then it must contain scaling_config
    And it must contain maximum_concurrency
    And its value must be greater than 1

  Scenario: The jobs table can be restored to any point in time
    Given I have aws_dynamodb_table defined
    Then it must contain point_in_time_recovery
    And it must contain enabled
    And its value must be true

  Scenario: Job items expire by TTL
    Given I have aws_dynamodb_table defined
    Then it must contain ttl
    And it must contain attribute_name
    And its value must be expires_at_epoch

  Scenario: The jobs table is on-demand
    Given I have aws_dynamodb_table defined
    Then it must contain billing_mode
    And its value must be PAY_PER_REQUEST
