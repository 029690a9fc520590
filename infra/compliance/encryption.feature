@noskip
Feature: Data at rest is encrypted everywhere
  In order to keep researchers' recordings and results confidential
  As the operator of the pipeline
  I want every data store, queue, topic, log group and function environment encrypted with KMS

  Scenario: Buckets encrypt by default with KMS
    Given I have aws_s3_bucket_server_side_encryption_configuration defined
    Then it must contain rule
    And it must contain apply_server_side_encryption_by_default
    And it must contain sse_algorithm
    And its value must be aws:kms

  Scenario: Queues are encrypted with KMS
    Given I have aws_sqs_queue defined
    Then it must contain kms_master_key_id
    And its value must not be null

  Scenario: Topics are encrypted with KMS
    Given I have aws_sns_topic defined
    Then it must contain kms_master_key_id
    And its value must not be null

  Scenario: The jobs table is encrypted with a customer-managed key
    Given I have aws_dynamodb_table defined
    Then it must contain server_side_encryption
    And it must contain enabled
    And its value must be true

  Scenario: Log groups are encrypted with KMS
    Given I have aws_cloudwatch_log_group defined
    Then it must contain kms_key_id
    And its value must not be null

  Scenario: Function environments are encrypted with the environment's key
    Given I have aws_lambda_function defined
    Then it must contain kms_key_arn
    And its value must not be null

  Scenario: KMS keys rotate
    Given I have aws_kms_key defined
    Then it must contain enable_key_rotation
    And its value must be true

  Scenario: Image repositories encrypt images at rest
    Given I have aws_ecr_repository defined
    Then it must contain encryption_configuration
    And it must contain encryption_type
    And its value must not be null
