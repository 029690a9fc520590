@noskip
Feature: Buckets are private, TLS only, versioned and cleaned up by lifecycle rules

  Scenario Outline: Public access blocks block everything
    Given I have aws_s3_bucket_public_access_block defined
    Then it must contain <setting>
    And its value must be true

    Examples:
      | setting                 |
      | block_public_acls       |
      | block_public_policy     |
      | ignore_public_acls      |
      | restrict_public_buckets |

  Scenario: No bucket grants access by ACL
    Given I have aws_s3_bucket_ownership_controls defined
    Then it must contain rule
    And it must contain object_ownership
    And its value must be BucketOwnerEnforced

  @exclude_module.pipeline.module.console.aws_s3_bucket_policy.console
  Scenario: Bucket policies deny requests without TLS
    Given I have aws_s3_bucket_policy defined
    Then it must contain policy
    And it must contain Statement
    And it must contain Condition
    And it must contain Bool
    And it must contain aws:SecureTransport
    And its value must be false

  Scenario: Versioning is enabled
    Given I have aws_s3_bucket_versioning defined
    Then it must contain versioning_configuration
    And it must contain status
    And its value must match the "^Enabled$" regex

  Scenario: Lifecycle rules abort incomplete multipart uploads
    Given I have aws_s3_bucket_lifecycle_configuration defined
    Then it must contain rule
    And it must contain abort_incomplete_multipart_upload
    And it must contain days_after_initiation

  @exclude_module.pipeline.module.console.aws_s3_bucket_lifecycle_configuration.console
  Scenario: Uploads and results expire
    Given I have aws_s3_bucket_lifecycle_configuration defined
    Then it must contain rule
    And it must contain expiration
    And it must contain days

  Scenario: Browsers can read ETags of uploaded parts
    Given I have aws_s3_bucket_cors_configuration defined
    Then it must contain cors_rule
    And it must contain expose_headers
    And its value must contain ETag

  Scenario: Uploads raise job events on the jobs queue
    Given I have aws_s3_bucket_notification defined
    Then it must contain queue
    And it must contain events
    And its value must contain s3:ObjectCreated:*

  Scenario: Only uploads raise job events
    Given I have aws_s3_bucket_notification defined
    Then it must contain queue
    And it must contain filter_prefix
    And its value must be uploads/
