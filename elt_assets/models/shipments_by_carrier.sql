-- shipments_by_carrier: shipments and weight per carrier and day
SELECT carrier, count(*) AS shipments, sum(weight_kg) AS total_kg
FROM silver.shipments
GROUP BY carrier
ORDER BY carrier
