import dagster as dg

# end_offset=1: today's partition exists, so arrivals of today show up as they land.
DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1, timezone="UTC")
