-- shipment_status: each shipment of the last seven days with its latest tracking event
-- window: 7d
-- Scans of a shipment arrive over days, so both sides read the week up to the partition's day.
WITH scans AS (
    SELECT
        shipment_id,
        status,
        location,
        event_time,
        ROW_NUMBER() OVER (
            PARTITION BY shipment_id ORDER BY event_time DESC, event_id DESC
        ) AS newest
    FROM silver.tracking_events
),
latest AS (
    SELECT shipment_id, status, location, event_time FROM scans WHERE newest = 1
),
created AS (
    SELECT
        shipment_id,
        carrier,
        origin,
        destination,
        event_time,
        ROW_NUMBER() OVER (
            PARTITION BY shipment_id ORDER BY _ingested_at DESC, _line DESC
        ) AS newest
    FROM silver.shipments
)
SELECT
    c.shipment_id,
    c.carrier,
    c.origin,
    c.destination,
    c.event_time AS created_at,
    l.status AS last_status,
    l.location AS last_location,
    l.event_time AS last_event_at
FROM created AS c
LEFT JOIN latest AS l ON l.shipment_id = c.shipment_id
WHERE c.newest = 1
ORDER BY c.shipment_id
