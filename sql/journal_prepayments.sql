-- journal_prepayments: revenue on delivery, the VAT-free legs of one payment day's prepaid lines, under
-- the mapping version that payment day is posted with (docs/revenue-on-delivery.md).
-- leg_sign 1, the deferral (on the payment day): debit T, credit customer_prepayments;
-- leg_sign -1, the release (on the service date): debit customer_prepayments, credit T.
-- T is revenue_deferral when the mapping has it, else the line's sales account (product > category > rate).
-- The amount is the line's net (gross less BookSpot's VAT), in øre; refunds flip every sign. Lines of
-- completed transactions whose service date is after the payment day and from service_from to service_to
-- (inclusive); gift card lines never (they are a liability already). One row per leg, as journal_lines,
-- with the sale's VAT rate (the leg itself carries none).
-- Parameters: tenant_id, payment_date, service_from, service_to, mapping_version_id, leg_sign (by name).
WITH tx AS (
    SELECT t.transaction_id,
           t.payment_method,
           CASE WHEN t.kind = 'refund' THEN -1 ELSE 1 END AS sign
    FROM transactions t
    WHERE t.tenant_id = :tenant_id
      AND t.local_date = :payment_date
      AND t.status = 'completed'
),
day_lines AS MATERIALIZED (
    -- the payment day's lines first (by primary key), their service dates after: an index on service
    -- date would otherwise walk every later line once per transaction of the day
    SELECT tx.transaction_id,
           l.line_no,
           tx.payment_method,
           tx.sign,
           l.product_id,
           l.category,
           l.vat_rate,
           l.gross_ore,
           l.vat_ore,
           l.service_date
    FROM tx
    JOIN transaction_lines l
      ON l.tenant_id = :tenant_id AND l.transaction_id = tx.transaction_id
    WHERE l.category <> 'gift_card'
),
prepaid AS (
    SELECT l.transaction_id,
           l.line_no,
           l.payment_method,
           l.vat_rate,
           l.sign * (l.gross_ore - l.vat_ore) AS net_ore,
           COALESCE(d.account_type, p.account_type, c.account_type, 'sales.' || l.vat_rate) AS revenue_type
    FROM day_lines l
    LEFT JOIN mapping_accounts d
      ON d.mapping_version_id = :mapping_version_id AND d.account_type = 'revenue_deferral'
    LEFT JOIN mapping_accounts p
      ON p.mapping_version_id = :mapping_version_id AND p.account_type = 'product.' || l.product_id
    LEFT JOIN mapping_accounts c
      ON c.mapping_version_id = :mapping_version_id AND c.account_type = 'category.' || l.category
    WHERE l.service_date > :payment_date
      AND l.service_date >= :service_from
      AND l.service_date <= :service_to
),
entries AS (
    SELECT transaction_id, line_no, revenue_type AS account_type,
           CAST(:leg_sign AS INTEGER) * net_ore AS amount_ore, payment_method, vat_rate
    FROM prepaid

    UNION ALL

    SELECT transaction_id, line_no, 'customer_prepayments',
           -CAST(:leg_sign AS INTEGER) * net_ore, payment_method, vat_rate
    FROM prepaid
)
SELECT e.transaction_id,
       e.line_no,
       CASE WHEN CAST(:leg_sign AS INTEGER) = 1 THEN 'deferral' ELSE 'release' END AS entry,
       e.account_type,
       CAST(NULL AS VARCHAR(8)) AS vat_rate,
       e.amount_ore,
       0 AS vat_ore,
       e.payment_method,
       m.account_number,
       e.vat_rate AS sale_vat_rate
FROM entries e
LEFT JOIN mapping_accounts m
  ON m.mapping_version_id = :mapping_version_id AND m.account_type = e.account_type
ORDER BY e.transaction_id, e.line_no, e.account_type
