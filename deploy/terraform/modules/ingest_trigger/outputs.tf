output "permission_statement_id" {
  description = "Statement id of the permission letting S3 invoke the function."
  value       = aws_lambda_permission.this.statement_id
}
