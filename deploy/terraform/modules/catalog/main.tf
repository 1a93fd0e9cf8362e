locals {
  # The lineage columns every silver file carries after the contract's columns (DESIGN §3).
  lineage_columns = [
    { name = "_source_key", type = "string" },
    { name = "_source_version", type = "string" },
    { name = "_line", type = "bigint" },
    { name = "_ingested_at", type = "timestamp" },
  ]

  # Gold (DESIGN §9): the models' tables as given, and per dataset with a primary key its
  # `<dataset>_current`, which holds silver rows (the newest per key), so silver's columns.
  gold_tables = merge(
    { for name in var.current_datasets : "${name}_current" => concat(var.datasets[name], local.lineage_columns) },
    var.gold_tables,
  )
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "Silver tables of the ELT pipeline (one per dataset contract)."
}

resource "aws_glue_catalog_table" "this" {
  for_each = var.datasets

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = "Silver rows of the ${each.key} dataset, partitioned by arrival date."
  table_type    = "EXTERNAL_TABLE"

  # Partition projection: Athena computes the dt partitions from the range instead of a crawler
  # or MSCK REPAIR, so a partition is queryable as soon as the transform writes it.
  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "parquet"
    "parquet.compression"         = "ZSTD"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = var.projection_date_range
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "s3://${var.silver_bucket}/silver/${each.key}/dt=$${dt}/"
  }

  partition_keys {
    name    = "dt"
    type    = "string"
    comment = "Arrival date (UTC), YYYY-MM-DD."
  }

  storage_descriptor {
    location      = "s3://${var.silver_bucket}/silver/${each.key}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = concat(each.value, local.lineage_columns)

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# A database of its own: DESIGN §9 names gold tables `gold.<model>` apart from `silver.<dataset>`,
# and a model may share a dataset's name.
resource "aws_glue_catalog_database" "gold" {
  name        = var.gold_database_name
  description = "Gold tables of the ELT pipeline (one per SQL model and per <dataset>_current)."
}

# Each gold model writes ONE Parquet file per day, gold/<name>/dt=<D>/part-0.parquet, in the
# silver bucket; projected partitions as for silver.
resource "aws_glue_catalog_table" "gold" {
  for_each = local.gold_tables

  name          = each.key
  database_name = aws_glue_catalog_database.gold.name
  description   = "Gold model ${each.key}, one Parquet file per day."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "EXTERNAL"                    = "TRUE"
    "classification"              = "parquet"
    "parquet.compression"         = "ZSTD"
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = var.projection_date_range
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "storage.location.template"   = "s3://${var.silver_bucket}/gold/${each.key}/dt=$${dt}/"
  }

  partition_keys {
    name    = "dt"
    type    = "string"
    comment = "Partition day (UTC), YYYY-MM-DD."
  }

  storage_descriptor {
    location      = "s3://${var.silver_bucket}/gold/${each.key}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = each.value

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_athena_workgroup" "this" {
  name          = var.workgroup_name
  description   = "Queries over the ELT silver and gold tables; results stay in the silver bucket, encrypted."
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${var.silver_bucket}/athena-results/"

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}
