-- transactions_enriched: each transaction with its amount in USD and its merchant's category
-- The rate is the one for the day the transaction was booked (UTC) in its currency; a missing
-- rate or merchant leaves the column null rather than dropping the transaction.
SELECT
    t.transaction_id,
    t.account_id,
    t.booked_at,
    t.amount,
    t.currency,
    fx.usd_per_unit,
    CAST(ROUND(t.amount * fx.usd_per_unit, 2) AS DECIMAL(18, 2)) AS amount_usd,
    t.merchant,
    m.category AS merchant_category,
    m.country AS merchant_country,
    t.category,
    t.is_refund
FROM silver.transactions AS t
LEFT JOIN ref.fx_rates AS fx
    ON fx.currency = t.currency AND fx.rate_date = CAST(t.booked_at AS DATE)
LEFT JOIN ref.merchants AS m ON m.merchant = t.merchant
ORDER BY t.transaction_id
