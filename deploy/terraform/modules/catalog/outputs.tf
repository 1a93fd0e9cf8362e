output "database_name" {
  description = "Name of the Glue database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Glue table of each dataset."
  value       = { for k, t in aws_glue_catalog_table.this : k => t.name }
}

output "workgroup_name" {
  description = "Name of the Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "gold_database_name" {
  description = "Name of the Glue database of the gold tables."
  value       = aws_glue_catalog_database.gold.name
}

output "gold_table_names" {
  description = "Glue table of each gold model and <dataset>_current."
  value       = { for k, t in aws_glue_catalog_table.gold : k => t.name }
}
