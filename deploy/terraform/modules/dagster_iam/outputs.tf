output "policy_arn" {
  description = "ARN of the policy to attach to the Dagster deployment's role (webserver, daemon and run tasks)."
  value       = aws_iam_policy.this.arn
}

output "policy_json" {
  description = "The policy document, for review or for attaching elsewhere."
  value       = data.aws_iam_policy_document.this.json
}
