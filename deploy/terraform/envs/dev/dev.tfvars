# Development environment. No account ids or secrets here: the account is whatever the AWS
# credentials in use belong to, and bucket names add it at apply time.
region        = "eu-west-1"
name_prefix   = "elt-dev"
force_destroy = true

lambda_runtime      = "python3.12" # AL2023: the locked pyarrow and numpy wheels need glibc >= 2.28
lambda_architecture = "x86_64"

ingest_timeout_seconds    = 30
transform_timeout_seconds = 120
# At least 6 x transform_timeout_seconds (a test and a precondition check it).
queue_visibility_timeout_seconds = 720
max_receive_count                = 5
queue_retention_seconds          = 345600
dlq_retention_seconds            = 1209600

transform_batch_size              = 10
transform_batching_window_seconds = 5
transform_max_concurrency         = 5

alarm_email_addresses = []

# The warehouse needs a VPC this repository does not manage. Until the ids below are set to real
# ones, plan stops at the warehouse module's input validation; set warehouse_enabled = false to
# plan the rest without it.
warehouse_enabled = true
# warehouse_vpc_id                   = "vpc-..."
# warehouse_subnet_ids               = ["subnet-...", "subnet-..."]
# warehouse_client_security_group_id = "sg-..." # the Dagster tasks' security group
warehouse_multi_az = false # dev: one AZ; production keeps the default (true)

tags = {
  Owner = "data-platform"
}
