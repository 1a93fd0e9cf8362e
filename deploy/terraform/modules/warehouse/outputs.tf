output "endpoint" {
  description = "Host name of the instance (without the port): the host of ELT_WAREHOUSE_URL."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port PostgreSQL listens on."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Name of the database (the path of ELT_WAREHOUSE_URL)."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "Master user name (its password is only in the master user secret)."
  value       = aws_db_instance.this.username
}

output "master_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages with the master credentials (ELT_WAREHOUSE_SECRET_ARN)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the instance (ingress on 5432 from the client security group only)."
  value       = aws_security_group.this.id
}

output "instance_arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}
