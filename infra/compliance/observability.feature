@noskip
Feature: Operators hear about trouble and can look back

  Scenario Outline: The alarms that mean "a job may be lost or late" exist
    Given I have aws_cloudwatch_metric_alarm defined
    When its metric_name is <metric>
    Then it must contain alarm_actions

    Examples:
      | metric                             |
      | NumberOfMessagesReceived           |
      | ApproximateAgeOfOldestMessage      |
      | Errors                             |
      | Throttles                          |
      | 5XXError                           |

  Scenario: A dashboard exists
    Given I have aws_cloudwatch_dashboard defined
    Then it must contain dashboard_body

  Scenario: Log groups keep logs for a bounded time
    Given I have aws_cloudwatch_log_group defined
    Then it must contain retention_in_days
    And its value must be greater than 0

  Scenario: The API writes access logs
    Given I have aws_api_gateway_stage defined
    Then it must contain access_log_settings
    And it must contain destination_arn
    And its value must not be null

  Scenario: API keys are throttled and capped by a usage plan
    Given I have aws_api_gateway_usage_plan defined
    Then it must contain throttle_settings
    And it must contain rate_limit

  Scenario: API keys have a quota
    Given I have aws_api_gateway_usage_plan defined
    Then it must contain quota_settings
    And it must contain limit

  Scenario: Image repositories scan on push
    Given I have aws_ecr_repository defined
    Then it must contain image_scanning_configuration
    And it must contain scan_on_push
    And its value must be true

  Scenario: The console is served only through CloudFront over HTTPS
    Given I have aws_cloudfront_distribution defined
    Then it must contain default_cache_behavior
    And it must contain viewer_protocol_policy
    And its value must be redirect-to-https

  Scenario: The console origin uses origin access control
    Given I have aws_cloudfront_distribution defined
    Then it must contain origin
    And it must contain origin_access_control_id
    And its value must not be null
