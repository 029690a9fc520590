# REST API: every path and method proxies to the API Lambda (it routes, validates and shapes
# errors itself). API keys identify tenants; the usage plan throttles and caps them.
data "aws_partition" "current" {}

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name_prefix}-api"
  description = "Anemonefish call detector jobs API"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "{proxy+}"
}

locals {
  resource_ids = {
    root  = aws_api_gateway_rest_api.this.root_resource_id
    proxy = aws_api_gateway_resource.proxy.id
  }

  # ANY carries the API key requirement; OPTIONS (CORS preflight) cannot carry a key, so it
  # is routed to the same Lambda, which answers it from ANEMONEFISH_CORS_ORIGINS.
  methods = merge(
    { for key, id in local.resource_ids : "${key}-any" => { resource_id = id, http_method = "ANY", key_required = var.api_key_required } },
    { for key, id in local.resource_ids : "${key}-options" => { resource_id = id, http_method = "OPTIONS", key_required = false } },
  )

}

resource "aws_api_gateway_method" "this" {
  for_each = local.methods

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = each.value.resource_id
  http_method      = each.value.http_method
  authorization    = "NONE"
  api_key_required = each.value.key_required
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.methods

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = each.value.resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  integration_http_method = "POST"
  type                    = "AWS_PROXY"
  uri                     = var.api_invoke_arn
}

# Gateway-generated errors (missing key, throttled) need the CORS header too, or browsers
# hide them from the console; a static header can name only one origin.
resource "aws_api_gateway_gateway_response" "cors" {
  for_each = toset(["DEFAULT_4XX", "DEFAULT_5XX"])

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.value

  response_parameters = {
    "gatewayresponse.header.Access-Control-Allow-Origin"  = "'${var.gateway_response_origin}'"
    "gatewayresponse.header.Access-Control-Allow-Headers" = "'Content-Type,x-api-key,Idempotency-Key'"
  }
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.api_function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/*/*"
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy,
      aws_api_gateway_method.this,
      aws_api_gateway_integration.this,
      aws_api_gateway_gateway_response.cors,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

# --- access logs -----------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name_prefix}-api/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_apigateway" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0

  name               = "${var.name_prefix}-apigateway-logs"
  description        = "Lets API Gateway write the logs of the account's ${var.account_logging_project} APIs"
  assume_role_policy = data.aws_iam_policy_document.assume_apigateway.json
  tags               = var.tags
}

data "aws_iam_policy_document" "cloudwatch" {
  statement {
    sid = "WriteApiGatewayLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      # Unused by the writes, but in AWS's AmazonAPIGatewayPushToCloudWatchLogs, the policy
      # API Gateway's account settings are documented with: kept rather than find out at the
      # first apply whether their role check wants them.
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    # The role is the account's, not this API's: it writes for every environment's API in the
    # account and region (execution log groups are named by API id, unknown to this one).
    resources = [
      "arn:${data.aws_partition.current.partition}:logs:*:*:log-group:/aws/apigateway/${var.account_logging_project}-*-api/access",
      "arn:${data.aws_partition.current.partition}:logs:*:*:log-group:/aws/apigateway/${var.account_logging_project}-*-api/access:*",
      "arn:${data.aws_partition.current.partition}:logs:*:*:log-group:API-Gateway-Execution-Logs_*",
      "arn:${data.aws_partition.current.partition}:logs:*:*:log-group:API-Gateway-Execution-Logs_*:*",
    ]
  }
}

resource "aws_iam_role_policy" "cloudwatch" {
  count = var.manage_account_logging_role ? 1 : 0

  name   = "${var.name_prefix}-apigateway-logs"
  role   = aws_iam_role.cloudwatch[0].id
  policy = data.aws_iam_policy_document.cloudwatch.json
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn

  # API Gateway checks the role's permissions when it is set: the policy must be attached
  # first, or a first apply fails ("does not have required permissions").
  depends_on = [aws_iam_role_policy.cloudwatch]
}

resource "aws_api_gateway_stage" "this" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = var.stage_name

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      resourcePath   = "$context.resourcePath"
      path           = "$context.path"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.responseLatency"
      apiKeyId       = "$context.identity.apiKeyId"
      sourceIp       = "$context.identity.sourceIp"
      userAgent      = "$context.identity.userAgent"
      errorMessage   = "$context.error.message"
    })
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

# API Gateway writes execution logs (logging_level below) to a group of this name, and makes
# it on first use with no retention and no key unless it exists: it is made here first.
resource "aws_cloudwatch_log_group" "execution" {
  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  depends_on = [aws_cloudwatch_log_group.execution]

  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false
    throttling_rate_limit  = var.stage_throttle_rate_limit
    throttling_burst_limit = var.stage_throttle_burst_limit
    caching_enabled        = false
  }
}

# --- keys and usage plan ---------------------------------------------------------------

resource "aws_api_gateway_usage_plan" "this" {
  name        = "${var.name_prefix}-default"
  description = "Throttle and quota per API key"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.throttle_rate_limit
    burst_limit = var.throttle_burst_limit
  }

  quota_settings {
    limit  = var.quota_limit
    period = var.quota_period
  }

  tags = var.tags
}

resource "aws_api_gateway_api_key" "this" {
  for_each = toset(var.api_key_names)

  name        = "${var.name_prefix}-${each.value}"
  description = "Tenant ${each.value}"
  enabled     = true
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = aws_api_gateway_api_key.this

  key_id        = each.value.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
